package io.aegisquartz.plugin.host;

import io.aegisquartz.config.JobOptions;
import io.aegisquartz.config.JobSpec;
import io.aegisquartz.config.PluginHostConfig;
import io.aegisquartz.plugin.JobMemory;
import io.aegisquartz.plugin.RunResult;
import io.aegisquartz.sample.Status;
import io.aegisquartz.testing.HostileExecutables;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.aegisquartz.testing.TestJobs.message;
import static io.aegisquartz.testing.TestJobs.alive;
import static io.aegisquartz.testing.TestJobs.job;
import static io.aegisquartz.testing.TestJobs.limits;
import static io.aegisquartz.testing.TestJobs.pids;
import static io.aegisquartz.testing.TestJobs.script;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Executables run through the exec host (#17 item 7; docs/SECURITY.md, "Executables as another user"):
 * a real host JVM, started here as the agent's child over pipes (the packaged service reaches the same
 * host code through systemd's socket, as another user), real processes, and the hostile cases that
 * exist for a run in the agent. What the agent reports is what the host's runner observed, never what
 * the plugin printed.
 */
class ExecHostTest {

    @TempDir
    Path dir;

    private PluginHostClient client;
    private final List<HostPlugin> plugins = new ArrayList<>();
    private final List<Long> strays = new ArrayList<>();

    @BeforeEach
    void start() {
        client = new PluginHostClient(new PluginHostConfig(32 << 20, Duration.ofSeconds(2), null));
    }

    @AfterEach
    void stop() {
        // Processes a failing run left behind: ours, by pid.
        for (long pid : strays) {
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        }
        plugins.forEach(HostPlugin::close);
        client.close();
    }

    private RunResult run(Path plugin, boolean copy, JobSpec job) throws Exception {
        HostPlugin p = client.executable(plugin, copy);
        plugins.add(p);
        return p.run(job, new JobMemory());
    }

    private List<Long> track(Path pidFile) {
        List<Long> p = Files.exists(pidFile) ? pids(pidFile) : List.of();
        strays.addAll(p);
        return p;
    }

    @Test
    void anExecutableRunsInTheHostWithItsExitCodeAndPerfdataAsInTheAgent() throws Exception {
        // The wrapper's parent is whoever started the run: the host's JVM, not the agent's.
        Path plugin = script(dir, "check.sh", """
                #!/bin/sh
                echo "DISK CRITICAL - starter $(ps -o ppid= -p $PPID | tr -d ' ') | used=91%;80;90"
                exit 2
                """);
        RunResult r = run(plugin, false, job(plugin, limits(Duration.ofSeconds(20), Duration.ofSeconds(10))));

        assertEquals(Status.CRITICAL, r.measurements().get(0).status(), message(r));
        assertEquals(91.0, r.measurements().get(0).values().get("used"));
        assertTrue(client.pid() > 0 && client.pid() != ProcessHandle.current().pid());
        assertTrue(message(r).contains("starter " + client.pid()), "run by the host (pid " + client.pid() + "): " + message(r));
    }

    @Test
    void anExecutableTheHostCannotReadIsSentAndRunFromTheHostsOwnCopy() throws Exception {
        Path plugin = script(dir, "copied.sh", "#!/bin/sh\necho \"COPY OK - at $0 in $(pwd) | x=1\"\n");
        RunResult r = run(plugin, true, job(plugin, limits(Duration.ofSeconds(20), Duration.ofSeconds(10))));

        assertEquals(Status.OK, r.outcome(), message(r));
        assertTrue(message(r).contains("/aegis-exec-"), message(r));
        assertTrue(!message(r).contains(plugin.toString()), "not the agent's file: " + message(r));
    }

    @Test
    void aForgedExitMarkerAfterKillingTheWrapperIsReportedAsWhatHappenedWithItsCpuAndItsSessionKilled() throws Exception {
        Path pidFile = dir.resolve("pids");
        Path plugin = script(dir, "forge.sh", HostileExecutables.FORGED_EXIT_MARKER);
        RunResult r = run(plugin, false, job(plugin, limits(Duration.ofSeconds(60), Duration.ofSeconds(30)), pidFile.toString()));
        List<Long> pids = track(pidFile);

        assertEquals(Status.KILLED, r.outcome(), message(r));
        assertTrue(message(r).contains("wrapper"), message(r));
        assertTrue(r.cpuNanos() >= TimeUnit.MILLISECONDS.toNanos(150), "the loop's CPU is counted: " + r.cpuNanos());
        // A host the agent started is its child: its CPU reaches the governor through the host's process, never twice.
        assertEquals(0, client.externalRunCpuNanos());
        assertEquals(2, pids.size(), pids.toString());
        for (long pid : pids) {
            await().atMost(Duration.ofSeconds(10)).until(() -> !alive(pid));
        }
    }

    @Test
    void aSetsidEscaperHoldingThePipeNeverMakesAHealthyJobFail() throws Exception {
        Path pidFile = dir.resolve("pids");
        Path escaper = script(dir, "escaper.sh", HostileExecutables.SETSID_ESCAPER);
        Path healthy = script(dir, "healthy.sh", "#!/bin/sh\necho 'HEALTHY OK | up=1'\n");
        JobOptions opts = limits(Duration.ofSeconds(20), Duration.ofSeconds(10));
        JobSpec escaperJob = job(escaper, opts, pidFile.toString());
        JobSpec healthyJob = job(healthy, opts);
        HostPlugin e = client.executable(escaper, false);
        HostPlugin h = client.executable(healthy, false);
        plugins.add(e);
        plugins.add(h);
        List<RunResult> escaped = new ArrayList<>();
        try {
            // Past the host's 16 readers, two held per escaped run if they were never freed.
            for (int i = 0; i < 10; i++) {
                escaped.add(e.run(escaperJob, new JobMemory()));
                RunResult ok = h.run(healthyJob, new JobMemory());
                assertEquals(Status.OK, ok.outcome(), "run " + i + ": " + message(ok));
            }
        } finally {
            track(pidFile);
        }
        for (RunResult x : escaped) {
            // Killed with its cgroup (OK), or named as the escaper holding its pipe (sessions only).
            assertTrue(x.outcome() == Status.OK || message(x).contains("still held its output pipe"), x.outcome() + ": " + message(x));
        }
    }

    @Test
    void twoHundredSleepersInProcessGroupsOfTheirOwnAreAllGoneAfterTheRun() throws Exception {
        Path pidFile = dir.resolve("pids");
        Path plugin = script(dir, "fork200.sh", HostileExecutables.FORK_200_SLEEPERS);
        RunResult r = run(plugin, false, job(plugin, limits(Duration.ofSeconds(60), Duration.ofSeconds(30)), pidFile.toString()));
        List<Long> pids = track(pidFile);

        assertEquals(Status.OK, r.outcome(), message(r));
        assertEquals(200, pids.size());
        await().atMost(Duration.ofSeconds(10)).until(() -> pids.stream().noneMatch(ExecHostTest::aliveQuietly));
    }

    @Test
    void outputPastOutputMaxClosesThePipeAndOnlyOutputMaxComesBack() throws Exception {
        Path plugin = script(dir, "flood.sh", HostileExecutables.OUTPUT_FLOOD);
        long t0 = System.nanoTime();
        RunResult r = run(plugin, false, job(plugin, limits(Duration.ofSeconds(30), Duration.ofSeconds(20)).withOutputMax(200 * 1024)));
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);

        assertEquals(Status.KILLED, r.outcome(), message(r));
        assertTrue(message(r).contains("SIGPIPE") && message(r).contains("output_max"), message(r));
        assertTrue(r.truncated());
        assertTrue(ms < 10_000, "ended by SIGPIPE, not by the 30 s limit: " + ms + " ms");
    }

    @Test
    void aRunPastItsTimeoutIsStoppedByTheHostsRunnerWithEverythingItStarted() throws Exception {
        Path pidFile = dir.resolve("pids");
        Path plugin = script(dir, "stubborn.sh", HostileExecutables.IGNORES_SIGTERM);
        RunResult r = run(plugin, false, job(plugin, limits(Duration.ofSeconds(1), Duration.ofSeconds(10)), pidFile.toString()));
        List<Long> pids = track(pidFile);

        assertEquals(Status.TIMEOUT, r.outcome(), message(r));
        assertTrue(message(r).contains("then SIGKILL"), "the runner's own report, not the agent's deadline: " + message(r));
        assertEquals(2, pids.size());
        for (long pid : pids) {
            await().atMost(Duration.ofSeconds(10)).until(() -> !alive(pid));
        }
    }

    @Test
    void anExecutableThatKillsItsHostIsReportedAndTheNextRunGetsANewHost() throws Exception {
        // Same user as its host under the packaged service: it may signal it. That costs its run and the host.
        Path plugin = script(dir, "regicide.sh", "#!/bin/sh\nkill -s KILL $(ps -o ppid= -p $PPID)\nsleep 5\necho 'SURVIVED OK'\n");
        Path healthy = script(dir, "healthy.sh", "#!/bin/sh\necho 'HEALTHY OK | up=1'\n");
        HostPlugin h = client.executable(healthy, false);
        plugins.add(h);
        JobOptions opts = limits(Duration.ofSeconds(20), Duration.ofSeconds(10));
        long first = client.pid();
        RunResult r = run(plugin, false, job(plugin, opts));

        assertNotEquals(Status.OK, r.outcome(), message(r));
        assertTrue(message(r).contains("plugin host"), message(r));
        RunResult ok = h.run(job(healthy, opts), new JobMemory());
        assertEquals(Status.OK, ok.outcome(), message(ok));
        assertNotEquals(first, client.pid());
    }

    @Test
    void theCatalogRunsAnExecutableInTheExecHostUnlessItsLineSaysInprocOrUser() throws Exception {
        Path plugin = script(dir, "where.sh", "#!/bin/sh\necho \"WHERE OK - starter $(ps -o ppid= -p $PPID | tr -d ' ')\"\n");
        JobOptions opts = limits(Duration.ofSeconds(20), Duration.ofSeconds(10));
        try (io.aegisquartz.plugin.RunnerThreads threads = new io.aegisquartz.plugin.RunnerThreads(4);
             io.aegisquartz.plugin.catalog.PluginCatalog catalog = new io.aegisquartz.plugin.catalog.PluginCatalog(
                     new io.aegisquartz.plugin.InJvmRunner(new io.aegisquartz.plugin.AbandonedThreads()),
                     new io.aegisquartz.plugin.exec.ProcessRunner(threads), io.aegisquartz.config.StrictModes.off(), null, false, null, client)) {
            JobSpec hosted = job(plugin, opts.withIsolation(JobOptions.Isolation.HOST));
            RunResult h = catalog.check(hosted).run(hosted, new JobMemory());
            assertEquals(Status.OK, h.outcome(), message(h));
            assertTrue(message(h).contains("starter " + client.pid()), "in the exec host (pid " + client.pid() + "): " + message(h));

            long agent = ProcessHandle.current().pid();
            JobSpec inproc = job(plugin, opts.withIsolation(JobOptions.Isolation.INPROC));
            RunResult a = catalog.check(inproc).run(inproc, new JobMemory());
            assertTrue(message(a).contains("starter " + agent), "inproc: a process of the agent (" + agent + "): " + message(a));

            JobSpec asUser = job(plugin, opts.withIsolation(JobOptions.Isolation.HOST)
                    .withUser(new io.aegisquartz.config.RunAs(System.getProperty("user.name"), io.aegisquartz.config.StrictModes.ownUid(),
                            io.aegisquartz.config.StrictModes.ownUid())));
            RunResult u = catalog.check(asUser).run(asUser, new JobMemory());
            assertTrue(message(u).contains("starter " + agent), "user=: a process of the agent (" + agent + "): " + message(u));
        }
    }

    private static boolean aliveQuietly(long pid) {
        return alive(pid);
    }
}
