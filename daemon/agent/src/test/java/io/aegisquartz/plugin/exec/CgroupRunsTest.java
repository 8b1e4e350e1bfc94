package io.aegisquartz.plugin.exec;

import io.aegisquartz.config.JobOptions;
import io.aegisquartz.config.JobSpec;
import io.aegisquartz.plugin.JobMemory;
import io.aegisquartz.plugin.RunResult;
import io.aegisquartz.plugin.RunnerThreads;
import io.aegisquartz.sample.Status;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static io.aegisquartz.testing.TestJobs.message;
import static io.aegisquartz.testing.TestJobs.job;
import static io.aegisquartz.testing.TestJobs.limits;
import static io.aegisquartz.testing.TestJobs.script;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Cgroups per run on this machine's cgroup v2 hierarchy, in a subtree of the test's own. */
class CgroupRunsTest {

    @TempDir
    Path dir;

    private TestCgroup cg;
    private RunnerThreads threads;

    @BeforeEach
    void setUp() {
        cg = TestCgroup.create();
        threads = new RunnerThreads(8);
    }

    @AfterEach
    void tearDown() {
        threads.close();
        cg.close();
    }

    private RunResult run(CgroupRuns runs, JobSpec job) throws InterruptedException {
        return new ExecPlugin(job.pluginPath(), new ProcessRunner(threads, runs)).run(job, new JobMemory());
    }

    /** /proc/self/cgroup as it would read for an agent in {@code cgroup} (relative to the cgroup2 mount). */
    private Path selfCgroup(Path cgroup) throws Exception {
        Path f = dir.resolve("cgroup");
        Files.writeString(f, "1:cpu:/\n0::/" + TestCgroup.cgroup2Mount().relativize(cgroup) + "\n");
        return f;
    }

    @Test
    void withoutSystemdTheAgentsOwnCgroupGetsAnAegisRunsSubtreeAndSaysWhatItHas() throws Exception {
        CgroupRuns runs = CgroupRuns.detect(Path.of("/proc/self/mountinfo"), selfCgroup(cg.dir()), dir.resolve("no-systemd"));

        assertTrue(runs.available(), runs.describe());
        assertEquals(cg.dir().resolve(CgroupRuns.RUNS_DIR), runs.dir());
        assertTrue(runs.describe().contains("no systemd on this host") && runs.describe().contains("cgroup.kill"), runs.describe());
        assertTrue(runs.describe().contains(runs.memoryLimits() ? "memory_max" : "no memory_max"), runs.describe());
    }

    @Test
    void underSystemdACgroupThatIsNotDelegatedIsLeftAloneAndTheReasonSaysHowToGetOne() throws Exception {
        Path systemd = Files.createDirectories(dir.resolve("run-systemd-system"));
        CgroupRuns runs = CgroupRuns.detect(Path.of("/proc/self/mountinfo"), selfCgroup(cg.dir()), systemd);

        assertFalse(runs.available());
        assertTrue(runs.describe().contains("not delegated") && runs.describe().contains("Delegate=yes"), runs.describe());
        assertFalse(Files.exists(cg.dir().resolve(CgroupRuns.RUNS_DIR)), "nothing created in a cgroup that is not the agent's");
    }

    @Test
    void underSystemdADelegatedCgroupIsUsed() throws Exception {
        UserDefinedFileAttributeView xattrs = Files.getFileAttributeView(cg.dir(), UserDefinedFileAttributeView.class);
        try {
            xattrs.write("delegate", ByteBuffer.wrap("1".getBytes(StandardCharsets.US_ASCII)));
        } catch (Exception e) {
            assumeTrue(false, "this kernel's cgroupfs takes no user xattrs (" + e + "): systemd's marker cannot be set");
        }
        Path systemd = Files.createDirectories(dir.resolve("run-systemd-system"));
        CgroupRuns runs = CgroupRuns.detect(Path.of("/proc/self/mountinfo"), selfCgroup(cg.dir()), systemd);

        assertTrue(runs.available(), runs.describe());
        assertTrue(runs.describe().contains("delegated"), runs.describe());
    }

    @Test
    void runCgroupsLeftByADeadAgentAreRemovedAndEveryRunRemovesItsOwn() throws Exception {
        // pid 1's start time is never 12345 ticks after boot... and pid 2^22+1 does not exist.
        Path stale = Files.createDirectory(cg.dir().resolve("4194305-12345-7"));
        CgroupRuns runs = CgroupRuns.under(cg.dir());
        assertFalse(Files.exists(stale), "stale run cgroup swept");

        Path plugin = script(dir, "ok.sh", "#!/bin/sh\nsleep 300 >/dev/null 2>&1 &\necho 'OK | x=1'\n");
        Path slow = script(dir, "slow.sh", "#!/bin/sh\nexec sleep 300\n");
        assertEquals(Status.OK, run(runs, job(plugin, limits(Duration.ofSeconds(10), Duration.ofSeconds(5)))).outcome());
        assertEquals(Status.TIMEOUT, run(runs, job(slow, limits(Duration.ofMillis(300), Duration.ofSeconds(5)))).outcome());
        assertEquals(0, cg.children(), "no run cgroup left behind");
    }

    @Test
    void cpuOfAGrandchildThatExitedBeforeThePluginIsCounted() throws Exception {
        // The burner is orphaned and reaped by init, so no wait() and no 'times' ever sees its CPU: cpu.stat does.
        Path done = dir.resolve("done");
        Path plugin = script(dir, "orphan.sh", """
                #!/bin/sh
                ( ( i=0; while [ $i -lt 400000 ]; do i=$((i+1)); done; : > "$1" ) & )
                while [ ! -e "$1" ]; do sleep 0.05; done
                echo 'ORPHAN OK | x=1'
                """);
        RunResult r = run(CgroupRuns.under(cg.dir()), job(plugin, limits(Duration.ofSeconds(60), Duration.ofSeconds(30)), done.toString()));

        assertEquals(Status.OK, r.outcome(), message(r));
        assertTrue(r.cpuNanos() >= TimeUnit.MILLISECONDS.toNanos(200), "the orphan's CPU: " + r.cpuNanos());
    }

    @Test
    void memoryMaxKillsTheRunAndSaysSo() throws Exception {
        CgroupRuns runs = CgroupRuns.under(cg.dir());
        assumeTrue(runs.memoryLimits(), "no memory controller in cgroup v2 on this machine: " + runs.describe());
        // tail keeps a whole line in memory; /dev/zero has no newline.
        Path plugin = script(dir, "hog.sh", "#!/bin/sh\nhead -c 268435456 /dev/zero | tail -n 1 >/dev/null\necho 'DONE | x=1'\n");
        JobOptions opts = limits(Duration.ofSeconds(30), Duration.ofSeconds(20)).withMemoryMax(32L << 20);
        RunResult r = run(runs, job(plugin, opts));

        assertEquals(Status.KILLED, r.outcome(), message(r));
        assertTrue(message(r).contains("OOM killer") && message(r).contains("memory_max (32MiB)"), message(r));
    }

    @Test
    void pidsMaxRefusesForksAndSaysSo() throws Exception {
        CgroupRuns runs = CgroupRuns.under(cg.dir());
        assumeTrue(runs.pidsLimits(), "no pids controller in cgroup v2 on this machine: " + runs.describe());
        Path plugin = script(dir, "forks.sh", """
                #!/bin/sh
                i=0; while [ $i -lt 50 ]; do sleep 30 2>/dev/null & i=$((i+1)); done
                echo 'FORKS | x=1'
                """);
        RunResult r = run(runs, job(plugin, limits(Duration.ofSeconds(30), Duration.ofSeconds(20)).withPidsMax(10)));

        assertTrue(message(r).contains("pids_max (10) refused"), message(r));
    }
}
