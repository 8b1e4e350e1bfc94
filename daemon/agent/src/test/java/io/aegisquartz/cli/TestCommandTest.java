package io.aegisquartz.cli;

import io.aegisquartz.testing.AgentHome;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** 'aegis-quartz test': configured jobs run once without an agent, with their cron lines' options. */
class TestCommandTest {

    @TempDir
    Path dir;

    private InProcessCli cli(String cron) {
        AgentHome home = new AgentHome(dir, "[plugins]\nwatch = false\n");
        home.userPlugin("hang.sh", "#!/bin/sh\nsleep 20\n");
        home.userPlugin("ok.sh", "#!/bin/sh\necho 'OK - fine | load=0.5;1;2'\n");
        home.userPlugin("warn.sh", "#!/bin/sh\necho 'WARNING - disk 91%'\nexit 1\n");
        home.cron("aegis_quartz.conf.user", cron);
        return new InProcessCli(home.home());
    }

    @Test
    void everyJobRunsOnceWithItsCronLineOptionsAndTheExitCodeIsTheWorstStatus() {
        InProcessCli cli = cli("[0 0 3 * * ?] name=slow timeout=1s kill_grace=200ms user/hang.sh\n[0 0 3 * * ?] name=fine user/ok.sh\n"
                + "[0 0 3 * * ?] name=warn user/warn.sh\n");
        long t0 = System.nanoTime();
        int code = cli.run("test");
        long ms = (System.nanoTime() - t0) / 1_000_000;

        assertEquals(3, code, cli.out() + cli.err());
        String out = cli.out();
        assertTrue(out.contains("== job slow [0 0 3 * * ?] timeout=1s"), out);
        assertTrue(out.contains("status=timeout metric=hang"), out);
        assertTrue(ms < 15_000, "the line's timeout=1s applied, not the 30s default: " + ms + " ms");
        assertTrue(out.contains("== job fine [0 0 3 * * ?]"), out);
        assertTrue(out.contains("status=ok metric=ok values={load=0.5, load.warn=1, load.crit=2} message=\"OK - fine\"\nrun: status=ok samples=1"),
                "run-plugin's printer: " + out);
        assertTrue(out.contains("status=warning metric=warn message=\"WARNING - disk 91%\""), out);
        assertTrue(out.indexOf("== job slow") < out.indexOf("== job fine") && out.indexOf("== job fine") < out.indexOf("== job warn"),
                "in cron-file order: " + out);
        assertFalse(Files.exists(dir.resolve("log/samples.jsonl")), "test writes no samples file");
    }

    @Test
    void namedJobsOnlyAndAnUnknownNameIsAUsageError() {
        InProcessCli cli = cli("[0 0 3 * * ?] name=fine user/ok.sh\n[0 0 3 * * ?] name=warn user/warn.sh\n");

        assertEquals(1, cli.run("test", "warn"), cli.err());
        assertFalse(cli.out().contains("== job fine"), cli.out());
        assertTrue(cli.out().contains("== job warn"), cli.out());

        assertEquals(0, cli.run("test", "--json", "fine"), cli.err());
        assertTrue(cli.out().startsWith("{\"id\":"), cli.out());
        assertTrue(cli.out().contains("\"job\":\"fine\"") && !cli.out().contains("== job"), cli.out());

        assertEquals(2, cli.run("test", "warning"));
        assertTrue(cli.err().contains("no job is named 'warning'; did you mean warn?"), cli.err());
    }
}
