package io.aegisquartz.agent;

import io.aegisquartz.testing.AgentHome;
import io.aegisquartz.testing.AgentProcesses;
import io.aegisquartz.testing.StartedProcesses;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A log or samples file moved away or deleted under a running agent (logrotate without copytruncate,
 * an operator's rm) is created again at its path: at once on SIGHUP, and within seconds without one.
 */
class LogReopenIT {

    @TempDir
    Path dir;

    @RegisterExtension
    final StartedProcesses started = new StartedProcesses();

    private Process agent(AgentHome home) throws Exception {
        return AgentProcesses.startTicking(started, home, dir.resolve("agent.out"));
    }

    private static Path log(AgentHome home) {
        return home.home().resolve("log/aegis_quartz.log");
    }

    @Test
    void sighupRecreatesADeletedLogAndSamplesFileAtOnce() throws Exception {
        // The watcher waits for a minute of quiet before acting: within this test only the signal can reopen.
        AgentHome home = new AgentHome(dir.resolve("home"), "[plugins]\nreload_delay = 1m\n");
        Process p = agent(home);
        Files.delete(log(home));
        Files.move(home.samplesFile(), home.samplesFile().resolveSibling("samples.jsonl-20261205"));

        signal(p, "HUP");
        await().atMost(Duration.ofSeconds(30)).until(() -> AgentHome.text(log(home)).contains("reopened the log and the samples file "
                + home.samplesFile() + " (SIGHUP)"));
        await().atMost(Duration.ofSeconds(30)).until(() -> AgentHome.text(home.samplesFile()).contains("\"job\":\"tick\""));
        assertTrue(p.isAlive());
    }

    @Test
    void aDeletedOrMovedLogIsRecreatedWithinSecondsWithoutASignal() throws Exception {
        // File watching of the cron files is off: the log's watch does not depend on it.
        AgentHome home = new AgentHome(dir.resolve("home"), "[plugins]\nwatch = false\n");
        Process p = agent(home);

        Files.delete(log(home));
        await().atMost(Duration.ofSeconds(30)).until(() -> AgentHome.text(log(home)).contains("reopened the log (changed on disk: " + log(home) + ")"));

        // logrotate's way, without copytruncate: rename, and nothing else.
        Path rotated = home.samplesFile().resolveSibling("samples.jsonl-20261205");
        Files.move(home.samplesFile(), rotated);
        await().atMost(Duration.ofSeconds(30)).until(() -> AgentHome.text(home.samplesFile()).contains("\"job\":\"tick\""));
        long rotatedSize = Files.size(rotated);
        await().atMost(Duration.ofSeconds(30)).until(() -> AgentHome.text(home.samplesFile()).split("\"job\":\"tick\"").length > 3);
        assertEquals(rotatedSize, Files.size(rotated), "nothing more written to the rotated file");

        // The whole directory, removed: both files come back, in a new directory, still watched.
        try (var all = Files.walk(log(home).getParent())) {
            all.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
        assertFalse(Files.exists(log(home).getParent()));
        await().atMost(Duration.ofSeconds(30)).until(() -> AgentHome.text(log(home)).contains("reopened the log"));
        await().atMost(Duration.ofSeconds(30)).until(() -> AgentHome.text(home.samplesFile()).contains("\"job\":\"tick\""));
        Files.delete(log(home));
        await().atMost(Duration.ofSeconds(30)).until(() -> AgentHome.text(log(home)).contains("reopened the log"));
        assertTrue(p.isAlive());
    }

    private static void signal(Process p, String name) throws Exception {
        Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(p.pid())).inheritIO().start();
        assertTrue(kill.waitFor(10, TimeUnit.SECONDS));
        assertEquals(0, kill.exitValue());
    }
}
