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
import java.time.LocalDate;
import java.time.format.DateTimeFormatter;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The packaged logrotate snippet (packaging/aegis-quartz.logrotate), run by logrotate itself against a
 * running agent: both files are renamed to dated names, and the agent writes new ones at once.
 * Needs logrotate (.ci/run installs it).
 */
class LogRotateIT {

    @TempDir
    Path dir;

    @RegisterExtension
    final StartedProcesses started = new StartedProcesses();

    @Test
    void thePackagedSnippetRotatesWithoutCopytruncateAndTheAgentCarriesOn() throws Exception {
        AgentHome home = new AgentHome(dir.resolve("home"), "[plugins]\nwatch = false\n");
        Path log = home.home().resolve("log/aegis_quartz.log");
        Process agent = AgentProcesses.startTicking(started, home, dir.resolve("agent.out"));

        // The snippet as shipped, pointed at this home; as the test's user rather than aegis-quartz (no
        // such user here), and the signal sent to this agent rather than through systemd.
        String snippet = Files.readString(AgentProcesses.REPO.resolve("packaging/aegis-quartz.logrotate"))
                .replace("/var/log/aegis-quartz/", log.getParent() + "/")
                .replaceAll("(?m)^\\s*su .*$", "")
                .replaceAll("(?m)^\\s*systemctl kill .*$", "        kill -HUP " + agent.pid());
        assertTrue(snippet.contains("kill -HUP " + agent.pid()) && !snippet.matches("(?s).*\\n\\s*copytruncate.*"), snippet);
        Path conf = Files.writeString(dir.resolve("logrotate.conf"), snippet);
        Process rotate = new ProcessBuilder("logrotate", "--force", "--state", dir.resolve("logrotate.state").toString(), conf.toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve("logrotate.out").toFile()).start();
        assertTrue(rotate.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, rotate.exitValue(), AgentHome.text(dir.resolve("logrotate.out")));

        String today = LocalDate.now().format(DateTimeFormatter.BASIC_ISO_DATE);
        Path oldLog = log.resolveSibling("aegis_quartz.log-" + today);
        Path oldSamples = home.samplesFile().resolveSibling("samples.jsonl-" + today);
        assertTrue(AgentHome.text(oldLog).contains(" started with "), "the log so far, under its dated name (delaycompress: not yet compressed)");
        assertTrue(AgentHome.text(oldSamples).contains("\"job\":\"tick\""));
        await().atMost(Duration.ofSeconds(30)).until(() -> AgentHome.text(log).contains("reopened the log and the samples file"));
        await().atMost(Duration.ofSeconds(30)).until(() -> AgentHome.text(home.samplesFile()).contains("\"job\":\"tick\""));
        assertTrue(agent.isAlive());
    }
}
