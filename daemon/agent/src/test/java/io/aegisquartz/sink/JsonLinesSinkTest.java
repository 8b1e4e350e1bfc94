package io.aegisquartz.sink;

import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Sample;
import io.aegisquartz.sample.SampleStamper;
import io.aegisquartz.sample.Status;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The samples file: whole lines, size rotation, and losses that are counted rather than silent. */
class JsonLinesSinkTest {

    @TempDir
    Path dir;

    private static List<Sample> run(int n, String metric) {
        List<Measurement> ms = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            ms.add(Measurement.status(System.currentTimeMillis(), metric, Status.OK, "sample " + i));
        }
        return new SampleStamper("u", "h").stamp("job", "user/p.sh", ms, 1_000_000, 500_000, false);
    }

    private static List<String> lines(Path f) throws Exception {
        return Files.exists(f) ? Files.readAllLines(f) : List.of();
    }

    @Test
    void rotatesBySizeAndKeepsTheConfiguredNumberOfFiles() throws Exception {
        Path file = dir.resolve("samples.jsonl");
        // Metric names of equal width, so every line has the same length.
        int lineBytes = run(1, "m00").stream().map(s -> io.aegisquartz.sample.SampleJson.toJson(s).length() + 1).findFirst().orElseThrow();
        JsonLinesSink sink = new JsonLinesSink(file, 10L * lineBytes, 2);
        for (int i = 0; i < 45; i++) {
            sink.write(run(1, String.format("m%02d", i)));
        }
        sink.close();

        // 10 lines per file: 45 lines end as m40-m44 in the file, m30-m39 in .1, m20-m29 in .2; older ones rotated away.
        assertEquals(5, lines(file).size());
        assertEquals(10, lines(dir.resolve("samples.jsonl.1")).size());
        assertEquals(10, lines(dir.resolve("samples.jsonl.2")).size());
        assertFalse(Files.exists(dir.resolve("samples.jsonl.3")));
        assertTrue(lines(dir.resolve("samples.jsonl.2")).get(0).contains("\"metric\":\"m20\""), lines(dir.resolve("samples.jsonl.2")).get(0));
        assertTrue(lines(file).get(4).contains("\"metric\":\"m44\""));
    }

    @Test
    void samplesThatCannotBeWrittenAreCountedAndWritingResumesWhenPossible() throws Exception {
        // A file where the directory should be: every write fails with an I/O error, even for root.
        Path blocker = dir.resolve("log");
        Files.writeString(blocker, "not a directory");
        Path file = blocker.resolve("samples.jsonl");
        JsonLinesSink sink = new JsonLinesSink(file, 1 << 20, 2);

        sink.write(run(3, "a"));
        sink.write(run(2, "b"));
        assertEquals(5, sink.lost());

        Files.delete(blocker);
        sink.write(run(4, "c"));
        sink.close();
        assertEquals(5, sink.lost(), "nothing more lost once the directory can be created");
        assertEquals(4, lines(file).size());
    }

    @Test
    void aLineCutShortByAFailedWriteIsTerminatedBeforeTheNextOne() throws Exception {
        Path file = dir.resolve("samples.jsonl");
        Files.writeString(file, "{\"id\":\"cut-off-by-a-full-disk");
        JsonLinesSink sink = new JsonLinesSink(file, 1 << 20, 2);
        sink.write(run(1, "after"));
        sink.close();

        List<String> l = lines(file);
        assertEquals(2, l.size());
        assertTrue(l.get(1).startsWith("{\"id\":\"") && l.get(1).endsWith("}"), l.get(1));
    }
}
