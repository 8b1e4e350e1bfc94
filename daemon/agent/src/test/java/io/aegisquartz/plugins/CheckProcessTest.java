package io.aegisquartz.plugins;

import io.aegisquartz.config.JobOptions;
import io.aegisquartz.plugin.JobMemory;
import io.aegisquartz.plugin.RunResult;
import io.aegisquartz.plugin.groovy.GroovyPlugin;
import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Status;
import io.aegisquartz.testing.PluginRunners;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;

import static io.aegisquartz.testing.TestJobs.alive;
import static io.aegisquartz.testing.TestJobs.job;
import static io.aegisquartz.testing.TestJobs.limits;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * plugins-default/check_process.groovy against processes the test starts and stops. The processes
 * are started so that they are NOT descendants of this JVM (a shell starts them in the background and
 * exits, so they are reparented), the way a monitored service relates to the agent: the plugin leaves
 * out the agent's own descendants on purpose.
 */
class CheckProcessTest extends PluginRunners {

    static final Path PLUGIN = Path.of(System.getProperty("user.dir")).resolve("../../plugins-default/check_process.groovy").normalize();
    static final JobOptions LIMITS = limits(Duration.ofSeconds(20), Duration.ofSeconds(10));

    /** A number no other process on the host has in its command line: sleep's argument. */
    final String seconds = String.valueOf(3_000_000 + ThreadLocalRandom.current().nextInt(1_000_000));
    final List<Long> started = new ArrayList<>();
    final List<Process> children = new ArrayList<>();

    @TempDir
    Path dir;

    GroovyPlugin plugin;

    @BeforeEach
    void compile() throws Exception {
        plugin = GroovyPlugin.compile(PLUGIN, inJvm, processes);
    }

    @AfterEach
    void stopProcesses() {
        for (long pid : started) {
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        }
        for (Process p : children) {
            p.destroyForcibly();
        }
    }

    @Test
    void okWithThePidWhileTheProcessRunsAndCriticalAfterItIsKilled() throws Exception {
        long pid = detached("sleep", seconds);
        String regex = "^sleep " + seconds + "$";

        Measurement up = check("--cmdline", regex, "--min", "1");
        assertEquals(Status.OK, up.status(), up.toString());
        assertEquals(1.0, up.values().get("count"));
        assertEquals(Map.of("cmdline", regex), up.tags());
        assertEquals("1 process matching /" + regex + "/, expected at least 1: PIDs " + pid, up.message());
        assertTrue(up.values().get("rss_bytes") > 100_000, "sleep has some resident memory: " + up);
        assertEquals(1.0, up.values().get("threads"));

        ProcessHandle.of(pid).orElseThrow().destroyForcibly();
        await().atMost(Duration.ofSeconds(30)).until(() -> !alive(pid));

        Measurement down = check("--cmdline", regex, "--min", "1");
        assertEquals(Status.CRITICAL, down.status(), down.toString());
        assertEquals(0.0, down.values().get("count"));
        assertEquals("0 processes matching /" + regex + "/, expected at least 1", down.message());
    }

    @Test
    void criticalAboveMaxWithEveryPid() throws Exception {
        List<Long> pids = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            pids.add(detached("sleep", seconds));
        }
        pids.sort(null);
        String regex = "sleep " + seconds;

        Measurement tooMany = check("--cmdline", regex, "--min", "1", "--max", "2");
        assertEquals(Status.CRITICAL, tooMany.status(), tooMany.toString());
        assertEquals(3.0, tooMany.values().get("count"));
        assertEquals("3 processes matching /" + regex + "/, expected 1 to 2: PIDs " + join(pids), tooMany.message());

        Measurement fine = check("--cmdline", regex, "--min", "1", "--max", "3");
        assertEquals(Status.OK, fine.status(), fine.toString());
        assertEquals(3.0, fine.values().get("count"));
    }

    @Test
    void moreThanTwentyPidsAreCutInTheMessage() throws Exception {
        List<Long> pids = new ArrayList<>();
        for (int i = 0; i < 23; i++) {
            pids.add(detached("sleep", seconds));
        }
        pids.sort(null);

        Measurement m = check("--cmdline", "sleep " + seconds, "--max", "0", "--min", "0");
        assertEquals(Status.CRITICAL, m.status());
        assertEquals(23.0, m.values().get("count"));
        assertTrue(m.message().endsWith(": PIDs " + join(pids.subList(0, 20)) + " and 3 more"), m.message());
    }

    @Test
    void nameMatchesTheKernelsNameOrTheFileNameOfArgv0() throws Exception {
        // A copy of sleep with a unique name: the kernel names the process after the file it runs
        // (comm), while argv[0] says "sleep".
        String linkName = "aq" + seconds;
        Path link = copyOfSleep(linkName);
        long byComm = detachedExec(link.toString(), "sleep", seconds);
        // The other way round: comm is "sleep", argv[0] is a unique path.
        String argvName = "aqv" + seconds;
        long byArgv0 = detachedExec(which("sleep"), "/opt/nowhere/" + argvName, seconds);

        Measurement comm = check("--name", linkName);
        assertEquals(Status.OK, comm.status(), comm.toString());
        assertEquals("1 process named " + linkName + ", expected at least 1: PIDs " + byComm, comm.message());
        assertEquals(Map.of("name", linkName), comm.tags());

        Measurement argv0 = check("--name", argvName, "--min", "1", "--max", "1");
        assertEquals(Status.OK, argv0.status(), argv0.toString());
        assertEquals("1 process named " + argvName + ", expected exactly 1: PIDs " + byArgv0, argv0.message());

        Measurement none = check("--name", "aqx" + seconds);
        assertEquals(Status.CRITICAL, none.status());
        assertEquals(0.0, none.values().get("count"));
    }

    @Test
    void aNameLongerThanTheKernelKeepsMatchesOnItsFirst15Characters() throws Exception {
        String longName = "aegis-quartz-" + seconds + "-long";    // 25 characters; comm keeps 15
        Path link = copyOfSleep(longName);
        long pid = detachedExec(link.toString(), "sleep", seconds);
        assertEquals(longName.substring(0, 15), Files.readString(Path.of("/proc/" + pid + "/comm")).strip());

        Measurement m = check("--name", longName);
        assertEquals(Status.OK, m.status(), m.toString());
        assertTrue(m.message().endsWith("PIDs " + pid), m.message());
    }

    @Test
    void neverCountsItsOwnJvmNorProcessesDescendedFromIt() throws Exception {
        // This JVM's own command line, and a child of this JVM (what a command run by a plugin is),
        // both match the regex; only the unrelated process with the same command line counts.
        String self = new String(Files.readAllBytes(Path.of("/proc/self/cmdline")), StandardCharsets.UTF_8).replace('\0', ' ').strip();
        String selfPart = self.substring(0, Math.min(self.length(), 60));
        Process child = new ProcessBuilder("sleep", seconds).redirectErrorStream(true).start();
        children.add(child);
        long other = detached("sleep", seconds);
        String regex = Pattern.quote(selfPart) + "|^sleep " + seconds + "$";

        Measurement m = check("--cmdline", regex);
        assertEquals(Status.OK, m.status(), m.toString());
        assertEquals("1 process matching /" + regex + "/, expected at least 1: PIDs " + other, m.message(),
                "not this JVM (" + ProcessHandle.current().pid() + ") nor its child " + child.pid());
    }

    @Test
    void badArgumentsAreErrorsThatNameTheArgument() throws Exception {
        assertError("give exactly one of --name NAME and --cmdline REGEX");
        assertError("give exactly one of --name NAME and --cmdline REGEX", "--name", "a", "--cmdline", "b");
        assertError("--cmdline '(' is not a valid regular expression", "--cmdline", "(");
        assertError("--min 'two': give a whole number of processes", "--name", "x", "--min", "two");
        assertError("--max 1 is below --min 2", "--name", "x", "--min", "2", "--max", "1");
        assertError("--name '/usr/sbin/sshd': give a process name without a directory", "--name", "/usr/sbin/sshd");
        assertError("bad argument '--user'", "--user", "root");
        assertError("'--name' needs a value", "--name");
    }

    private void assertError(String expected, String... args) throws Exception {
        RunResult r = plugin.run(job(PLUGIN, LIMITS, args), new JobMemory());
        assertEquals(Status.ERROR, r.outcome(), Arrays.toString(args));
        assertTrue(r.reason().contains(expected), r.reason());
    }

    private Measurement check(String... args) throws Exception {
        RunResult r = plugin.run(job(PLUGIN, LIMITS, args), new JobMemory());
        assertEquals(Status.OK, r.outcome(), () -> r.measurements().toString());
        assertEquals(1, r.measurements().size(), r.measurements().toString());
        Measurement m = r.measurements().get(0);
        assertEquals("process_check", m.metric());
        return m;
    }

    /** Starts a command in the background of a shell that exits at once: its PID, no longer our descendant. */
    private long detached(String... command) throws Exception {
        return viaShell(String.join(" ", command), command);
    }

    /** The same, but exec()s FILE with an argv[0] of our choosing (python3's os.execv). */
    private long detachedExec(String file, String argv0, String... args) throws Exception {
        List<String> argv = new ArrayList<>();
        argv.add("/usr/bin/python3");
        argv.add("-c");
        argv.add("import os, sys; os.execv(sys.argv[1], sys.argv[2:])");
        argv.add(file);
        argv.add(argv0);
        argv.addAll(List.of(args));
        return viaShell(argv0 + " " + String.join(" ", args), argv.toArray(String[]::new));
    }

    private long viaShell(String finalCmdline, String... command) throws Exception {
        List<String> argv = new ArrayList<>(List.of("sh", "-c", "\"$@\" </dev/null >/dev/null 2>&1 & echo $!", "sh"));
        argv.addAll(List.of(command));
        Process sh = new ProcessBuilder(argv).redirectErrorStream(true).start();
        children.add(sh);
        String line;
        try (BufferedReader out = new BufferedReader(new InputStreamReader(sh.getInputStream(), StandardCharsets.UTF_8))) {
            line = out.readLine();
        }
        long pid = Long.parseLong(line.strip());
        started.add(pid);
        sh.waitFor();
        // The background shell, then python3, exec into the final program: wait until they have.
        await().atMost(Duration.ofSeconds(30)).until(() -> cmdline(pid).equals(finalCmdline));
        assertFalse(ProcessHandle.current().descendants().anyMatch(h -> h.pid() == pid), "reparented away from this JVM");
        return pid;
    }

    private static String cmdline(long pid) {
        try {
            return new String(Files.readAllBytes(Path.of("/proc/" + pid + "/cmdline")), StandardCharsets.UTF_8).replace('\0', ' ').strip();
        } catch (IOException e) {
            return "";
        }
    }

    private Path copyOfSleep(String name) throws IOException {
        Path copy = Files.copy(Path.of(which("sleep")), dir.resolve(name));
        copy.toFile().setExecutable(true);
        return copy;
    }

    private static String which(String command) {
        for (String d : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            Path p = Path.of(d, command);
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        throw new AssertionError(command + " not found on PATH");
    }

    private static String join(List<Long> pids) {
        StringBuilder b = new StringBuilder();
        for (long p : pids) {
            b.append(b.isEmpty() ? "" : " ").append(p);
        }
        return b.toString();
    }
}
