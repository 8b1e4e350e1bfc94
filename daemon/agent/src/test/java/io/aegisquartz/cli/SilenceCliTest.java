package io.aegisquartz.cli;

import io.aegisquartz.alert.Alerting;
import io.aegisquartz.alert.Silences;
import io.aegisquartz.testing.AgentHome;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** 'silence': the file a running agent reads, written, listed and cleared through the CLI. */
class SilenceCliTest {

    @TempDir
    Path dir;

    @Test
    void aSilenceIsWrittenListedAndCleared() throws Exception {
        AgentHome home = new AgentHome(dir, "");
        home.userPlugin("check.sh", "#!/bin/sh\necho ok\n");
        home.cron("aegis_quartz.conf.user", "[0 * * * * ?] name=web user/check.sh\n");
        InProcessCli cli = new InProcessCli(dir);
        Silences file = new Silences(Alerting.silencesFile(home.settings().stateDir()));

        long before = System.currentTimeMillis();
        assertEquals(0, cli.run("silence", "web", "--for", "2h", "--reason", "维护 maintenance"), cli.err());
        assertEquals("", cli.err(), "a job the cron files have: no warning");
        List<Silences.Silence> s = file.read();
        assertEquals(1, s.size());
        assertEquals("web", s.get(0).job());
        assertEquals("维护 maintenance", s.get(0).reason());
        assertTrue(s.get(0).endMillis() - s.get(0).startMillis() == 7_200_000L && s.get(0).startMillis() >= before);
        assertTrue(file.covering("web", s.get(0).startMillis() + 1) != null);
        assertTrue(file.covering("web", s.get(0).endMillis()) == null, "it ends by itself");
        assertTrue(file.covering("db", s.get(0).startMillis() + 1) == null);

        assertEquals(0, cli.run("silence", "typo-job", "--for", "10m"));
        assertTrue(cli.err().contains("no job named 'typo-job'"), cli.err());
        assertEquals(0, cli.run("silence", "list"));
        assertTrue(cli.out().contains("web  until ") && cli.out().contains(": 维护 maintenance") && cli.out().contains("typo-job"), cli.out());

        assertEquals(0, cli.run("silence", "clear", "typo-job"));
        assertEquals(List.of("web"), file.read().stream().map(Silences.Silence::job).toList());
        assertEquals(0, cli.run("silence", "clear"));
        assertEquals(List.of(), file.read());
        assertEquals(1, cli.run("silence", "clear"), "nothing to clear");
        assertEquals(0, cli.run("silence", "list"));
        assertTrue(cli.out().startsWith("no silence"), cli.out());
    }

    @Test
    void badCommandLinesAreExitTwo() {
        new AgentHome(dir, "");
        InProcessCli cli = new InProcessCli(dir);
        assertEquals(2, cli.run("silence", "web"), "--for is required");
        assertEquals(2, cli.run("silence", "web", "--for", "10s"), "at least a minute");
        assertEquals(2, cli.run("silence", "web", "--for", "90d"), "at most 30 days");
        assertEquals(2, cli.run("silence"));
        assertEquals(0, cli.run("silence", "--help"));
        assertTrue(cli.out().startsWith("Usage: aegis-quartz silence"), cli.out());
    }
}
