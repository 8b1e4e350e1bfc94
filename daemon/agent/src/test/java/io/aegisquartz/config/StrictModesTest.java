package io.aegisquartz.config;

import io.aegisquartz.agent.Agent;
import io.aegisquartz.testing.AgentHome;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Plugin and cron files that others could have written are refused, as sshd's StrictModes does. */
class StrictModesTest {

    @TempDir
    Path dir;

    private Agent agent;

    @AfterEach
    void stop() {
        if (agent != null) {
            agent.stop();
        }
    }

    private static void chmod(Path p, String mode) throws Exception {
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(mode));
    }

    private static boolean root() {
        return StrictModes.ownUid() == 0;
    }

    @Test
    void aPrivateFileInAPrivateFolderIsTrusted() {
        AgentHome home = new AgentHome(dir, "");
        Path p = home.userPlugin("ok.sh", "#!/bin/sh\necho OK\n");
        assertNull(StrictModes.of(home.settings()).check(p));
    }

    @Test
    void aGroupOrWorldWritablePluginIsRefusedWithTheFix() throws Exception {
        AgentHome home = new AgentHome(dir, "");
        Path p = home.userPlugin("open.sh", "#!/bin/sh\necho OK\n");
        StrictModes modes = StrictModes.of(home.settings());

        chmod(p, "rwxrwxr-x");
        StrictModes.Refusal r = modes.check(p);
        assertNotNull(r);
        assertEquals("refusing " + p + ": the file is writable by its group (mode 0775), so any of them could change what the agent runs",
                r.message());
        assertEquals("chmod go-w " + p, r.fix());

        chmod(p, "rwxr-xrwx");
        assertTrue(modes.check(p).problem().contains("writable by others (mode 0757)"), modes.check(p).problem());
    }

    @Test
    void aWritableFolderBetweenThePluginAndItsRootIsRefusedButNotFoldersAboveTheRoot() throws Exception {
        AgentHome home = new AgentHome(dir, "");
        Path sub = Files.createDirectories(home.home().resolve("plugins-user/team"));
        Path p = io.aegisquartz.testing.TestJobs.script(sub, "x.sh", "#!/bin/sh\necho OK\n");
        StrictModes modes = StrictModes.of(home.settings());

        chmod(sub, "rwxrwxrwx");
        StrictModes.Refusal r = modes.check(p);
        assertNotNull(r);
        assertEquals(sub, r.path());
        assertTrue(r.problem().startsWith("the directory is writable by group and others (mode 0777)"), r.problem());

        chmod(sub, "rwxr-xr-x");
        // The agent's home itself may be anything: only the plugin folder and below are the plugin's business.
        chmod(home.home(), "rwxrwxrwx");
        try {
            assertNull(modes.check(p));
        } finally {
            chmod(home.home(), "rwx------");
        }
    }

    @Test
    void aPluginOwnedByAnotherUserIsRefused() throws Exception {
        assumeTrue(root(), "only root can give a file to another user");
        AgentHome home = new AgentHome(dir, "");
        Path p = home.userPlugin("theirs.sh", "#!/bin/sh\necho OK\n");
        Files.setAttribute(p, "unix:uid", 54321);

        StrictModes.Refusal r = StrictModes.of(home.settings()).check(p);
        assertNotNull(r);
        assertEquals("the file is owned by uid 54321, neither root nor the agent's user (uid 0)", r.problem());
        assertTrue(r.fix().startsWith("chown root " + p), r.fix());
    }

    @Test
    void theCheckCanBeTurnedOff() throws Exception {
        AgentHome home = new AgentHome(dir, "[plugins]\nstrict_modes = false\n");
        Path p = home.userPlugin("open.sh", "#!/bin/sh\necho OK\n");
        chmod(p, "rwxrwxrwx");
        assertNull(StrictModes.of(home.settings()).check(p));
    }

    @Test
    void theAgentRefusesAnUnsafePluginWithOneErrorSampleAndRunsItOnceFixed() throws Exception {
        AgentHome home = new AgentHome(dir, "[plugins]\nreload_delay = 100ms\n");
        Path p = home.userPlugin("open.sh", "#!/bin/sh\necho 'OK - fine'\n");
        chmod(p, "rwxrwxrwx");
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] user/open.sh\n");
        agent = new Agent(home.settings());
        agent.start();

        await().atMost(Duration.ofSeconds(10)).until(() -> !home.samples("user/open.sh", "error").isEmpty());
        String message = home.samples("user/open.sh", "error").get(0).get("message").asText();
        assertTrue(message.contains("refusing " + p + ": the file is writable by group and others (mode 0777)"), message);
        assertTrue(home.samples("user/open.sh", "ok").isEmpty(), "the unsafe plugin never ran");

        // chmod changes the file's ctime, so the next fire checks it again: no reload or restart needed.
        chmod(p, "rwxr-xr-x");
        await().atMost(Duration.ofSeconds(10)).until(() -> !home.samples("user/open.sh", "ok").isEmpty());
    }

    @Test
    void anUnsafeUserCronFileIsRefusedAndTheDefaultJobsStillRun() throws Exception {
        AgentHome home = new AgentHome(dir, "[plugins]\nwatch = false\n");
        io.aegisquartz.testing.TestJobs.script(home.home().resolve("plugins-default"), "d.sh", "#!/bin/sh\necho OK\n");
        home.userPlugin("u.sh", "#!/bin/sh\necho OK\n");
        home.cron("aegis_quartz.conf.default", "[0 0 3 * * ?] default/d.sh\n");
        home.cron("aegis_quartz.conf.user", "[0 0 3 * * ?] user/u.sh\n");
        Path userCron = home.conf().resolve("aegis_quartz.conf.user");
        chmod(userCron, "rw-rw-rw-");

        CronFile parsed = new CronFileParser(home.settings(), new java.util.Date()).parse(JobSource.USER);
        assertEquals(1, parsed.problems().size());
        ConfigProblem problem = parsed.problems().get(0);
        assertEquals(userCron, problem.file());
        assertTrue(problem.message().startsWith("the file is writable by group and others (mode 0666)"), problem.message());
        assertEquals("chmod go-w " + userCron, problem.fix());

        agent = new Agent(home.settings());
        agent.start();
        assertEquals(1, agent.jobs().size());
        assertEquals("default/d.sh", agent.jobs().values().iterator().next().spec().name());
    }

    @Test
    void aUmaskOf002IsFixedByOneCommandComputedFromWhatIsRefused() throws Exception {
        // A clone made under umask 002: every folder and file writable by its group. Refused one at a time,
        // this took four rounds of fixes (the cron files, conf/, then each plugin, then plugins-default/).
        AgentHome home = new AgentHome(dir, "");
        Files.writeString(home.home().resolve("plugins-default/d.sh"), "#!/bin/sh\necho OK\n");
        Path user = home.userPlugin("u.sh", "#!/bin/sh\necho OK\n");
        Files.createDirectories(home.home().resolve("plugins-user/examples"));
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] user/u.sh\n");
        home.groupWritable();
        StrictModes modes = StrictModes.of(home.settings());
        StrictModes.Sweep sweep = modes.sweep();
        assertNotNull(sweep);
        Path conf = home.conf().toRealPath();
        Path pd = home.home().resolve("plugins-default").toRealPath();
        Path pu = home.home().resolve("plugins-user").toRealPath();
        // conf/ and its 3 files, plugins-default/ and d.sh, plugins-user/, u.sh and examples/.
        assertEquals(9, sweep.refused());
        assertEquals("chmod -R g-w " + conf + " " + pd + " " + pu, sweep.command());
        assertTrue(sweep.message().startsWith("9 file(s) and folder(s) in " + conf + ", " + pd + ", " + pu + " can be written by "),
                sweep.message());

        // Running that one command is enough: nothing is refused any more.
        new ProcessBuilder("sh", "-c", sweep.command()).inheritIO().start().waitFor();
        assertNull(modes.sweep());
        assertNull(modes.check(user));
        assertEquals(java.util.List.of(), new CronFileParser(home.settings(), new java.util.Date()).parse(JobSource.USER).problems());

        chmod(user, "rwxrwxrwx");
        assertEquals("chmod -R go-w " + pu, modes.sweep().command(), "writable by others too: go-w, and only where it is");
        assertEquals(1, modes.sweep().refused());
    }
}
