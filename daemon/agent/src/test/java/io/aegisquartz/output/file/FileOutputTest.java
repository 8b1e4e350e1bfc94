package io.aegisquartz.output.file;

import io.aegisquartz.output.DeadLetters;
import io.aegisquartz.output.Item;
import io.aegisquartz.output.OutputWorker;
import io.aegisquartz.output.SendResult;
import io.aegisquartz.output.WorkerConfig;
import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Sample;
import io.aegisquartz.sample.SampleJson;
import io.aegisquartz.sample.SampleStamper;
import io.aegisquartz.sample.Status;
import io.aegisquartz.spool.Spool;
import io.aegisquartz.spool.SpoolConfig;
import io.aegisquartz.util.ExponentialBackoff;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The samples file as an output: whole lines, size rotation, and a failing disk that loses nothing. */
class FileOutputTest {

    @TempDir
    Path dir;

    private static List<Sample> run(int n, String metric) {
        List<Measurement> ms = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            ms.add(Measurement.status(System.currentTimeMillis(), metric, Status.OK, "sample " + i));
        }
        return new SampleStamper("u", "h").stamp("job", "user/p.sh", ms, 1_000_000, 500_000, false);
    }

    private static List<Item> items(List<Sample> samples) {
        return samples.stream().map(s -> new Item(SampleJson.toJson(s).getBytes(StandardCharsets.UTF_8), 0, null)).toList();
    }

    private static List<String> lines(Path f) throws Exception {
        return Files.exists(f) ? Files.readAllLines(f) : List.of();
    }

    @Test
    void rotatesBySizeAndKeepsTheConfiguredNumberOfFiles() throws Exception {
        Path file = dir.resolve("samples.jsonl");
        // Metric names of equal width, so every line has the same length.
        int lineBytes = run(1, "m00").stream().map(s -> SampleJson.toJson(s).length() + 1).findFirst().orElseThrow();
        try (FileOutput out = new FileOutput("file", file, 10L * lineBytes, 2)) {
            for (int i = 0; i < 45; i++) {
                out.send(out.encode(items(run(1, String.format("m%02d", i)))));
            }
        }

        // 10 lines per file: 45 lines end as m40-m44 in the file, m30-m39 in .1, m20-m29 in .2; older ones rotated away.
        assertEquals(5, lines(file).size());
        assertEquals(10, lines(dir.resolve("samples.jsonl.1")).size());
        assertEquals(10, lines(dir.resolve("samples.jsonl.2")).size());
        assertFalse(Files.exists(dir.resolve("samples.jsonl.3")));
        assertTrue(lines(dir.resolve("samples.jsonl.2")).get(0).contains("\"metric\":\"m20\""), lines(dir.resolve("samples.jsonl.2")).get(0));
        assertTrue(lines(file).get(4).contains("\"metric\":\"m44\""));
    }

    @Test
    void aFailedWriteThrowsSoTheWorkerRetriesAndWritingResumesWhenPossible() throws Exception {
        // A file where the directory should be: every write fails with an I/O error, even for root.
        Path blocker = dir.resolve("log");
        Files.writeString(blocker, "not a directory");
        Path file = blocker.resolve("samples.jsonl");
        try (FileOutput out = new FileOutput("file", file, 1 << 20, 2)) {
            assertThrows(java.io.IOException.class, () -> out.send(out.encode(items(run(3, "a")))));
            Files.delete(blocker);
            assertInstanceOf(SendResult.Accepted.class, out.send(out.encode(items(run(4, "c")))));
        }
        assertEquals(4, lines(file).size());
    }

    @Test
    void aLineCutShortByAFailedWriteIsTerminatedBeforeTheNextOne() throws Exception {
        Path file = dir.resolve("samples.jsonl");
        Files.writeString(file, "{\"id\":\"cut-off-by-a-full-disk");
        try (FileOutput out = new FileOutput("file", file, 1 << 20, 2)) {
            out.send(out.encode(items(run(1, "after"))));
        }
        List<String> l = lines(file);
        assertEquals(2, l.size());
        assertTrue(l.get(1).startsWith("{\"id\":\"") && l.get(1).endsWith("}"), l.get(1));
    }

    @Test
    void whileTheDiskFailsSamplesWaitInTheSpoolAndAllArriveOnceItWorks() throws Exception {
        Path blocker = dir.resolve("log");
        Files.writeString(blocker, "not a directory");
        Path file = blocker.resolve("samples.jsonl");
        SampleStamper host = new SampleStamper("u", "h");
        WorkerConfig c = new WorkerConfig(1000, 1 << 20, 1_000_000, ExponentialBackoff.jittered(Duration.ofMillis(50),
                Duration.ofMillis(200)), Duration.ZERO, false);
        try (Spool spool = Spool.open(dir.resolve("spool"), SpoolConfig.defaults(), List.of("file"), null);
             OutputWorker<byte[]> w = new OutputWorker<>(new FileOutput("file", file, 1 << 20, 2), spool.cursor("file"), c,
                     new DeadLetters(dir.resolve("dl.jsonl"), "file"), host).start()) {
            for (int i = 0; i < 5; i++) {
                List<byte[]> records = new ArrayList<>();
                for (Sample s : run(3, "m" + i)) {
                    records.add(SampleJson.toJson(s).getBytes(StandardCharsets.UTF_8));
                }
                spool.append(records);
            }
            await().atMost(Duration.ofSeconds(30)).until(() -> w.state().failing());
            assertEquals(15, w.state().pendingSamples(), "kept, not lost");
            Files.delete(blocker);
            await().atMost(Duration.ofSeconds(30)).until(() -> w.state().pendingSamples() == 0);
            assertFalse(w.state().failing());
        }
        assertEquals(15, lines(file).size());
    }
}
