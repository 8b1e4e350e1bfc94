package io.aegisquartz.alert;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Writers of the silences file at the same instant lose nothing: three processes and four threads of
 * this one, released together, each add their silences one update at a time, and the file ends with
 * every one of them.
 */
class SilencesLockTest {

    private static final int PROCESSES = 3;
    private static final int THREADS = 4;
    private static final int EACH = 15;

    @TempDir
    Path dir;

    @Test
    void concurrentWritersFromProcessesAndThreadsLoseNoSilence() throws Exception {
        Path file = dir.resolve("alerts/silences.json");
        Path go = dir.resolve("go");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<Process> children = new ArrayList<>();
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        try {
            for (int p = 0; p < PROCESSES; p++) {
                children.add(new ProcessBuilder(java, "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
                        SilencesWriterChild.class.getName(), file.toString(), go.toString(), "process" + p, String.valueOf(EACH))
                        .redirectErrorStream(true).redirectOutput(dir.resolve("child" + p + ".log").toFile()).start());
            }
            CountDownLatch start = new CountDownLatch(1);
            List<Future<?>> threads = new ArrayList<>();
            Silences silences = new Silences(file);
            for (int t = 0; t < THREADS; t++) {
                String prefix = "thread" + t;
                threads.add(pool.submit(() -> {
                    start.await();
                    SilencesWriterChild.add(silences, prefix, EACH);
                    return null;
                }));
            }
            Files.createFile(go);
            start.countDown();
            for (Future<?> f : threads) {
                f.get(120, TimeUnit.SECONDS);
            }
            for (int p = 0; p < PROCESSES; p++) {
                assertTrue(children.get(p).waitFor(120, TimeUnit.SECONDS), "writer process " + p + " ends");
                assertEquals(0, children.get(p).exitValue(), Files.readString(dir.resolve("child" + p + ".log")));
            }
            Set<String> jobs = new TreeSet<>();
            silences.read().forEach(s -> jobs.add(s.job()));
            Set<String> expected = new TreeSet<>();
            for (int i = 0; i < EACH; i++) {
                for (int p = 0; p < PROCESSES; p++) {
                    expected.add("process" + p + "-" + i);
                }
                for (int t = 0; t < THREADS; t++) {
                    expected.add("thread" + t + "-" + i);
                }
            }
            assertEquals(expected, jobs, "every silence of every writer, none lost");
            try (var files = Files.list(file.getParent())) {
                assertEquals(List.of(), files.filter(f -> f.getFileName().toString().endsWith(".tmp")).toList(), "no temporary file left");
            }
        } finally {
            pool.shutdownNow();
            children.forEach(Process::destroyForcibly);
        }
    }
}
