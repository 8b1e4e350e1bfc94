package io.aegisquartz.spool;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** kill -9 in the middle of appending: everything reported durable survives. */
class SpoolCrashTest {

    @TempDir
    Path dir;

    @Test
    @Timeout(60)
    void recordsReportedDurableSurviveKillMinusNine() throws Exception {
        String java = ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        Random random = new Random(42);
        for (int cycle = 0; cycle < 10; cycle++) {
            int start = cycle * 10_000_000;
            Process child = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                    SpoolCrashChild.class.getName(), dir.toString(), Integer.toString(start))
                    .redirectError(ProcessBuilder.Redirect.DISCARD)
                    .start();
            Set<Integer> durable = new HashSet<>();
            int killAfter = 200 + random.nextInt(3000);
            try (BufferedReader in = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while (durable.size() < killAfter && (line = in.readLine()) != null) {
                    if (line.startsWith("D ")) {
                        durable.add(Integer.parseInt(line.substring(2)));
                    }
                }
            } finally {
                // Also when the test fails or times out: no child outlives it.
                child.destroyForcibly();
                assertTrue(child.waitFor(10, TimeUnit.SECONDS));
            }
            assertEquals(killAfter, durable.size(), "child stopped early (exit " + child.exitValue() + ")");

            try (Spool spool = Spool.open(dir, SpoolConfig.defaults().withSegmentBytes(64 << 10))) {
                RecoveryReport report = spool.recoveryReport();
                assertNotNull(report);
                // Every other cycle acknowledges everything, so both fresh and carried-over data are checked.
                List<Integer> present = SpoolTesting.readAll(spool, cycle % 2 == 1);
                Set<Integer> all = new HashSet<>(present);
                assertEquals(present.size(), all.size(), "no record twice within one read");
                for (int n : durable) {
                    assertTrue(all.contains(n), "cycle " + cycle + ": durable record " + n + " lost; " + report.summary());
                }
            }
        }
    }
}
