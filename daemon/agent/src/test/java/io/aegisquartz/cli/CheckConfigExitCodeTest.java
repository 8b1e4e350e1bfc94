package io.aegisquartz.cli;

import io.aegisquartz.testing.AgentHome;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * check-config sorts problems into "the agent cannot start" (exit 1) and "the agent skips a line or
 * a job" (exit 4, or 0 with --startable, which is what the service's ExecStartPre runs).
 */
class CheckConfigExitCodeTest {

    @TempDir
    Path dir;

    private record Result(int code, String out) {
    }

    private Result check(AgentHome home, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream ps = new PrintStream(out, true, StandardCharsets.UTF_8);
        List<String> argv = new ArrayList<>(List.of("--home", home.home().toString(), "check-config"));
        argv.addAll(List.of(args));
        int rc = new Cli(ps, ps, Map.of()).execute(argv.toArray(String[]::new));
        return new Result(rc, out.toString(StandardCharsets.UTF_8));
    }

    @Test
    void aBrokenUserLineOrARefusedPluginIsSkippedNotFatal() throws Exception {
        AgentHome home = new AgentHome(dir.resolve("home"), "[plugins]\nwatch = false\n");
        home.userPlugin("ok.sh", "#!/bin/sh\necho OK\n");
        Path writable = home.userPlugin("open.sh", "#!/bin/sh\necho OK\n");
        Files.setPosixFilePermissions(writable, PosixFilePermissions.fromString("rwxrwxr-x"));
        home.cron("aegis_quartz.conf.user", "[0 0 * * *] user/ok.sh\n[0 * * * * ?] user/ok.sh\n[0 * * * * ?] name=open user/open.sh\n");

        Result r = check(home, "--quiet");
        assertEquals(CheckConfigCommand.SKIPPED, r.code(), r.out());
        assertTrue(r.out().contains("aegis_quartz.conf.user:1:"), r.out());
        assertTrue(r.out().contains("open.sh"), r.out());
        // One good job: the refused plugin's job is not counted among those that would run.
        assertTrue(r.out().contains("The agent starts and leaves out the lines and jobs above; it would run 1 job(s) (0 default, 1 user)"),
                r.out());
        assertTrue(r.out().contains("the 1 job(s) whose plugin cannot be loaded"), r.out());

        Result startable = check(home, "--quiet", "--startable");
        assertEquals(0, startable.code(), startable.out());
        assertTrue(startable.out().contains("aegis_quartz.conf.user:1:"), "problems are still printed: " + startable.out());
    }

    @Test
    void aBadIniFailsEvenWithStartableAndNeverSaysJobsWouldRun() {
        AgentHome home = new AgentHome(dir.resolve("home"), "[agent]\nwokers = 4\n");
        home.cron("aegis_quartz.conf.user", "[0 0 * * *] user/nope.sh\n");
        Result r = check(home, "--startable");
        assertEquals(1, r.code(), r.out());
        assertTrue(r.out().contains("The agent cannot start: fix the 1 problem(s) listed first; the other 2 would only skip"), r.out());
        assertFalse(r.out().contains("would run"), r.out());
    }

    @Test
    void anIdentityFileThatIsADirectoryOrAnUnusableStateDirCannotStart() throws Exception {
        AgentHome home = new AgentHome(dir.resolve("home"), "[agent]\nuuid_file = " + dir.resolve("uuid-dir") + "\nstate_dir = "
                + dir.resolve("state-file/state") + "\n");
        Files.createDirectories(dir.resolve("uuid-dir"));
        Files.writeString(dir.resolve("state-file"), "not a directory");
        Result r = check(home, "--startable");
        assertEquals(1, r.code(), r.out());
        assertTrue(r.out().contains(dir.resolve("uuid-dir") + ": this is a directory; the host identity is a file"), r.out());
        assertTrue(r.out().contains("[agent] state_dir: " + dir.resolve("state-file/state") + " " + dir.resolve("state-file")
                + " is not a directory"), r.out());
    }

    @Test
    void uploadCredentialsThatTheAgentWouldRefuseCannotStart() {
        AgentHome home = new AgentHome(dir.resolve("home"), "[upload]\nendpoint = https://127.0.0.1:1/x\n");
        home.credentials("AKID-x", "secret", "rw-r--r--");
        Result r = check(home, "--startable");
        assertEquals(1, r.code(), r.out());
        assertTrue(r.out().contains(home.conf().resolve("credentials").toString()), r.out());
    }

    @Test
    void aCleanConfigIsZero() {
        AgentHome home = new AgentHome(dir.resolve("home"), "[plugins]\nwatch = false\n");
        home.userPlugin("ok.sh", "#!/bin/sh\necho OK\n");
        home.cron("aegis_quartz.conf.user", "[0 * * * * ?] user/ok.sh\n");
        Result r = check(home);
        assertEquals(0, r.code(), r.out());
        assertTrue(r.out().contains("configuration OK: 1 job(s) (0 default, 1 user)"), r.out());
    }
}
