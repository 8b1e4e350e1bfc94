package io.aegisquartz.agent;

import io.aegisquartz.testing.AgentHome;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The heartbeat file the launcher's watchdog reads (docs/SUPERVISION.md), from a real agent. */
class HeartbeatTest {

    @TempDir
    Path dir;

    private Agent agent;
    private Thread suspended;

    @AfterEach
    void stop() {
        if (suspended != null) {
            suspended.resume();
        }
        if (agent != null) {
            agent.stop();
        }
    }

    /** PID SEQ TIMEOUT STATE of the file's first line. */
    private static String[] line(Path file) {
        try {
            return Files.readString(file).lines().findFirst().orElse("").split(" ");
        } catch (IOException e) {
            return new String[0];
        }
    }

    private static long seq(Path file) {
        String[] l = line(file);
        return l.length == 4 ? Long.parseLong(l[1]) : -1;
    }

    @Test
    @SuppressWarnings("removal") // Thread.suspend: what a hostile plugin can do on Java 17
    void itMovesWhileTheSchedulerWorksAndStopsWhenASchedulerThreadIsSuspended() throws Exception {
        AgentHome home = new AgentHome(dir.resolve("home"), "[plugins]\nwatch = false\n[agent]\nwatchdog = 3s\nstate_dir = "
                + dir.resolve("state") + "\n");
        home.userPlugin("tick.sh", "#!/bin/sh\necho 'TICK OK | n=1'\n");
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] name=tick user/tick.sh\n");
        Path file = dir.resolve("state/heartbeat");
        agent = new Agent(home.settings());
        agent.start();

        String[] first = line(file);
        assertEquals(ProcessHandle.current().pid() + "", first[0], String.join(" ", first));
        assertEquals("3", first[2], "the timeout in seconds");
        assertEquals("running", first[3]);
        long s0 = seq(file);
        // A beat every 750 ms (a quarter of 3 s).
        await().atMost(Duration.ofSeconds(10)).until(() -> seq(file) >= s0 + 3);

        // What a plugin can do: suspend the scheduler thread. The JVM is up, the timer runs, and still
        // the heartbeat stops, because the machinery no longer makes progress.
        suspended = Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().endsWith("_QuartzSchedulerThread"))
                .findFirst().orElseThrow();
        suspended.suspend();
        // Still for over three beat intervals in a row (a beat already under way may land first).
        java.util.concurrent.atomic.AtomicLong last = new java.util.concurrent.atomic.AtomicLong(seq(file));
        await().atMost(Duration.ofSeconds(10)).during(Duration.ofMillis(2_500)).until(() -> {
            long s = seq(file);
            return last.getAndSet(s) == s;
        });
        List<String> samples = home.samples().stream().map(n -> n.path("job").asText()).toList();
        assertTrue(samples.contains("tick"), "the job ran before the freeze: " + samples);

        suspended.resume();
        suspended = null;
        long frozen = seq(file);
        await().atMost(Duration.ofSeconds(10)).until(() -> seq(file) > frozen);

        agent.stop();
        assertEquals("stopping", line(file)[3], "a stop says so");
        agent = null;
    }
}
