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
import io.aegisquartz.spool.SpoolRecord;
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
        AtomicInteger wakeUps = new AtomicInteger();
        // Tiny segments and cap, so the cap is reached quickly and whole old segments go.
        try (Spool spool = Spool.open(dir, SpoolConfig.defaults().withSegmentBytes(4096).withMaxBytes(16 * 1024).withMinFreeBytes(0))) {
            SpoolSink sink = new SpoolSink(spool, st, records -> wakeUps.incrementAndGet());
            int written = 0;
            for (int i = 0; i < 40; i++) {
                sink.write(run(st, 5));
                written += 5;
            }
            assertEquals(40, wakeUps.get(), "the uploader is woken after every run");

            long dropped = spool.stats().dropped();
            assertTrue(dropped > 0, "the cap was reached");
            List<JsonNode> all = new ArrayList<>();
            ObjectMapper json = new ObjectMapper();
            SpoolBatch b;
            while (!(b = spool.read(1000, Long.MAX_VALUE)).isEmpty()) {
                for (SpoolRecord r : b.records()) {
                    all.add(json.readTree(r.payload()));
                }
                spool.ack(b.end());
            }
            List<JsonNode> drops = all.stream().filter(n -> n.get("status").asText().equals("dropped")).toList();
            long kept = all.stream().filter(n -> n.get("status").asText().equals("ok")).count();
            // An early 'dropped' sample may itself be dropped later; the last one's running total is exact.
            JsonNode last = drops.get(drops.size() - 1);
            assertEquals(dropped, last.get("values").get("total").asLong());
            long droppedRecords = written + drops.size() - all.size();
            assertTrue(droppedRecords <= dropped && written - kept <= dropped,
                    "the total accounts for every sample that did not survive: " + (written - kept) + " <= " + dropped);
            JsonNode d = drops.get(0);
            assertEquals("size_cap", d.get("tags").get("reason").asText());
            assertEquals("agent/spool", d.get("job").asText());
            assertTrue(d.get("message").asText().contains("[spool] max_size"), d.toString());
        }
    }
}
