package io.aegisquartz.output.aegis;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.aegisquartz.receive.Receiver;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * kill -9 of the writing and uploading process, again and again: every sample that was durable is
 * delivered, each stored once, and duplicates stay within the at-least-once window (what was in
 * flight when the process died).
 */
class DeliveryCrashTest {

    static final int CYCLES = 30;

    @TempDir
    Path dir;

    private final java.util.List<Process> started = new java.util.ArrayList<>();

    /** Whatever happens in the test, no child it started outlives it. */
    @org.junit.jupiter.api.AfterEach
    void killWhatWeStarted() {
        started.forEach(Process::destroyForcibly);
    }

    @Test
    void killNineWhileWritingAndUploadingLosesNothing() throws Exception {
        String secret = "crash-test-secret";
        Path out = dir.resolve("received.jsonl");
        try (Receiver receiver = Receiver.start(new Receiver.Config().listen(new InetSocketAddress("127.0.0.1", 0)).out(out)
                .stateDir(dir.resolve("receiver")).credentials(List.of(Credentials.of("AKID-crash", secret, null))))) {
            String endpoint = "https://127.0.0.1:" + receiver.address().getPort() + Receiver.PATH;
            String pem = receiver.certificatePem().toString();
            Set<String> durable = new HashSet<>();
            for (int cycle = 0; cycle < CYCLES; cycle++) {
                Path log = dir.resolve("child-" + cycle + ".out");
                Process child = child(log, endpoint, pem, secret, 1_000_000_000L * (cycle + 1), "write");
                int before = durable.size();
                // Let it write and upload for a while: until a few hundred samples are durable.
                await().atMost(Duration.ofSeconds(30)).until(() -> durableIn(log).size() >= 300);
                child.destroyForcibly();
                assertTrue(child.waitFor(10, TimeUnit.SECONDS));
                durable.addAll(durableIn(log));
                assertTrue(durable.size() > before);
            }
            Process drain = child(dir.resolve("drain.out"), endpoint, pem, secret, 0, "drain");
            await().atMost(Duration.ofSeconds(60)).until(() -> stored(out).keySet().containsAll(durable));
            drain.destroy();
            assertTrue(drain.waitFor(30, TimeUnit.SECONDS));

            Map<String, Integer> stored = stored(out);
            Set<String> missing = new HashSet<>(durable);
            missing.removeAll(stored.keySet());
            assertEquals(Set.of(), missing, "every durable sample was delivered");
            assertTrue(stored.values().stream().allMatch(c -> c == 1), "each stored once");
            // Re-sent after a kill: at most the batch in flight per kill.
            long duplicates = receiver.stats().duplicateSamples();
            assertTrue(duplicates <= (long) DeliveryCrashChild.BATCH * CYCLES, "duplicates within the at-least-once window: " + duplicates);
        }
    }

    private Process child(Path log, String endpoint, String pem, String secret, long first, String mode) throws IOException {
        String java = ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        Process p = new ProcessBuilder(java, "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
                DeliveryCrashChild.class.getName(), dir.resolve("spool").toString(), endpoint, pem, "AKID-crash", secret,
                Long.toString(first), mode)
                .redirectOutput(log.toFile()).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        started.add(p);
        return p;
    }

    /** Sample id to how often the receiver stored it (whole lines only: it may be writing). */
    private static Map<String, Integer> stored(Path out) throws IOException {
        Map<String, Integer> stored = new HashMap<>();
        ObjectMapper json = new ObjectMapper();
        for (String line : io.aegisquartz.testing.AgentHome.wholeLines(out)) {
            stored.merge(json.readTree(line).get("id").asText(), 1, Integer::sum);
        }
        return stored;
    }

    private static Set<String> durableIn(Path log) {
        // Only whole lines: the kill can cut the last one short ("D crash-10" of "D crash-1000005").
        Set<String> ids = new HashSet<>();
        for (String line : io.aegisquartz.testing.AgentHome.wholeLines(log)) {
            if (line.startsWith("D ")) {
                ids.add(line.substring(2));
            }
        }
        return ids;
    }
}
