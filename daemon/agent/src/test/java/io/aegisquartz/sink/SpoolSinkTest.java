package io.aegisquartz.sink;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Sample;
import io.aegisquartz.sample.SampleStamper;
import io.aegisquartz.sample.Status;
import io.aegisquartz.spool.Spool;
import io.aegisquartz.spool.SpoolBatch;
import io.aegisquartz.spool.SpoolConfig;
import io.aegisquartz.spool.SpoolCursor;
import io.aegisquartz.spool.DropReport;
import io.aegisquartz.output.DroppedSamples;
import io.aegisquartz.sample.SampleJson;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Samples into the spool; what the spool drops at its cap comes back as one 'dropped' sample with the count. */
class SpoolSinkTest {

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
            SpoolSink sink = new SpoolSink(spool);
            int written = 0;
            for (int i = 0; i < 40; i++) {
                sink.write(run(st, 5));
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
}
