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
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * One agent per home, and one writer per samples file, with real agent processes: the second is
 * refused before it writes anything and names the first; a kill -9 of the first frees the home.
 */
class AgentLockIT {

    @TempDir
    Path dir;

    @RegisterExtension
    final StartedProcesses started = new StartedProcesses();

    @Test
    void aSecondRunOnAHomeExitsOneNamingTheFirstAndAKillNineFreesIt() throws Exception {
        AgentHome home = new AgentHome(dir.resolve("home"), "[plugins]\nwatch = false\n");
        Path log = home.home().resolve("log/aegis_quartz.log");
        Process first = AgentProcesses.startTicking(started, home, dir.resolve("first.out"));

        Process second = AgentProcesses.start(started, dir.resolve("second.out"), "--home", home.home().toString(), "run");
        assertTrue(second.waitFor(60, TimeUnit.SECONDS), "the second agent exits by itself");
        String said = AgentHome.text(dir.resolve("second.out"));
        assertEquals(1, second.exitValue(), said);
        assertTrue(said.contains("cannot start: another agent is running on this home: pid " + first.pid() + ", started "), said);
        assertTrue(said.contains("command ") && said.contains(" run"), "names the first one's command: " + said);
        assertTrue(said.contains(home.home().resolve("state/agent.lock").toString()), said);
        assertFalse(AgentHome.text(log).contains("pid " + second.pid()), "the second agent wrote nothing to the log");
        assertTrue(first.isAlive(), "the first agent is unaffected");

        // kill -9 leaves agent.lock behind, but not its lock: a new agent starts at once.
        first.destroyForcibly();
        assertTrue(first.waitFor(30, TimeUnit.SECONDS));
        Process third = AgentProcesses.start(started, dir.resolve("third.out"), "--home", home.home().toString(), "run");
        await().atMost(Duration.ofSeconds(60)).until(() -> AgentHome.text(log).contains("starting: pid " + third.pid()));
        await().atMost(Duration.ofSeconds(60)).until(() -> AgentHome.text(log).lines()
                .anyMatch(l -> l.contains(" started with ") && AgentHome.text(log).indexOf(l) > AgentHome.text(log).indexOf("starting: pid " + third.pid())));
        assertTrue(third.isAlive(), AgentHome.text(dir.resolve("third.out")));
    }

    @Test
    void twoHomesWritingOneSamplesFileCannotBothRun() throws Exception {
        AgentHome a = new AgentHome(dir.resolve("a"), "[plugins]\nwatch = false\n");
        Path shared = a.samplesFile();
        AgentHome b = new AgentHome(dir.resolve("b"), "[plugins]\nwatch = false\n[sink]\nfile = " + shared + "\n");
        Process first = AgentProcesses.start(started, dir.resolve("a.out"), "--home", a.home().toString(), "run");
        await().atMost(Duration.ofSeconds(60)).until(() -> AgentHome.text(a.home().resolve("log/aegis_quartz.log")).contains(" started with "));

        Process second = AgentProcesses.start(started, dir.resolve("b.out"), "--home", b.home().toString(), "run");
        assertTrue(second.waitFor(60, TimeUnit.SECONDS), "the second agent exits by itself");
        String said = AgentHome.text(dir.resolve("b.out"));
        assertEquals(1, second.exitValue(), said);
        assertTrue(said.contains("[sink] file: samples file " + shared + " is in use by another process: pid " + first.pid()), said);
        assertTrue(said.contains("give each agent a samples file of its own"), said);
        assertTrue(first.isAlive());
    }
}
