package io.aegisquartz.plugin.host;

import io.aegisquartz.config.PluginHostConfig;
import io.aegisquartz.plugin.JobMemory;
import io.aegisquartz.plugin.RunResult;
import io.aegisquartz.sample.Status;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static io.aegisquartz.testing.TestJobs.message;
import static io.aegisquartz.testing.TestJobs.job;
import static io.aegisquartz.testing.TestJobs.limits;
import static io.aegisquartz.testing.TestJobs.script;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The exec host as the packaged service runs it, without systemd: {@code systemd-socket-activate
 * --accept --inetd} plays aegis-quartz-exec.socket (a host per connection, the connection as its
 * standard input and output) and {@code setpriv} plays the unit's {@code User=} and
 * {@code AmbientCapabilities=CAP_WAKE_ALARM}. The agent (this JVM) connects as it does to systemd's
 * socket. Root only (it switches users).
 *
 * <p>What it proves: an executable runs as the other user, cannot read a file of the agent's user, and
 * cannot reach into its host's memory or environment although it is the same user, because the host
 * holds a capability it does not; without that capability (the control run), it can.
 */
@Timeout(120)
class ExecHostAsAnotherUserTest {

    @TempDir
    Path dir;

    private Process activator;
    private PluginHostClient client;

    @AfterEach
    void stop() throws Exception {
        if (client != null) {
            client.close();
        }
        if (activator != null) {
            // Ours, by its handle: the activator and the hosts it started (its children).
            activator.descendants().forEach(ProcessHandle::destroyForcibly);
            activator.destroyForcibly();
            activator.waitFor();
        }
    }

    /** The test JVM's classpath, copied where another user can read it (the build's is under /root). */
    private String readableClasspath(Path into) throws IOException {
        Files.createDirectories(into);
        List<String> out = new ArrayList<>();
        int n = 0;
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            Path src = Path.of(entry);
            if (!Files.exists(src)) {
                continue;
            }
            Path dst = into.resolve((n++) + "-" + src.getFileName());
            if (Files.isDirectory(src)) {
                try (var walk = Files.walk(src)) {
                    for (Path p : (Iterable<Path>) walk::iterator) {
                        Path t = dst.resolve(src.relativize(p).toString());
                        if (Files.isDirectory(p)) {
                            Files.createDirectories(t);
                        } else {
                            Files.copy(p, t);
                        }
                    }
                }
            } else {
                Files.copy(src, dst);
            }
            out.add(dst.toString());
        }
        return String.join(File.pathSeparator, out);
    }

    private static void openToAll(Path root) throws IOException {
        try (var walk = Files.walk(root)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
                Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(Files.isDirectory(p) ? "rwxr-xr-x" : "rw-r--r--"));
            }
        }
    }

    /** Starts the activator for an exec host as {@code nobody}, with CAP_WAKE_ALARM or with nothing. */
    private PluginHostClient hostAsNobody(boolean capability) throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "switching users needs root");
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/systemd-socket-activate")) && Files.isExecutable(Path.of("/usr/bin/setpriv")),
                "needs systemd-socket-activate and setpriv");
        Path shared = dir.resolve("shared");
        String cp = readableClasspath(shared.resolve("cp"));
        openToAll(shared);
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path socket = dir.resolve("exec.sock");
        List<String> cmd = new ArrayList<>(List.of("/usr/bin/systemd-socket-activate", "--listen=" + socket, "--accept", "--inetd",
                "/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"));
        cmd.addAll(capability ? List.of("--inh-caps=-all,+wake_alarm", "--ambient-caps=+wake_alarm") : List.of("--inh-caps=-all"));
        cmd.addAll(List.of("--", Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx32m", "-XX:+UseSerialGC",
                "-XX:-UsePerfData", "-Djava.io.tmpdir=/tmp", "-cp", cp, PluginHostMain.class.getName()));
        activator = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("activator.log").toFile()).start();
        await().atMost(Duration.ofSeconds(20)).until(() -> Files.exists(socket));
        client = new PluginHostClient(new PluginHostConfig(32 << 20, Duration.ofSeconds(5), socket));
        return client;
    }

    /**
     * A hostile executable: says who it is, whether it could read the agent's secret, and whether it
     * could reach into its host (the wrapper's parent) through /proc.
     */
    private Path probe() throws IOException {
        Path agentOnly = Files.createDirectories(dir.resolve("agent-only"));
        Files.writeString(agentOnly.resolve("secret"), "s3cret\n");
        Files.setPosixFilePermissions(agentOnly.resolve("secret"), PosixFilePermissions.fromString("rw-------"));
        Path plugin = script(agentOnly, "probe.sh", """
                #!/bin/sh
                host=$(ps -o ppid= -p $PPID | tr -d ' ')
                secret=$(cat "$1" 2>/dev/null || echo denied)
                env=$(head -c 1 /proc/$host/environ >/dev/null 2>&1 && echo read || echo denied)
                mem=$(dd if=/proc/$host/mem of=/dev/null bs=1 count=1 2>&1 | grep -q 'Permission denied' && echo denied || echo open)
                echo "PROBE OK - uid $(id -u) secret $secret env $env mem $mem"
                """);
        // Only the agent's user may enter it: the host is sent the bytes and runs its own copy.
        Files.setPosixFilePermissions(agentOnly, PosixFilePermissions.fromString("rwx------"));
        return plugin;
    }

    @Test
    void anExecutableRunsAsTheOtherUserAndCannotReachIntoItsHostWhichHoldsACapabilityItLacks() throws Exception {
        PluginHostClient c = hostAsNobody(true);
        Path plugin = probe();
        HostPlugin p = c.executable(plugin, true);
        try {
            RunResult r = p.run(job(plugin, limits(Duration.ofSeconds(30), Duration.ofSeconds(10)), plugin.resolveSibling("secret").toString()),
                    new JobMemory());
            assertEquals(Status.OK, r.outcome(), message(r) + "; " + Files.readString(dir.resolve("activator.log")));
            String nobody = new String(new ProcessBuilder("id", "-u", "nobody").start().getInputStream().readAllBytes()).strip();
            assertEquals("PROBE OK - uid " + nobody + " secret denied env denied mem denied", message(r));
        } finally {
            p.close();
        }
    }

    @Test
    void theCpuOfRunsInAHostSystemdStartedIsCountedForTheGovernorAsTheHostReportedIt() throws Exception {
        // The agent cannot read a socket host's process (another user's, systemd's child): without this
        // count, a job burning CPU there would never reach the governor's budget.
        PluginHostClient c = hostAsNobody(true);
        Path plugin = script(dir, "burn.sh", "#!/bin/sh\ni=0\nwhile [ $i -lt 400000 ]; do i=$((i+1)); done\necho \"BURN OK\"\n");
        HostPlugin p = c.executable(plugin, true);
        try {
            assertEquals(0, c.externalRunCpuNanos());
            RunResult r = p.run(job(plugin, limits(Duration.ofSeconds(60), Duration.ofSeconds(30))), new JobMemory());
            assertEquals(Status.OK, r.outcome(), message(r));
            assertTrue(r.cpuNanos() >= 100_000_000L, "the loop used CPU: " + r.cpuNanos());
            assertEquals(r.cpuNanos(), c.externalRunCpuNanos());
            assertEquals(0, c.cpuNanos(), "no host process of its own to read");
        } finally {
            p.close();
        }
    }

    @Test
    void withoutTheCapabilityTheSameExecutableCouldReachIntoItsHost() throws Exception {
        // The control: what the capability is there for.
        PluginHostClient c = hostAsNobody(false);
        Path plugin = probe();
        HostPlugin p = c.executable(plugin, true);
        try {
            RunResult r = p.run(job(plugin, limits(Duration.ofSeconds(30), Duration.ofSeconds(10)), plugin.resolveSibling("secret").toString()),
                    new JobMemory());
            assertEquals(Status.OK, r.outcome(), message(r));
            assertTrue(message(r).endsWith("env read mem open"), message(r));
        } finally {
            p.close();
        }
    }
}
