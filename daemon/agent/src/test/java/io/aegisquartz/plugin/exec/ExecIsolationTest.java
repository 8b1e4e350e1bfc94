package io.aegisquartz.plugin.exec;

import io.aegisquartz.config.JobOptions;
import io.aegisquartz.config.JobSpec;
import io.aegisquartz.plugin.JobMemory;
import io.aegisquartz.plugin.RunResult;
import io.aegisquartz.plugin.RunnerThreads;
import io.aegisquartz.sample.Status;
import io.aegisquartz.testing.HostileExecutables;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.lang.management.ManagementFactory;
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
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Executables written by a hostile author, run as real processes, each with a cgroup per run (where
 * this machine lets the test make one, see {@link TestCgroup}) and with the session fallback.
 */
class ExecIsolationTest {

    /** How a run is isolated. */
    enum Mode { CGROUP, SESSION }

    @TempDir
    Path dir;

    private final List<AutoCloseable> cleanup = new ArrayList<>();
    private final List<Long> strays = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        // Processes a failing run left behind: ours, by pid.
        for (long pid : strays) {
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        }
        for (int i = cleanup.size() - 1; i >= 0; i--) {
            cleanup.get(i).close();
        }
    }

    /** A runner for {@code mode} with the agent's default number of pipe readers (4 workers). */
    private ProcessRunner runner(Mode mode) {
        RunnerThreads threads = new RunnerThreads(20);
        cleanup.add(threads);
        if (mode == Mode.SESSION) {
            return new ProcessRunner(threads, CgroupRuns.none("sessions only, as the test asked"));
        }
        TestCgroup cg = TestCgroup.create();
        cleanup.add(cg);
        return new ProcessRunner(threads, cg.runs());
    }

    private static RunResult run(ProcessRunner runner, JobSpec job) throws InterruptedException {
        return new ExecPlugin(job.pluginPath(), runner).run(job, new JobMemory());
    }

    private List<Long> track(Path pidFile) {
        List<Long> p = Files.exists(pidFile) ? pids(pidFile) : List.of();
        strays.addAll(p);
        return p;
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void aForgedExitMarkerAfterKillingTheWrapperIsReportedAsWhatHappenedWithItsCpuAndItsSessionKilled(Mode mode) throws Exception {
        // Burns CPU, leaves a child in its session, kills the agent's wrapper (its parent), writes what the
        // old wrapper wrote on stderr (exit 0, no CPU) and stays: it must neither pass as 'ok' nor keep running.
        Path pidFile = dir.resolve("pids");
        Path plugin = script(dir, "forge.sh", HostileExecutables.FORGED_EXIT_MARKER);
        RunResult r = run(runner(mode), job(plugin, limits(Duration.ofSeconds(60), Duration.ofSeconds(30)), pidFile.toString()));
        List<Long> pids = track(pidFile);

        assertEquals(Status.KILLED, r.outcome(), message(r));
        assertTrue(message(r).contains("wrapper"), message(r));
        assertTrue(r.cpuNanos() >= TimeUnit.MILLISECONDS.toNanos(150), "the loop's CPU is counted: " + r.cpuNanos());
        assertEquals(2, pids.size(), pids.toString());
        for (long pid : pids) {
            await().atMost(Duration.ofSeconds(5)).until(() -> !alive(pid));
        }
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void aSetsidEscaperHoldingThePipeNeverMakesAHealthyJobFail(Mode mode) throws Exception {
        ProcessRunner runner = runner(mode);
        Path pidFile = dir.resolve("pids");
        Path escaper = script(dir, "escaper.sh", HostileExecutables.SETSID_ESCAPER);
        Path healthy = script(dir, "healthy.sh", "#!/bin/sh\necho 'HEALTHY OK | up=1'\n");
        JobOptions opts = limits(Duration.ofSeconds(20), Duration.ofSeconds(10));
        JobSpec escaperJob = job(escaper, opts, pidFile.toString());
        JobSpec healthyJob = job(healthy, opts);
        List<RunResult> escaped = new ArrayList<>();
        try {
            // Past the old limit: 20 readers, two held per escaped run.
            for (int i = 0; i < 14; i++) {
                escaped.add(run(runner, escaperJob));
                RunResult h = run(runner, healthyJob);
                assertEquals(Status.OK, h.outcome(), "run " + i + ": " + message(h));
            }
        } finally {
            track(pidFile);
        }
        for (RunResult e : escaped) {
            if (mode == Mode.SESSION) {
                // Its own error, naming what happened.
                assertEquals(Status.ERROR, e.outcome(), message(e));
                assertTrue(message(e).contains("still held its output pipe"), message(e));
            } else {
                assertEquals(Status.OK, e.outcome(), "the cgroup killed what it left: " + message(e));
            }
        }
        if (mode == Mode.CGROUP) {
            for (long pid : pids(pidFile)) {
                assertFalse(alive(pid), "cgroup.kill ended escaper " + pid);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void twoHundredSleepersInProcessGroupsOfTheirOwnAreAllGoneAfterTheRun(Mode mode) throws Exception {
        // bash's 'set -m' gives each background job a process group of its own, so killing the plugin's group
        // is not enough; their output goes to /dev/null, so no pipe gives them away either.
        Path pidFile = dir.resolve("pids");
        Path plugin = script(dir, "fork200.sh", HostileExecutables.FORK_200_SLEEPERS);
        RunResult r = run(runner(mode), job(plugin, limits(Duration.ofSeconds(60), Duration.ofSeconds(30)), pidFile.toString()));
        List<Long> pids = track(pidFile);

        assertEquals(Status.OK, r.outcome(), message(r));
        assertEquals(200, pids.size());
        await().atMost(Duration.ofSeconds(10)).until(() -> pids.stream().noneMatch(ExecIsolationTest::aliveQuietly));
    }

    @ParameterizedTest
    @EnumSource(value = Mode.class, names = "CGROUP")
    void aDoubleForkedSetsidEscaperIsKilledByCgroupKill(Mode mode) throws Exception {
        Path pidFile = dir.resolve("pids");
        Path plugin = script(dir, "daemonize.sh", """
                #!/bin/sh
                ( setsid sh -c 'echo $$ >> "$1"; exec sleep 300' _ "$1" >/dev/null 2>&1 </dev/null & )
                while [ ! -s "$1" ]; do :; done
                echo 'DAEMON OK | x=1'
                """);
        RunResult r = run(runner(mode), job(plugin, limits(Duration.ofSeconds(20), Duration.ofSeconds(10)), pidFile.toString()));
        List<Long> pids = track(pidFile);

        assertEquals(Status.OK, r.outcome(), message(r));
        assertEquals(1, pids.size());
        // The run returns only once its cgroup is empty.
        assertFalse(alive(pids.get(0)), "escaped daemon " + pids.get(0) + " still alive");
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void outputPastOutputMaxClosesThePipeAndThePluginDiesOfSigpipeQuickly(Mode mode) throws Exception {
        Path plugin = script(dir, "flood.sh", HostileExecutables.OUTPUT_FLOOD);
        long t0 = System.nanoTime();
        RunResult r = run(runner(mode), job(plugin, limits(Duration.ofSeconds(30), Duration.ofSeconds(20)).withOutputMax(64 * 1024)));
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);

        assertEquals(Status.KILLED, r.outcome(), message(r));
        assertTrue(message(r).contains("SIGPIPE") && message(r).contains("output_max"), message(r));
        assertTrue(r.truncated());
        assertTrue(ms < 5_000, "ended by SIGPIPE, not by the 30 s limit: " + ms + " ms");
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void twoGigabytesOfStderrCostTheAgentASmallShareOfThePluginsCpu(Mode mode) throws Exception {
        // 256 writers of 8 MiB each: 2 GiB offered on stderr. The plugin ignores SIGPIPE, so once the
        // agent stops reading each writer fails at once with EPIPE; the plugin's own CPU is the forks.
        Path plugin = script(dir, "stderr2g.sh", """
                #!/bin/sh
                trap '' PIPE
                i=0
                while [ $i -lt 256 ]; do head -c 8388608 /dev/zero >&2 2>/dev/null; i=$((i+1)); done
                echo 'NOISY OK | x=1'
                """);
        ProcessRunner runner = runner(mode);
        java.lang.management.OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
        long before = ((com.sun.management.OperatingSystemMXBean) os).getProcessCpuTime();
        RunResult r = run(runner, job(plugin, limits(Duration.ofSeconds(120), Duration.ofSeconds(60))));
        long agent = ((com.sun.management.OperatingSystemMXBean) os).getProcessCpuTime() - before;

        assertTrue(r.cpuNanos() > 0, "plugin CPU measured");
        assertTrue(agent <= r.cpuNanos() / 4 + TimeUnit.MILLISECONDS.toNanos(150),
                "agent CPU " + TimeUnit.NANOSECONDS.toMillis(agent) + " ms for a plugin that used "
                        + TimeUnit.NANOSECONDS.toMillis(r.cpuNanos()) + " ms");
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void aPluginIgnoringSigtermIsKilledAfterTheGraceWithEverythingItStarted(Mode mode) throws Exception {
        Path pidFile = dir.resolve("pids");
        Path plugin = script(dir, "stubborn.sh", HostileExecutables.IGNORES_SIGTERM);
        RunResult r = run(runner(mode), job(plugin, limits(Duration.ofSeconds(1), Duration.ofSeconds(10)), pidFile.toString()));
        List<Long> pids = track(pidFile);

        assertEquals(Status.TIMEOUT, r.outcome(), message(r));
        assertTrue(message(r).contains("then SIGKILL"), message(r));
        assertEquals(2, pids.size());
        for (long pid : pids) {
            assertFalse(alive(pid), "pid " + pid + " outlived its run");
        }
    }

    private static boolean aliveQuietly(long pid) {
        return alive(pid);
    }

    static void assumeRoot() {
        assumeTrue("root".equals(System.getProperty("user.name")), "needs root to make a cgroup");
    }

    static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            return "";
        }
    }
}
