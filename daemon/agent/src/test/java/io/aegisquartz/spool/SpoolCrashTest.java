package io.aegisquartz.spool;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
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

            try (Spool spool = SpoolTesting.open(dir, SpoolConfig.defaults().withSegmentBytes(64 << 10))) {
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

    /**
     * kill -9 while two outputs read at different speeds and the cap drops what the slow one has not
     * read: for each output, after every restart, an acknowledged record is never read again, and
     * every durable record is either acknowledged, read again, or counted as dropped; the count is
     * exact but for the one batch whose acknowledgement may have become durable just before the kill,
     * unseen by the test.
     */
    @Test
    @Timeout(180)
    void everyRecordIsDeliveredReadAgainOrCountedExactlyForEachOutputAcrossKillMinusNine() throws Exception {
        String java = ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        Map<String, BitSet> acked = new HashMap<>();
        BitSet durable = new BitSet();
        BitSet appended = new BitSet(); // every number a child appended: each life's range, from its first to the highest seen
        int next = 0;
        for (int cycle = 0; cycle < 3; cycle++) {
            Process child = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                    SpoolCursorCrashChild.class.getName(), dir.toString(), Integer.toString(next))
                    .redirectError(ProcessBuilder.Redirect.DISCARD).start();
            int seen = 0;
            try (BufferedReader in = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                // Kill at the 20,000th durable record, then read to the end: what the child printed
                // before it died (acknowledgements included) is still in the pipe, and must count.
                while ((line = in.readLine()) != null) {
                    if (seen >= 20_000 && child.isAlive()) {
                        child.toHandle().destroyForcibly(); // the handle's kill leaves the pipe open (Process.destroy closes it)
                    }
                    String[] f = line.split(" ");
                    if (f[0].equals("D") && f.length == 2) {
                        durable.set(Integer.parseInt(f[1]));
                        seen++;
                    } else if (f[0].equals("A") && f.length == 4) {
                        acked.computeIfAbsent(f[1], k -> new BitSet()).set(Integer.parseInt(f[2]), Integer.parseInt(f[3]) + 1);
                    }
                }
            } finally {
                child.destroyForcibly();
                assertTrue(child.waitFor(10, TimeUnit.SECONDS));
            }
            assertTrue(seen >= 20_000, "child stopped early (exit " + child.exitValue() + ")");

            int max = 0;
            try (Spool spool = Spool.open(dir, SpoolConfig.forLimits(1 << 20, 0), List.of("a", "b"), null)) {
                Map<String, BitSet> reread = new HashMap<>();
                for (String c : List.of("a", "b")) {
                    BitSet r = new BitSet();
                    for (int n : SpoolTesting.readAll(spool.cursor(c), false)) {
                        r.set(n);
                    }
                    reread.put(c, r);
                    max = Math.max(max, r.length());
                }
                max = Math.max(max, durable.length());
                for (BitSet a : acked.values()) {
                    max = Math.max(max, a.length());
                }
                appended.set(next, max);
                for (String c : List.of("a", "b")) {
                    BitSet a = acked.getOrDefault(c, new BitSet());
                    BitSet r = reread.get(c);
                    BitSet both = (BitSet) a.clone();
                    both.and(r);
                    assertTrue(both.isEmpty(), "cycle " + cycle + ", " + c + ": acknowledged records read again: " + both);
                    BitSet unaccounted = (BitSet) appended.clone();
                    unaccounted.andNot(a);
                    unaccounted.andNot(r);
                    long dropped = spool.cursor(c).stats().dropped();
                    // Unaccounted = dropped, plus at most one batch per life acknowledged just before the kill.
                    assertTrue(dropped <= unaccounted.cardinality(), "cycle " + cycle + ", " + c + ": " + dropped
                            + " counted as dropped, but only " + unaccounted.cardinality() + " records are neither delivered nor kept");
                    assertTrue(unaccounted.cardinality() - dropped <= (long) SpoolCursorCrashChild.BATCH * (cycle + 1), "cycle "
                            + cycle + ", " + c + ": " + (unaccounted.cardinality() - dropped) + " records lost without a count");
                }
                assertTrue(spool.cursor("b").stats().dropped() > 0, "the slow output lost records to the cap (else this tests nothing)");
            }
            next = max + 1_000_000;
        }
    }
}
