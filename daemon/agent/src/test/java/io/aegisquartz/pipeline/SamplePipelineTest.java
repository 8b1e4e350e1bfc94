package io.aegisquartz.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.aegisquartz.output.DroppedSamples;
import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Sample;
import io.aegisquartz.sample.SampleJson;
import io.aegisquartz.sample.SampleStamper;
import io.aegisquartz.sample.Status;
import io.aegisquartz.spool.DropReport;
import io.aegisquartz.spool.Spool;
import io.aegisquartz.spool.SpoolBatch;
import io.aegisquartz.spool.SpoolConfig;
import io.aegisquartz.spool.SpoolCursor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The write path: stamp, append durably, then the taps; concurrent runs share fsyncs; drops are counted per output. */
class SamplePipelineTest {

    @TempDir
    Path dir;

    private static List<Sample> run(SampleStamper st, int n) {
        List<Measurement> ms = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            ms.add(new Measurement(System.currentTimeMillis(), "m", Status.OK, null, Map.of("i", (double) i), Map.of(), Map.of()));
        }
        return st.stamp("job", "user/p.sh", ms, 1, 1, false);
    }

    @Test
    void droppedSamplesAreCountedExactlyInADroppedSample() throws Exception {
        SampleStamper st = new SampleStamper("u", "h");
        // Tiny segments and cap, so the cap is reached quickly and whole old segments go.
        SpoolConfig config = SpoolConfig.defaults().withSegmentBytes(4096).withMaxBytes(16 * 1024).withMinFreeBytes(0);
        try (Spool spool = Spool.open(dir, config, List.of("out"), null)) {
            SamplePipeline pipeline = new SamplePipeline(spool, List.of());
            int written = 0;
            for (int i = 0; i < 40; i++) {
                assertTrue(pipeline.write(run(st, 5)));
                written += 5;
            }

            SpoolCursor cursor = spool.cursor("out");
            List<DropReport> reports = cursor.takeDrops();
            assertEquals(1, reports.size(), "one report, merged, for drops nobody has reported yet: " + reports);
            long dropped = reports.get(0).count();
            assertTrue(dropped > 0, "the cap was reached");
            long kept = 0;
            SpoolBatch b;
            while (!(b = cursor.read(1000, Long.MAX_VALUE)).isEmpty()) {
                kept += b.size();
                cursor.ack(b.end());
            }
            assertEquals(written, kept + dropped, "every sample is either still there or counted as dropped, exactly");
            assertEquals(dropped, cursor.stats().dropped());

            JsonNode d = new ObjectMapper().readTree(SampleJson.toJson(DroppedSamples.of(reports.get(0), "out", "u", "h")));
            assertEquals("dropped", d.get("status").asText());
            assertEquals("size_cap", d.get("tags").get("reason").asText());
            assertEquals("out", d.get("tags").get("output").asText());
            assertEquals("agent/spool", d.get("job").asText());
            assertEquals(dropped, d.get("values").get("count").asLong());
            assertEquals(dropped, d.get("values").get("total").asLong());
            assertTrue(d.get("message").asText().contains("[spool] max_size"), d.toString());
            assertEquals(d.get("id").asText(), new ObjectMapper().readTree(SampleJson.toJson(
                    DroppedSamples.of(reports.get(0), "out", "u", "h"))).get("id").asText(), "the same report is the same sample");
        }
    }

    @Test
    void concurrentRunsShareFsyncs() throws Exception {
        SampleStamper st = new SampleStamper("u", "h");
        int threads = 8;
        int runs = 25;
        try (Spool spool = Spool.open(dir, SpoolConfig.defaults().withFreeSpace(() -> Long.MAX_VALUE / 2), List.of("out"), null)) {
            SamplePipeline pipeline = new SamplePipeline(spool, List.of());
            CyclicBarrier start = new CyclicBarrier(threads);
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            List<Future<?>> fs = new ArrayList<>();
            long forces0 = spool.forceCount();
            for (int t = 0; t < threads; t++) {
                fs.add(pool.submit(() -> {
                    start.await();
                    for (int i = 0; i < runs; i++) {
                        assertTrue(pipeline.write(run(st, 3)));
                    }
                    return null;
                }));
            }
            for (Future<?> f : fs) {
                f.get();
            }
            pool.shutdown();
            long forces = spool.forceCount() - forces0;
            // One lock around the append (as SpoolSink's 'synchronized' was) gives exactly one fsync per run.
            assertTrue(forces < threads * runs, forces + " fsyncs for " + threads * runs + " runs: runs did not share them");
            assertEquals(threads * runs * 3, spool.cursor("out").stats().pendingRecords());
        }
    }

    @Test
    void tapsSeeARunOnlyOnceItIsDurableAndAFailingTapStopsNothing() throws Exception {
        SampleStamper st = new SampleStamper("u", "h");
        try (Spool spool = Spool.open(dir, SpoolConfig.defaults(), List.of("out"), null)) {
            List<Long> pendingWhenTapped = new CopyOnWriteArrayList<>();
            List<Integer> seen = new CopyOnWriteArrayList<>();
            SampleTap broken = samples -> {
                throw new IllegalStateException("a tap with a bug");
            };
            SampleTap watching = samples -> {
                pendingWhenTapped.add(spool.cursor("out").stats().pendingRecords());
                seen.add(samples.size());
            };
            SamplePipeline pipeline = new SamplePipeline(spool, List.of(broken, watching));
            assertTrue(pipeline.write(run(st, 4)));
            assertTrue(pipeline.write(run(st, 2)));
            assertEquals(List.of(4, 2), seen);
            assertEquals(List.of(4L, 6L), pendingWhenTapped, "already in the spool when the tap ran");
        }
    }

    @Test
    void aSampleTooLargeForTheSpoolBecomesAnErrorSampleAndTheRestOfTheRunIsKept() throws Exception {
        SampleStamper st = new SampleStamper("u", "h");
        try (Spool spool = Spool.open(dir, SpoolConfig.forLimits(1 << 20, 0), List.of("out"), null)) {
            SamplePipeline pipeline = new SamplePipeline(spool, List.of());
            List<Measurement> ms = List.of(
                    new Measurement(1000, "small", Status.OK, null, Map.of("v", 1.0), Map.of(), Map.of()),
                    new Measurement(1000, "huge", Status.OK, "x".repeat(200_000), Map.of(), Map.of(), Map.of()));
            assertTrue(pipeline.write(st.stamp("job", "user/p.sh", ms, 1, 1, false)));
            List<JsonNode> stored = new ArrayList<>();
            for (var r : spool.cursor("out").read(10, Long.MAX_VALUE).records()) {
                stored.add(new ObjectMapper().readTree(r.payload()));
            }
            assertEquals(2, stored.size());
            assertEquals("ok", stored.get(0).get("status").asText());
            assertEquals("huge", stored.get(1).get("metric").asText());
            assertEquals("error", stored.get(1).get("status").asText());
            assertTrue(stored.get(1).get("message").asText().contains("larger than the spool's record limit"), stored.get(1).toString());
        }
    }
}
