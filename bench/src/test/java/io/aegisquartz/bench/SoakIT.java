package io.aegisquartz.bench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The short version of docs/RELIABILITY.md's soak, as CI runs it: bench/soak for 90 s with kills
 * every 10-25 s, receiver outages every 25-40 s and a fault on one request in three, then the drain
 * and the reconciliation, which must find nothing lost and nothing stored twice: a run that a kill
 * interrupted counts only if the next agent reported it (its numbers matched to the report of that
 * run), never as an allowance.
 */
class SoakIT {

    private static final int TAIL_LINES = 80;

    @TempDir
    Path work;

    @Test
    void nothingIsLostOrStoredTwiceThroughKillsOutagesAndFaults() throws Exception {
        Path root = Path.of(System.getProperty("user.dir")).getParent();
        Path report = work.resolve("report.md");
        Path output = work.resolve("soak.out");
        Process p = new ProcessBuilder(root.resolve("bench/soak").toString(), "--duration", "90s", "--kill-every", "10s-25s",
                "--outage-every", "25s-40s", "--outage", "3s-8s", "--fault-every", "3", "--work", work.resolve("run").toString(),
                "--report", report.toString())
                .directory(root.toFile()).redirectErrorStream(true).redirectOutput(output.toFile()).start();
        boolean done = p.waitFor(15, TimeUnit.MINUTES);
        String out = Files.readString(output, StandardCharsets.UTF_8);
        if (!done) {
            p.destroyForcibly();
        }
        assertTrue(done, "bench/soak did not finish in 15 minutes:\n" + out + logTails());
        assertEquals(0, p.exitValue(), out + logTails());
        String text = Files.readString(report, StandardCharsets.UTF_8);
        assertTrue(text.contains("Verdict: PASS"), text);
        assertTrue(text.matches("(?s).*Kills: [1-9].*"), "the run killed the agent: " + text);
        assertTrue(text.matches("(?s).*receiver outages: [1-9].*"), "the receiver had outages: " + text);
        assertTrue(text.contains("| stored twice (under two ids) | 0 | 0 | 0 | 0 | 0 |"), text);
        assertTrue(!text.contains("Faults injected: none"), "faults were injected: " + text);
    }

    /**
     * The last lines of each log of the run (the agent's, the receiver's): the run's folder is a
     * temporary one, gone with the test, so a failure in CI says here what the agent was doing.
     */
    private String logTails() throws IOException {
        StringBuilder sb = new StringBuilder();
        try (Stream<Path> files = Files.walk(work.resolve("run"))) {
            for (Path f : files.filter(f -> f.toString().endsWith(".log") && Files.isRegularFile(f)).sorted().toList()) {
                List<String> lines = Files.readAllLines(f, StandardCharsets.ISO_8859_1);
                sb.append("\n---- last lines of ").append(f).append(" ----\n");
                lines.subList(Math.max(0, lines.size() - TAIL_LINES), lines.size()).forEach(l -> sb.append(l).append('\n'));
            }
        } catch (NoSuchFileException e) {
            sb.append("\n(no run folder: ").append(e.getMessage()).append(')');
        }
        return sb.toString();
    }
}
