package io.aegisquartz.plugin.exec;

import io.aegisquartz.config.JobSpec;
import io.aegisquartz.plugin.JobMemory;
import io.aegisquartz.plugin.RunResult;
import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Status;
import io.aegisquartz.testing.PluginRunners;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.aegisquartz.testing.TestJobs.alive;
import static io.aegisquartz.testing.TestJobs.job;
import static io.aegisquartz.testing.TestJobs.limits;
import static io.aegisquartz.testing.TestJobs.pids;
import static io.aegisquartz.testing.TestJobs.script;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Executables under limits: real processes, checked by pid. */
class ExecLimitsTest extends PluginRunners {


    @TempDir
    Path dir;



    private RunResult run(JobSpec job) throws InterruptedException {
        return new ExecPlugin(job.pluginPath(), processes).run(job, new JobMemory());
    }

    @Test
    void grandchildHoldingThePipeIsKilledAtTheLimit() throws Exception {
        // Seed 004's trap: the shell is killed at its timeout but 'sleep' keeps the pipe to awk open.
        Path pidFile = dir.resolve("pids");
        Path plugin = script(dir, "trap.sh", """
                #!/bin/sh
                echo $$ >> "$1"
                echo $(sh -c 'echo $$ >> "$1"; exec sleep 30' _ "$1") | awk '{ print }'
                """);
        long t0 = System.nanoTime();
        RunResult r = run(job(plugin, limits(Duration.ofSeconds(1), Duration.ofSeconds(10)), pidFile.toString()));
        long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);

        assertEquals(Status.TIMEOUT, r.outcome());
        assertTrue(elapsedMs < 1_000 + 2_000, "stopped within limit + 2 s, took " + elapsedMs + " ms");
        List<Long> pids = pids(pidFile);
        assertEquals(2, pids.size(), "plugin and grandchild pids: " + pids);
        for (long pid : pids) {
            assertFalse(alive(pid), "pid " + pid + " left behind");
        }
        assertTrue(last(r).message().contains("1s wall-time limit"), last(r).message());
    }

    @Test
    void cpuHogIsStoppedByRlimitCpu() throws Exception {
        Path pidFile = dir.resolve("pids");
        Path plugin = script(dir, "hog.sh", "#!/bin/sh\necho $$ >> \"$1\"\nwhile :; do :; done\n");
        RunResult r = run(job(plugin, limits(Duration.ofSeconds(60), Duration.ofSeconds(1)), pidFile.toString()));

        assertEquals(Status.CPU_LIMIT, r.outcome(), last(r).message());
        assertTrue(r.cpuNanos() >= TimeUnit.MILLISECONDS.toNanos(900), "CPU measured: " + r.cpuNanos());
        assertTrue(r.wallNanos() < TimeUnit.SECONDS.toNanos(10), "well before the 60 s wall limit");
        assertFalse(alive(pids(pidFile).get(0)));
    }

    @Test
    void backgroundChildrenDieWhenThePluginExits() throws Exception {
        Path pidFile = dir.resolve("pids");
        Path plugin = script(dir, "leak.sh", """
                #!/bin/sh
                sleep 300 >/dev/null 2>&1 &
                echo $! >> "$1"
                echo 'LEAK OK - forgot a child | x=1'
                """);
        RunResult r = run(job(plugin, limits(Duration.ofSeconds(10), Duration.ofSeconds(5)), pidFile.toString()));

        assertEquals(Status.OK, r.outcome());
        assertEquals(1.0, last(r).values().get("x"));
        // SIGKILLed by the wrapper as the plugin exits; death itself takes the kernel a moment.
        long pid = pids(pidFile).get(0);
        await().atMost(Duration.ofSeconds(2)).until(() -> !alive(pid));
    }

    @Test
    void outputBeyondTheCapIsDroppedAndSaysTruncated() throws Exception {
        Path plugin = script(dir, "big.sh", """
                #!/bin/sh
                i=0
                while [ $i -lt 2000 ]; do echo "{\\"metric\\":\\"m\\",\\"values\\":{\\"i\\":$i}}"; i=$((i+1)); done
                """);
        RunResult r = run(job(plugin, limits(Duration.ofSeconds(20), Duration.ofSeconds(10)).withOutputMax(1024)));

        assertTrue(r.truncated());
        // 1024 bytes hold 36 whole lines of ~28 bytes; the cut line is reported as invalid.
        long good = r.measurements().stream().filter(m -> m.metric().equals("m")).count();
        assertTrue(good >= 30 && good <= 40, "kept " + good);
    }

    @Test
    void environmentIsCleanedStdinIsEmptyAndWorkingDirectoryIsThePluginDirectory() throws Exception {
        Path plugin = script(dir, "env.sh", """
                #!/bin/sh
                read line && stdin=1 || stdin=0
                n=$(env | wc -l)
                printf '{"metric":"env","values":{"vars":%d,"stdin":%d},"tags":{"pwd":"%s","path":"%s"}}\\n' "$n" "$stdin" "$(pwd)" "$PATH"
                """);
        RunResult r = run(job(plugin, limits(Duration.ofSeconds(10), Duration.ofSeconds(5))));

        Measurement m = r.measurements().get(0);
        assertEquals(dir.toRealPath().toString(), m.tags().get("pwd"));
        assertEquals(ExecPlugin.PATH, m.tags().get("path"));
        assertEquals(0.0, m.values().get("stdin"));
        // Ours: PATH LANG LC_ALL HOME TMPDIR AEGIS_JOB AEGIS_TIMEOUT_SECONDS; sh adds PWD (and maybe OLDPWD).
        assertTrue(m.values().get("vars") <= 9, "variables seen: " + m.values().get("vars"));
    }

    @Test
    void missingInterpreterIsAnErrorNamingTheProblem() throws Exception {
        Path plugin = script(dir, "bad.sh", "#!/nonexistent/interpreter\necho hi\n");
        RunResult r = run(job(plugin, limits(Duration.ofSeconds(10), Duration.ofSeconds(5))));

        assertEquals(Status.ERROR, r.outcome());
        assertTrue(last(r).message().contains("exit code 127"), last(r).message());
    }

    @Test
    void cpuTimeOfANormalRunIsMeasured() throws Exception {
        Path plugin = script(dir, "work.sh", """
                #!/bin/sh
                i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done
                echo "WORK OK | i=$i"
                """);
        RunResult r = run(job(plugin, limits(Duration.ofSeconds(30), Duration.ofSeconds(20))));

        assertEquals(Status.OK, r.outcome());
        assertTrue(r.cpuNanos() > TimeUnit.MILLISECONDS.toNanos(50), "cpu " + r.cpuNanos());
        assertTrue(r.cpuNanos() <= r.wallNanos() + TimeUnit.MILLISECONDS.toNanos(20), "cpu <= wall");
    }

    private static Measurement last(RunResult r) {
        return r.measurements().get(r.measurements().size() - 1);
    }
}
