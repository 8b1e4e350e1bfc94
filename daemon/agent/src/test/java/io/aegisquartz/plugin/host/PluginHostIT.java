package io.aegisquartz.plugin.host;

import com.fasterxml.jackson.databind.JsonNode;
import io.aegisquartz.testing.AgentHome;
import io.aegisquartz.testing.JarBuilder;
import io.aegisquartz.testing.StartedProcesses;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Hostile Groovy and JAR plugins in the plugin host of a real agent process, each beside two healthy
 * jobs that fire every second, one in the host and one in the agent: whatever the hostile plugin does
 * to its host, the agent keeps running and producing the healthy jobs' samples, the culprit's sample
 * says what happened, and the host is replaced.
 *
 * <p>On an agent without the host (main before it), the same plugins run in the agent's JVM and end or
 * freeze it: the healthy jobs stop and these tests fail.
 */
class PluginHostIT {

    static final Path REPO = Path.of(System.getProperty("aegis.repo", "../..")).toAbsolutePath().normalize();
    /**
     * Every healthy sample gap is within the fire interval plus this, plus, for the job in the host, two
     * host starts and two first runs in a fresh host (seconds each on a loaded machine, taken from the
     * log and the samples): the start after the culprit's first run, and the one after its next run,
     * which it makes alone in the new host while the others wait. The figures on a quiet machine are
     * in docs/BENCHMARKS.md (bench/plugin-host).
     */
    static final long GAP_SLACK_MILLIS = 2_500;

    @TempDir
    Path dir;
    /** Compiled scripts, shared by the agents of this class (a compile is a JVM start of its own). */
    @TempDir
    static Path compiled;

    @RegisterExtension
    final StartedProcesses started = new StartedProcesses();

    /** A hostile plugin (a Groovy script's text, or null for a JAR), what its sample must say (in order), and its cron line's options. */
    record Hostile(String name, String file, String status, List<String> message, String options) {
        Hostile(String name, String file, String status, String message, String options) {
            this(name, file, status, List.of(message), options);
        }
    }

    @Test
    void exitsAndHaltsInTheHostCostOnlyTheirOwnRun() throws Exception {
        List<Hostile> hostile = new ArrayList<>();
        String exitCalled = "the plugin called System.exit: the plugin host exited (exit code %d) and was restarted";
        String halted = "the plugin host ended (exit code %d) without running its shutdown hooks (Runtime.halt, or a crash); it was restarted";
        hostile.add(new Hostile("exit0", "System.exit(0)\n", "error", exitCalled.formatted(0), ""));
        hostile.add(new Hostile("halt0_reflect", "Runtime.class.getMethod('halt', int).invoke(Runtime.runtime, 0)\n", "error",
                halted.formatted(0), ""));
        hostile.add(new Hostile("exit3_reflect", "Class.forName('java.lang.System').getMethod('exit', int).invoke(null, 3)\n", "error",
                exitCalled.formatted(3), ""));
        hostile.add(new Hostile("halt3", "Runtime.runtime.halt(3)\n", "error", halted.formatted(3), ""));
        hostile.add(new Hostile("exit75", "System.exit(75)\n", "error", exitCalled.formatted(75), ""));
        hostile.add(new Hostile("halt75_reflect", "Runtime.class.getMethod('halt', int).invoke(Runtime.runtime, 75)\n", "error",
                halted.formatted(75), ""));
        // From a thread of its own: still the run's (the thread is in its thread group).
        hostile.add(new Hostile("exit_from_thread", "def t = new Thread({ System.exit(0) } as Runnable)\nt.start()\nt.join()\n", "error",
                exitCalled.formatted(0), ""));
        beside(hostile, "", 0);
    }

    @Test
    void freezingExhaustingAndLeavingThreadsCostOnlyTheHost() throws Exception {
        List<Hostile> hostile = new ArrayList<>();
        hostile.add(new Hostile("freeze", """
                // Suspends every other thread of its JVM (the reader, the watchdog, the other runs), then itself.
                for (Thread t : Thread.getAllStackTraces().keySet()) {
                    if (t != Thread.currentThread()) { t.suspend() }
                }
                Thread.currentThread().suspend()
                """, "killed", "the plugin host stopped answering for 2s while runs were in flight (its threads suspended or deadlocked)"
                + " and was killed; it was restarted", ""));
        hostile.add(new Hostile("allocate", "def keep = []\nwhile (true) { keep << new long[1 << 17] }\n", "error",
                List.of("OutOfMemoryError: Java heap space", "; the plugin host ran out of memory (heap cap 32MiB) and was restarted"), ""));
        hostile.add(new Hostile("spin", """
                def t = new Thread({ while (true) { } } as Runnable)
                t.daemon = true
                t.start()
                emit('spin', [started: 1])
                """, "error", "the run left 1 thread(s) running after it ended ('Thread-", "kill_grace=200ms"));
        Path jar = deafSampler();
        hostile.add(new Hostile("deaf", null, "timeout", "timeout: stopped at the 1s wall-time limit; its thread ignored the interrupt for 300ms, "
                + "so the plugin host was killed and restarted to stop it", "timeout=1s kill_grace=300ms"));
        // A freeze is noticed after the liveness (2 s): the healthy host job may wait that long more.
        beside(hostile, "[plugin_host]\nheap_max = 32MiB\n", 2_000);
        assertTrue(Files.exists(jar));
    }

    /** A JAR sampler that spins and swallows interrupts: nothing inside a JVM can stop it. */
    private Path deafSampler() throws IOException {
        Path classes = dir.resolve("deaf-classes");
        Files.createDirectories(dir.resolve("home/plugins-user"));
        JarBuilder.compile(Map.of("org/example/Deaf.java", """
                package org.example;
                import io.aegisquartz.api.*;
                public class Deaf implements Sampler {
                    public void sample(SampleContext ctx) {
                        long x = 0;
                        while (true) {
                            x++;
                            Thread.interrupted();
                        }
                    }
                }
                """), classes);
        JarBuilder.services(classes, "org.example.Deaf");
        return JarBuilder.jar(dir.resolve("home/plugins-user/deaf.jar"), classes);
    }

    /**
     * Starts an agent with the two healthy jobs, then adds each hostile job in turn until its failed
     * sample appears, and removes it again; checks the culprits' samples, the healthy jobs' gaps, that
     * the agent is the same process throughout and that each culprit cost a host.
     */
    private void beside(List<Hostile> hostile, String ini, long extraGapMillis) throws Exception {
        AgentHome home = home(ini);
        for (Hostile h : hostile) {
            if (h.file() != null) {
                home.userPlugin(h.name() + ".groovy", h.file());
            }
        }
        String healthy = healthyLines(home);
        home.cron("aegis_quartz.conf.user", healthy);
        Process agent = agent(home);
        awaitAgent(home, "samples of both healthy jobs", () -> ok(home, "healthy_host").size() >= 2 && ok(home, "healthy_agent").size() >= 2);
        long from = System.currentTimeMillis();
        for (Hostile h : hostile) {
            int hostsBefore = hostStarts(home).size();
            String plugin = h.file() != null ? "user/" + h.name() + ".groovy" : "user/" + h.name() + ".jar";
            home.cron("aegis_quartz.conf.user", healthy + "[* * * * * ?] name=" + h.name() + " " + h.options() + " " + plugin + "\n");
            awaitAgent(home, h.name() + "'s failed run", () -> !home.samples(h.name(), h.status()).isEmpty());
            JsonNode culprit = home.samples(h.name(), h.status()).get(0);
            String message = culprit.get("message").asText();
            assertTrue(message.startsWith(h.message().get(0)), h.name() + ": " + message);
            int at = 0;
            for (String part : h.message()) {
                at = message.indexOf(part, at);
                assertTrue(at >= 0, h.name() + " says '" + part + "': " + message);
            }
            home.cron("aegis_quartz.conf.user", healthy);
            awaitAgent(home, "a new host after " + h.name(), () -> hostStarts(home).size() > hostsBefore);
            // The healthy host job runs in the newest host (a second fire of the culprit may have cost another).
            awaitAgent(home, "the healthy job in the new host after " + h.name(), () -> {
                List<Long> hosts = hostStarts(home);
                long newest = hosts.get(hosts.size() - 1);
                return ok(home, "healthy_host").stream().anyMatch(s -> s.path("values").path("pid").asLong() == newest);
            });
        }
        long to = System.currentTimeMillis();
        assertTrue(agent.isAlive(), "the agent outlived every hostile plugin");
        // (A fire may be skipped on a loaded machine while a run takes more than a second; the gaps below say how long.)
        assertEquals(List.of(), home.samples("healthy_agent", s -> List.of("error", "timeout", "cpu_limit", "killed")
                .contains(s.get("status").asText())), "the job in the agent never failed");
        long slowestStart = hostStartMillis(home).stream().mapToLong(Long::longValue).max().orElse(0);
        long slowestRun = (long) ok(home, "healthy_host").stream().mapToDouble(n -> n.get("duration_ms").asDouble()).max().orElse(0);
        for (String job : List.of("healthy_agent", "healthy_host")) {
            long gap = longestGap(ok(home, job), from, to);
            long allowed = 1_000 + GAP_SLACK_MILLIS + (job.equals("healthy_host") ? 2 * (slowestStart + slowestRun) + extraGapMillis : 0);
            assertTrue(gap <= allowed, job + ": " + gap + " ms without a sample (allowed " + allowed + " ms); log:\n" + log(home));
        }
        Long agentPid = ok(home, "healthy_agent").get(0).path("values").path("pid").asLong();
        assertEquals(agent.pid(), agentPid, "the in-agent job runs in the agent");
        assertTrue(ok(home, "healthy_host").stream().noneMatch(s -> s.path("values").path("pid").asLong() == agentPid),
                "the host job never ran in the agent");
        agent.destroy();
        assertTrue(agent.waitFor(30, TimeUnit.SECONDS));
    }

    @Test
    void isolationInprocRunsInTheAgentAndNoHostRunsWhenNoJobNeedsOne() throws Exception {
        AgentHome home = home("");
        home.userPlugin("pid.groovy", "emit('pid', [pid: ProcessHandle.current().pid()])\n");
        home.userPlugin("tick.sh", "#!/bin/sh\necho '{\"metric\":\"tick\"}'\n");
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] name=inproc isolation=inproc user/pid.groovy\n[* * * * * ?] name=exec user/tick.sh\n");
        Process agent = agent(home);
        awaitAgent(home, "three samples of each job", () -> ok(home, "inproc").size() >= 3 && ok(home, "exec").size() >= 3);
        assertEquals(agent.pid(), ok(home, "inproc").get(0).path("values").path("pid").asLong());
        assertEquals(List.of(), javaChildren(agent), "no plugin host while no job runs a plugin in one");
        assertEquals(List.of(), hostStarts(home));

        // A job that needs the host starts it; removing it stops it again.
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] name=inproc isolation=inproc user/pid.groovy\n[* * * * * ?] name=host user/pid.groovy\n");
        awaitAgent(home, "a sample from the host", () -> !ok(home, "host").isEmpty());
        long hostPid = ok(home, "host").get(0).path("values").path("pid").asLong();
        assertNotEquals(agent.pid(), hostPid);
        assertEquals(List.of(hostPid), javaChildren(agent), "the host is the agent's child");
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] name=inproc isolation=inproc user/pid.groovy\n");
        awaitAgent(home, "the host to stop", () -> javaChildren(agent).isEmpty());
        assertTrue(log(home).contains("plugin host (pid " + hostPid + ") stopped: no job runs a plugin in it any more"), log(home));
        agent.destroy();
        assertTrue(agent.waitFor(30, TimeUnit.SECONDS));
    }

    @Test
    void runPluginReportsAnExitHaltOrOutOfMemoryAsAnError() throws Exception {
        AgentHome home = home("[plugin_host]\nheap_max = 32MiB\n");
        home.userPlugin("exit0.groovy", "System.exit(0)\n");
        home.userPlugin("halt5.groovy", "Runtime.runtime.halt(5)\n");
        home.userPlugin("allocate.groovy", "def keep = []\nwhile (true) { keep << new long[1 << 17] }\n");
        home.userPlugin("fine.groovy", "emit('fine', [v: 1])\n");

        Cmd fine = runPlugin(home, "user/fine.groovy");
        assertEquals(0, fine.code(), fine.out());
        Cmd exit = runPlugin(home, "user/exit0.groovy");
        assertEquals(3, exit.code(), exit.out());
        assertTrue(exit.out().contains("status=error metric=exit0 message=\"the plugin called System.exit: the plugin host exited (exit code 0)"),
                exit.out());
        Cmd halt = runPlugin(home, "user/halt5.groovy");
        assertEquals(3, halt.code(), halt.out());
        assertTrue(halt.out().contains("the plugin host ended (exit code 5) without running its shutdown hooks"), halt.out());
        Cmd oom = runPlugin(home, "user/allocate.groovy");
        assertEquals(3, oom.code(), oom.out());
        assertTrue(oom.out().contains("OutOfMemoryError: Java heap space at allocate.groovy:2; the plugin host ran out of memory (heap cap 32MiB)"),
                oom.out());

        // In run-plugin's own JVM: System.exit is caught by a shutdown hook and reported ...
        Cmd inproc = runPlugin(home, "--isolation", "inproc", "user/exit0.groovy");
        assertEquals(3, inproc.code(), inproc.out());
        assertTrue(inproc.out().contains("status=error metric=exit0 message=\"the plugin called System.exit; in the agent it would have ended the agent"),
                inproc.out());
        assertFalse(inproc.out().contains("run-plugin's JVM before its run was over"), "reported once:\n" + inproc.out());
        // ... Runtime.halt and running out of heap run no hook: the launcher prints the error the command
        // left for it before the run, with the JVM's exit code. halt(0) must not read as success.
        home.userPlugin("halt0.groovy", "Runtime.runtime.halt(0)\n");
        for (String plugin : List.of("halt0", "halt5")) {
            Cmd inprocHalt = runPlugin(home, "--isolation", "inproc", "user/" + plugin + ".groovy");
            assertEquals(3, inprocHalt.code(), inprocHalt.out());
            assertTrue(inprocHalt.out().contains("status=error metric=" + plugin + " message=\"the plugin ended run-plugin's JVM before its run was over"),
                    inprocHalt.out());
            assertTrue(inprocHalt.out().contains("aegis-quartz: this JVM ended with exit code " + plugin.substring(4) + " in the middle of the plugin's run"),
                    inprocHalt.out());
        }
        // One allocation past the heap: an OutOfMemoryError before any allocation budget check can see it.
        home.userPlugin("huge.groovy", "def a = new long[400_000_000]\nemit('huge', [n: a.length])\n");
        Cmd inprocOom = runPlugin(home, "--isolation", "inproc", "user/huge.groovy");
        assertEquals(3, inprocOom.code(), inprocOom.out());
        assertTrue(inprocOom.out().contains("status=error metric=huge message=\"the plugin ended run-plugin's JVM before its run was over"), inprocOom.out());
        assertTrue(inprocOom.out().contains("aegis-quartz: the plugin ran this JVM out of Java heap (exit code 3)"), inprocOom.out());
        // A run that ends normally leaves nothing for the launcher to add.
        Cmd inprocFine = runPlugin(home, "--isolation", "inproc", "user/fine.groovy");
        assertEquals(0, inprocFine.code(), inprocFine.out());
        assertFalse(inprocFine.out().contains("status=error"), inprocFine.out());

        // 'test' runs configured jobs in its own JVM the same way: an exit or a halt there is an error, never success.
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] name=exits isolation=inproc user/exit0.groovy\n"
                + "[* * * * * ?] name=halts isolation=inproc user/halt0.groovy\n[* * * * * ?] name=fine user/fine.groovy\n");
        Cmd testExit = command(home, "test", "exits");
        assertEquals(3, testExit.code(), testExit.out());
        assertTrue(testExit.out().contains("status=error metric=exit0 message=\"the plugin called System.exit; in the agent it would have ended the agent"),
                testExit.out());
        Cmd testHalt = command(home, "test", "halts");
        assertEquals(3, testHalt.code(), testHalt.out());
        assertTrue(testHalt.out().contains("status=error metric=halt0 message=\"the plugin ended test's JVM before its run was over"), testHalt.out());
        assertTrue(testHalt.out().contains("aegis-quartz: this JVM ended with exit code 0 in the middle of the plugin's run"), testHalt.out());
        Cmd testFine = command(home, "test", "fine");
        assertEquals(0, testFine.code(), testFine.out());
    }

    // ---------------------------------------------------------------- helpers

    private AgentHome home(String ini) throws IOException {
        AgentHome home = new AgentHome(dir.resolve("home"), "[plugins]\nreload_delay = 200ms\ncompiled_dir = " + compiled + "\n" + ini);
        Files.writeString(home.home().resolve("plugins-user/healthy.groovy"), "emit('healthy', [pid: ProcessHandle.current().pid()])\n");
        return home;
    }

    private static String healthyLines(AgentHome home) {
        return "[* * * * * ?] name=healthy_host user/healthy.groovy\n[* * * * * ?] name=healthy_agent isolation=inproc user/healthy.groovy\n";
    }

    private Process agent(AgentHome home) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String cp = REPO.resolve("daemon/agent/target/aegis-quartz.jar") + File.pathSeparator + REPO.resolve("daemon/agent/target/lib/*");
        Process p = new ProcessBuilder(java, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx128m", "-XX:+ExitOnOutOfMemoryError", "-cp", cp,
                "io.aegisquartz.cli.Main", "--home", home.home().toString(), "run")
                .redirectErrorStream(true).redirectOutput(dir.resolve("agent.out").toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        started.add(p);
        return p;
    }

    record Cmd(int code, String out) {
    }

    /** run-plugin through the launcher, as a user runs it. */
    private Cmd runPlugin(AgentHome home, String... args) throws Exception {
        List<String> all = new ArrayList<>(List.of("run-plugin"));
        all.addAll(List.of(args));
        return command(home, all.toArray(String[]::new));
    }

    /** A command through the launcher, as a user runs it. */
    private Cmd command(AgentHome home, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(REPO.resolve("daemon/bin/aegis-quartz").toString(), "--home", home.home().toString()));
        cmd.addAll(List.of(args));
        Path out = dir.resolve("command.out");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        started.add(p);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), String.join(" ", cmd) + " did not end");
        return new Cmd(p.exitValue(), Files.readString(out));
    }

    private static List<JsonNode> ok(AgentHome home, String job) {
        return home.samples(job, "ok");
    }

    private static final Pattern HOST_STARTED = Pattern.compile("plugin host started: pid (\\d+), .* in (\\d+) ms");

    /** Pids of the hosts started so far, in order, from the agent's log. */
    private static List<Long> hostStarts(AgentHome home) {
        List<Long> pids = new ArrayList<>();
        Matcher m = HOST_STARTED.matcher(log(home));
        while (m.find()) {
            pids.add(Long.parseLong(m.group(1)));
        }
        return pids;
    }

    private static List<Long> hostStartMillis(AgentHome home) {
        List<Long> ms = new ArrayList<>();
        Matcher m = HOST_STARTED.matcher(log(home));
        while (m.find()) {
            ms.add(Long.parseLong(m.group(2)));
        }
        return ms;
    }

    private static List<Long> javaChildren(Process agent) {
        return agent.toHandle().children().filter(c -> c.info().commandLine().orElse("").contains(PluginHostMain.class.getName()))
                .map(ProcessHandle::pid).toList();
    }

    /** The longest time between two samples (or the window's ends) within [from, to]. */
    private static long longestGap(List<JsonNode> samples, long from, long to) {
        long last = from;
        long longest = 0;
        for (JsonNode s : samples) {
            long t = Instant.parse(s.get("time").asText()).toEpochMilli();
            if (t < from || t > to) {
                continue;
            }
            longest = Math.max(longest, t - last);
            last = t;
        }
        return Math.max(longest, to - last);
    }

    private static String log(AgentHome home) {
        try {
            Path f = home.home().resolve("log/aegis_quartz.log");
            return Files.exists(f) ? Files.readString(f) : "";
        } catch (IOException e) {
            return e.toString();
        }
    }

    private void awaitAgent(AgentHome home, String what, Callable<Boolean> condition) throws IOException {
        try {
            await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(200)).until(condition);
        } catch (ConditionTimeoutException e) {
            Path out = dir.resolve("agent.out");
            fail("no " + what + " within 90 s; agent output:\n" + (Files.exists(out) ? Files.readString(out) : "") + "\nlog:\n" + log(home)
                    + "\nthreads:\n" + threadDumps());
        }
    }

    /** What every agent this test started is doing, for a failure that needs explaining. */
    private String threadDumps() {
        StringBuilder b = new StringBuilder();
        for (ProcessHandle h : started.handles()) {
            try {
                Process p = new ProcessBuilder("jcmd", Long.toString(h.pid()), "Thread.print").redirectErrorStream(true).start();
                b.append(new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8));
                p.waitFor(30, TimeUnit.SECONDS);
            } catch (IOException | InterruptedException ex) {
                b.append(ex);
            }
        }
        return b.toString();
    }
}
