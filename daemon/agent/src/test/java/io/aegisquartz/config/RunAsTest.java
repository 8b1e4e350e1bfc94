package io.aegisquartz.config;

import com.fasterxml.jackson.databind.JsonNode;
import io.aegisquartz.agent.Agent;
import io.aegisquartz.testing.AgentHome;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Date;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** {@code user=NAME}: an executable plugin runs as a less privileged local user, and never with the agent's capabilities. */
class RunAsTest {

    static final Path REPO = Path.of(System.getProperty("user.dir")).resolve("../..").normalize();
    static final String WHOAMI = "#!/bin/sh\necho \"{\\\"metric\\\":\\\"who\\\",\\\"values\\\":{\\\"uid\\\":$(id -u),\\\"gid\\\":$(id -g)},"
            + "\\\"tags\\\":{\\\"cap_amb\\\":\\\"$(sed -n 's/^CapAmb:[[:space:]]*//p' /proc/self/status)\\\"}}\"\n";

    @TempDir
    Path dir;

    private Agent agent;

    @AfterEach
    void stop() {
        if (agent != null) {
            agent.stop();
        }
    }

    /** A home that other users may enter (a plugin running as nobody must reach its file and folder). */
    private AgentHome home(String ini) throws Exception {
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        return new AgentHome(dir.resolve("home"), ini);
    }

    @Test
    void aPluginRunsAsTheNamedUserAndIsStillKilledAtItsLimit() throws Exception {
        assumeTrue(StrictModes.ownUid() == 0, "switching users needs root (CI runs as root)");
        RunAs nobody = RunAs.lookup("nobody");
        AgentHome home = home("[plugins]\nwatch = false\n");
        home.userPlugin("who.sh", WHOAMI);
        home.userPlugin("hang.sh", "#!/bin/sh\nsleep 300\n");
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] user=nobody user/who.sh\n[* * * * * ?] user=nobody timeout=1s kill_grace=1s user/hang.sh\n");
        agent = new Agent(home.settings());
        agent.start();

        await().atMost(Duration.ofSeconds(15)).until(() -> !home.samples("user/who.sh", "ok").isEmpty());
        JsonNode who = home.samples("user/who.sh", "ok").get(0);
        assertEquals(nobody.uid(), who.get("values").get("uid").asInt());
        assertEquals(nobody.gid(), who.get("values").get("gid").asInt());

        await().atMost(Duration.ofSeconds(15)).until(() -> !home.samples("user/hang.sh", "timeout").isEmpty());
        // The agent (root here) killed the session of another user's process: nothing of it is left.
        await().atMost(Duration.ofSeconds(10)).until(() -> ProcessHandle.allProcesses()
                .noneMatch(h -> h.info().commandLine().orElse("").contains(home.home().resolve("plugins-user/hang.sh").toString())));
    }

    @Test
    void aBadUserOrAUserForAnInJvmPluginIsAProblemOnItsLine() throws Exception {
        AgentHome home = home("");
        home.userPlugin("who.sh", WHOAMI);
        home.userPlugin("x.groovy", "emit('x', [a: 1])\n");
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] user=no_such_user_42 user/who.sh\n[* * * * * ?] user=root user/x.groovy\n");

        CronFile f = new CronFileParser(home.settings(), new Date()).parse(JobSource.USER);
        assertEquals(List.of(), f.jobs());
        assertEquals(2, f.problems().size(), f.problems().toString());
        ConfigProblem missing = f.problems().get(0);
        assertEquals(1, missing.line());
        assertEquals(20, missing.column(), "points at the value after user=");
        assertEquals("user=no_such_user_42: no user 'no_such_user_42' in /etc/passwd", missing.message());
        ConfigProblem inJvm = f.problems().get(1);
        assertEquals(2, inJvm.line());
        assertEquals("user= applies to executable plugins only; user/x.groovy runs in a JVM (the agent's or the plugin host's), not as a process of its own", inJvm.message());
    }

    @Test
    void pluginsNeverInheritTheAgentsAmbientCapabilities() throws Exception {
        assumeTrue(StrictModes.ownUid() == 0, "raising an ambient capability needs root (CI runs as root)");
        // The packaged service gives the agent CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH as ambient
        // capabilities; here the agent gets CAP_KILL the same way, and the plugin must see none.
        String plain = run(List.of("setpriv", "--inh-caps=+kill", "--ambient-caps=+kill", "sed", "-n", "s/^CapAmb:[[:space:]]*//p", "/proc/self/status"));
        assertEquals("0000000000000020", plain.strip(), "the set-up really grants an ambient capability");

        AgentHome home = home("");
        home.userPlugin("who.sh", WHOAMI);
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String cp = REPO.resolve("daemon/agent/target/classes") + File.pathSeparator + System.getProperty("java.class.path");
        String out = run(List.of("setpriv", "--inh-caps=+kill", "--ambient-caps=+kill", java, "-cp", cp, "io.aegisquartz.cli.Main",
                "--home", home.home().toString(), "run-plugin", "--json", "user/who.sh"));
        assertTrue(out.contains("\"cap_amb\":\"0000000000000000\""), out);
    }

    private static String run(List<String> command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        try {
            String out = new String(p.getInputStream().readAllBytes());
            assertTrue(p.waitFor(60, TimeUnit.SECONDS));
            return out;
        } finally {
            p.destroyForcibly();
        }
    }
}
