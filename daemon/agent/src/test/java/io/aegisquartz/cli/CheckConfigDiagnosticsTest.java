package io.aegisquartz.cli;

import io.aegisquartz.testing.AgentHome;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What check-config and the command line say about mistakes an operator makes on the first day. */
class CheckConfigDiagnosticsTest {

    @TempDir
    Path dir;

    @Test
    void aGlobalOptionAfterTheCommandSaysWhereItGoes() {
        AgentHome home = new AgentHome(dir.resolve("home"), "");
        InProcessCli cli = new InProcessCli(home.home());
        // Was "unknown option --conf for 'check-config'", which sent people to check-config's --help.
        assertEquals(Cli.USAGE, cli.run("check-config", "--conf", "/etc/aegis-quartz"));
        assertEquals("aegis-quartz: --conf is a global option: it goes before the command, as in "
                + "'aegis-quartz --conf /etc/aegis-quartz check-config'\n", cli.err());
        assertEquals(Cli.USAGE, cli.run("run", "--home=/srv/agent"));
        assertEquals("aegis-quartz: --home is a global option: it goes before the command, as in "
                + "'aegis-quartz --home /srv/agent run'\n", cli.err());
    }

    @Test
    void aUuidPathThatIsADirectoryIsNamed() throws Exception {
        AgentHome home = new AgentHome(dir.resolve("home"), "");
        Files.createDirectory(home.conf().resolve("uuid"));
        InProcessCli cli = new InProcessCli(home.home());
        cli.run("check-config");
        assertTrue(cli.out().contains(home.conf().resolve("uuid") + ": this is a directory; the host identity is a file\n"
                + "    fix: remove the directory, or point [agent] uuid_file at a file\n"), cli.out());
    }

    @Test
    void groupWritableFilesGetOneCommandThatFixesThemAll() throws Exception {
        AgentHome home = new AgentHome(dir.resolve("home"), "");
        home.userPlugin("u.sh", "#!/bin/sh\necho OK\n");
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] user/u.sh\n");
        home.groupWritable();
        InProcessCli cli = new InProcessCli(home.home());
        cli.run("check-config");
        String command = "chmod -R g-w " + home.conf().toRealPath() + " " + home.home().resolve("plugins-default").toRealPath() + " "
                + home.home().resolve("plugins-user").toRealPath();
        assertTrue(cli.out().contains("fix them all at once with: " + command + "\n"), cli.out());
        assertEquals(1, cli.out().split("fix them all at once", -1).length - 1, "said once");
    }

    @Test
    void dropInFilesAreCheckedAndCounted() throws Exception {
        AgentHome home = new AgentHome(dir.resolve("home"), "");
        home.userPlugin("u.sh", "#!/bin/sh\necho OK\n");
        Path dropIns = Files.createDirectories(home.conf().resolve("aegis_quartz.conf.d"));
        Files.writeString(dropIns.resolve("a.conf"), "[0 0 3 * * ?] name=a user/u.sh\n");
        InProcessCli cli = new InProcessCli(home.home());
        cli.run("check-config");
        assertTrue(cli.out().startsWith("configuration OK: 1 job(s) (0 default, 0 user, 1 drop-in)\n"), cli.out());
        assertTrue(cli.out().contains("  [0 0 3 * * ?] a  next "), cli.out());

        Files.writeString(dropIns.resolve("b.conf"), "[0 0 3 * * ?] name=a user/u.sh\n");
        cli.run("check-config");
        assertTrue(cli.out().contains(dropIns.resolve("b.conf") + ":1:1: job 'a' is already defined in " + dropIns.resolve("a.conf") + ":1\n"),
                cli.out());
        assertFalse(cli.out().contains("configuration OK"), cli.out());
    }

    @Test
    void theNextFireTimeShownIsTheSplayedOne() throws Exception {
        AgentHome home = new AgentHome(dir.resolve("home"), "");
        home.userPlugin("u.sh", "#!/bin/sh\necho OK\n");
        String uuid = "3d1219c7-c4c5-404a-aa1f-6d2a48adfda4";
        Files.writeString(home.conf().resolve("uuid"), uuid + "\n");
        home.cron("aegis_quartz.conf.user", "[0 0 3 * * ?] splay=1h name=a user/u.sh\n");
        InProcessCli cli = new InProcessCli(home.home());
        cli.run("check-config");
        org.quartz.CronExpression cron = new org.quartz.CronExpression("0 0 3 * * ?");
        java.util.Date now = new java.util.Date();
        long off = io.aegisquartz.schedule.Splay.offsetMillis(uuid, "a", java.time.Duration.ofHours(1), cron, now);
        String expected = io.aegisquartz.schedule.Splay.describe(io.aegisquartz.schedule.Splay.next(cron, off, now), off);
        assertTrue(off > 0 && expected.contains(" (splay +"), expected);
        assertTrue(cli.out().contains("  [0 0 3 * * ?] a  next " + expected + "  ("), cli.out());
    }
}
