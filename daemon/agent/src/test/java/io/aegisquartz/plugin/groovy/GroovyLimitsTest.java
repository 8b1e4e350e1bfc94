package io.aegisquartz.plugin.groovy;

import io.aegisquartz.config.JobOptions;
import io.aegisquartz.plugin.JobMemory;
import io.aegisquartz.plugin.PluginException;
import io.aegisquartz.plugin.RunResult;
import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Status;
import io.aegisquartz.testing.PluginRunners;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.Closeable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static io.aegisquartz.testing.TestJobs.job;
import static io.aegisquartz.testing.TestJobs.limits;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Groovy scripts are stopped at their limits without cooperating. */
class GroovyLimitsTest extends PluginRunners {


    @TempDir
    Path dir;



    private RunResult run(String script, JobOptions options, JobMemory memory) throws Exception {
        Path file = dir.resolve("test.groovy");
        Files.writeString(file, script);
        return GroovyPlugin.compile(file, inJvm, processes).run(job(file, options), memory);
    }

    private RunResult run(String script, JobOptions options) throws Exception {
        return run(script, options, new JobMemory());
    }

    @Test
    void infiniteLoopStopsAtTheWallTimeLimit() throws Exception {
        RunResult r = run("while (true) {}", limits(Duration.ofSeconds(1), Duration.ofSeconds(30)));

        assertEquals(Status.TIMEOUT, r.outcome());
        assertFalse(r.abandoned(), "stopped by the compiled-in check, not abandoned");
        assertTrue(r.wallNanos() < TimeUnit.MILLISECONDS.toNanos(1_500), "stopped within limit + 0.5 s: " + r.wallNanos());
    }

    @Test
    void cpuSpinStopsAtTheCpuLimit() throws Exception {
        // Dynamic Groovy boxes n at every step: without mem=0 the allocation budget would stop it first.
        RunResult r = run("long n = 0\nwhile (true) { n++ }", limits(Duration.ofSeconds(30), Duration.ofSeconds(1)).withMem(0));

        assertEquals(Status.CPU_LIMIT, r.outcome());
        assertTrue(r.cpuNanos() >= TimeUnit.MILLISECONDS.toNanos(1_000), "used its CPU budget: " + r.cpuNanos());
        assertTrue(r.cpuNanos() < TimeUnit.MILLISECONDS.toNanos(1_500), "stopped within limit + 0.5 s of CPU: " + r.cpuNanos());
        assertTrue(r.wallNanos() < TimeUnit.SECONDS.toNanos(10), "long before the 30 s wall limit");
    }

    @Test
    void deepRecursionStopsAtTheWallTimeLimit() throws Exception {
        // Exponential and recursive: no loop anywhere, so only the method-entry checks can stop it.
        // Boxed arithmetic allocates: on a fast machine the 64 MiB allocation budget would stop it first.
        RunResult r = run("def fib(n) { n < 2 ? n : fib(n - 1) + fib(n - 2) }\nfib(80)",
                limits(Duration.ofSeconds(1), Duration.ofSeconds(30)).withMem(0));

        assertEquals(Status.TIMEOUT, r.outcome());
        assertTrue(r.wallNanos() < TimeUnit.MILLISECONDS.toNanos(1_500), "stopped within limit + 0.5 s");
    }

    @Test
    void unboundedRecursionIsAnErrorNotACrash() throws Exception {
        RunResult r = run("def f(n) { f(n + 1) }\nf(0)", limits(Duration.ofSeconds(10), Duration.ofSeconds(10)));

        assertEquals(Status.ERROR, r.outcome());
        assertTrue(last(r).message().startsWith("stack overflow"), last(r).message());
        assertTrue(last(r).message().contains("test.groovy:1"), "names the script line: " + last(r).message());
    }

    @Test
    void catchingThrowableDoesNotEscapeTheLimit() throws Exception {
        RunResult r = run("while (true) { try { while (true) {} } catch (Throwable t) { } }",
                limits(Duration.ofSeconds(1), Duration.ofSeconds(30)));

        assertEquals(Status.TIMEOUT, r.outcome());
        assertTrue(r.wallNanos() < TimeUnit.MILLISECONDS.toNanos(1_500));
    }

    @Test
    void groovySleepIsStoppedToo() throws Exception {
        // Groovy's own sleep() swallows interrupts; scripts get ours instead.
        RunResult r = run("sleep(60_000)", limits(Duration.ofSeconds(1), Duration.ofSeconds(30)));

        assertEquals(Status.TIMEOUT, r.outcome());
        assertTrue(r.wallNanos() < TimeUnit.MILLISECONDS.toNanos(1_500));
    }

    @Test
    void aThreadStuckInAnUninterruptibleCallIsAbandonedAndCounted() throws Exception {
        JobMemory memory = new JobMemory();
        int before = abandoned.alive();
        // ServerSocket.accept() ignores Thread.interrupt(): the classic stuck plugin.
        RunResult r = run("state.socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())\nstate.socket.accept()",
                limits(Duration.ofMillis(500), Duration.ofSeconds(30)), memory);

        assertEquals(Status.TIMEOUT, r.outcome());
        assertTrue(r.abandoned());
        assertTrue(last(r).message().contains("abandoned"), last(r).message());
        assertEquals(before + 1, abandoned.alive());

        // Once whatever blocked it goes away, the thread ends and stops counting.
        ((Closeable) memory.state().get("socket")).close();
        await().atMost(Duration.ofSeconds(10)).until(() -> abandoned.alive() == before);
    }

    @Test
    void compileErrorNamesFileLineAndColumn() throws Exception {
        Path file = dir.resolve("broken.groovy");
        Files.writeString(file, "emit('x', [a: 1])\nthis is not groovy (\n");
        PluginException e = assertThrows(PluginException.class, () -> GroovyPlugin.compile(file, inJvm, processes));
        assertTrue(e.getMessage().startsWith(file + ":2:"), e.getMessage());
        assertEquals(2, e.line());
    }

    @Test
    void scriptApiEmitsSamplesWithValuesTagsStatusAndKeepsState() throws Exception {
        String script = """
                state.runs = (state.runs ?: 0) + 1
                emit('load', [load1: 0.5, runs: state.runs], [source: args[0]])
                sample('check').value('latency', 12.5, 'ms').status(Status.WARNING).message('slow').emit()
                def r = exec(['sh', '-c', 'echo hello; exit 3'], 5)
                emit('cmd', [rc: r.exitCode()], [out: r.stdout().strip()])
                """;
        JobMemory memory = new JobMemory();
        Path file = dir.resolve("api.groovy");
        Files.writeString(file, script);
        GroovyPlugin plugin = GroovyPlugin.compile(file, inJvm, processes);
        plugin.run(job(file, limits(Duration.ofSeconds(10), Duration.ofSeconds(10)), "proc"), memory);
        RunResult r = plugin.run(job(file, limits(Duration.ofSeconds(10), Duration.ofSeconds(10)), "proc"), memory);

        assertEquals(Status.OK, r.outcome());
        assertEquals(3, r.measurements().size());
        Measurement load = r.measurements().get(0);
        assertEquals(0.5, load.values().get("load1"));
        assertEquals(2.0, load.values().get("runs"), "state survives between runs");
        assertEquals("proc", load.tags().get("source"));
        Measurement check = r.measurements().get(1);
        assertEquals(Status.WARNING, check.status());
        assertEquals("ms", check.units().get("latency"));
        assertEquals("slow", check.message());
        Measurement cmd = r.measurements().get(2);
        assertEquals(3.0, cmd.values().get("rc"));
        assertEquals("hello", cmd.tags().get("out"));
    }

    @Test
    void aScriptThatThrowsIsAnErrorWithItsLine() throws Exception {
        RunResult r = run("emit('before', [x: 1])\nthrow new IllegalStateException('disk gone')",
                limits(Duration.ofSeconds(10), Duration.ofSeconds(10)));

        assertEquals(Status.ERROR, r.outcome());
        assertEquals("before", r.measurements().get(0).metric(), "samples before the failure are kept");
        assertEquals("IllegalStateException: disk gone at test.groovy:2", last(r).message());
    }

    private static Measurement last(RunResult r) {
        return r.measurements().get(r.measurements().size() - 1);
    }
}
