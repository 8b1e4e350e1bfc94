package io.aegisquartz.plugin.exec;

import io.aegisquartz.config.JobSpec;
import io.aegisquartz.plugin.JobMemory;
import io.aegisquartz.plugin.RunResult;
import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Status;
import io.aegisquartz.testing.PluginRunners;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static io.aegisquartz.testing.TestJobs.job;
import static io.aegisquartz.testing.TestJobs.limits;
import static io.aegisquartz.testing.TestJobs.script;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Plugin output read from real executables run through {@link ExecPlugin}: exit codes, stderr, limits. */
class PluginOutputExecTest extends PluginRunners {


    @TempDir
    Path dir;



    private RunResult run(Path plugin, String... args) throws InterruptedException {
        JobSpec job = job(plugin, limits(Duration.ofSeconds(20), Duration.ofSeconds(10)), args);
        return new ExecPlugin(job.pluginPath(), processes).run(job, new JobMemory());
    }

    @Test
    void jsonLinesWithExitCodeAboveThreeKeepTheGoodSamplesAndAddOneErrorNamingExitCodeAndStderr() throws Exception {
        Path plugin = script(dir, "json4.sh", """
                #!/bin/sh
                echo '{"metric":"queue","values":{"depth":12},"units":{"depth":"c"},"tags":{"q":"mail"}}'
                echo '{"metric":"queue","values":{"depth":7},"tags":{"q":"spool"},"status":"warning","message":"slow"}'
                echo 'connecting to broker' >&2
                echo 'broker refused the login' >&2
                exit 4
                """);

        RunResult r = run(plugin);

        assertEquals(Status.ERROR, r.outcome());
        assertEquals(3, r.measurements().size(), r.measurements().toString());
        Measurement a = r.measurements().get(0);
        Measurement b = r.measurements().get(1);
        assertEquals("queue", a.metric());
        assertEquals(Map.of("depth", 12.0), a.values());
        assertEquals(Map.of("depth", "c"), a.units());
        assertEquals(Map.of("q", "mail"), a.tags());
        assertEquals(Map.of("depth", 7.0), b.values());
        assertEquals(Status.WARNING, b.status(), "a sample's own status is kept");
        assertEquals("slow", b.message());

        List<Measurement> errors = r.measurements().stream().filter(m -> m.status() == Status.ERROR).toList();
        assertEquals(1, errors.size(), r.measurements().toString());
        Measurement err = errors.get(0);
        assertEquals("json4", err.metric());
        assertTrue(err.message().contains("exit code 4"), err.message());
        assertTrue(err.message().contains("stderr: broker refused the login"), err.message());
        assertFalse(err.message().contains("connecting to broker"), "only the last stderr line: " + err.message());
        assertEquals(err.message(), r.reason());
    }

    @Test
    void jsonLinesWithExitCodeAboveThreeAndABadLineReportBoth() throws Exception {
        Path plugin = script(dir, "json5.sh", """
                #!/bin/sh
                echo '{"metric":"m","values":{"x":1}}'
                echo '{"metric":"m","values":{"x":'
                echo '{"metric":"m","values":{"x":3}}'
                echo 'fatal: out of cheese' >&2
                exit 42
                """);

        RunResult r = run(plugin);

        assertEquals(Status.ERROR, r.outcome());
        List<Measurement> good = r.measurements().stream().filter(m -> m.metric().equals("m")).toList();
        assertEquals(List.of(1.0, 3.0), good.stream().map(m -> m.values().get("x")).toList());
        List<String> errors = r.measurements().stream().filter(m -> m.status() == Status.ERROR).map(Measurement::message).toList();
        assertEquals(2, errors.size(), errors.toString());
        assertTrue(errors.get(0).startsWith("1 invalid sample(s) dropped; first: output line 2 is not JSON"), errors.get(0));
        assertTrue(errors.get(1).contains("exit code 42") && errors.get(1).endsWith("stderr: fatal: out of cheese"), errors.get(1));
    }

    @Test
    void jsonLinesWithoutStatusTakeTheExitCodesStatus() throws Exception {
        Path plugin = script(dir, "json2.sh", """
                #!/bin/sh
                echo '{"metric":"a","values":{"x":1}}'
                echo '{"metric":"b","values":{"x":2},"status":"unknown"}'
                exit 2
                """);

        RunResult r = run(plugin);

        assertEquals(Status.OK, r.outcome(), "the run completed; the check found a problem");
        assertEquals(List.of(Status.CRITICAL, Status.UNKNOWN), r.measurements().stream().map(Measurement::status).toList());
    }

    @Test
    void nagiosOutputWithExitCodeAboveThreeIsAnErrorQuotingTheFirstLine() throws Exception {
        Path plugin = script(dir, "nagios4.sh", """
                #!/bin/sh
                echo 'CHECK OK - looks fine | x=1'
                echo 'oops' >&2
                exit 4
                """);

        RunResult r = run(plugin);

        assertEquals(Status.ERROR, r.outcome());
        assertEquals(1, r.measurements().size(), r.measurements().toString());
        String msg = r.measurements().get(0).message();
        assertEquals("exit code 4 (plugins exit 0-3): CHECK OK - looks fine | x=1; stderr: oops", msg);
    }

    @Test
    void nagiosOutputWithNoStdoutTakesTheLastStderrLineAsMessage() throws Exception {
        Path plugin = script(dir, "quiet.sh", """
                #!/bin/sh
                echo 'first' >&2
                echo 'cannot open /proc/foo' >&2
                exit 1
                """);

        RunResult r = run(plugin);

        assertEquals(Status.OK, r.outcome());
        Measurement m = r.measurements().get(0);
        assertEquals(Status.WARNING, m.status());
        assertEquals("(no output); stderr: cannot open /proc/foo", m.message());
    }

    @Test
    void emptyOutputWithExitZeroIsOneOkMeasurement() throws Exception {
        Path plugin = script(dir, "silent.sh", "#!/bin/sh\nexit 0\n");

        RunResult r = run(plugin);

        assertEquals(Status.OK, r.outcome());
        assertEquals(1, r.measurements().size());
        assertEquals(Status.OK, r.measurements().get(0).status());
        assertNull(r.measurements().get(0).message());
    }

    @Test
    void jsonSamplesPrintedBeforeATimeoutAreKept() throws Exception {
        Path plugin = script(dir, "slow.sh", """
                #!/bin/sh
                echo '{"metric":"early","values":{"x":1}}'
                exec sleep 30
                """);
        JobSpec job = job(plugin, limits(Duration.ofSeconds(1), Duration.ofSeconds(10)));

        RunResult r = new ExecPlugin(job.pluginPath(), processes).run(job, new JobMemory());

        assertEquals(Status.TIMEOUT, r.outcome());
        assertEquals(2, r.measurements().size(), r.measurements().toString());
        assertEquals("early", r.measurements().get(0).metric());
        assertEquals(Status.OK, r.measurements().get(0).status());
        assertEquals(Status.TIMEOUT, r.measurements().get(1).status());
    }

    @Test
    void fileWithoutTheExecuteBitIsExitCode126() throws Exception {
        Path plugin = dir.resolve("noexec.sh");
        Files.writeString(plugin, "#!/bin/sh\necho 'OK'\n");

        RunResult r = run(plugin);

        assertEquals(Status.ERROR, r.outcome());
        String msg = r.measurements().get(r.measurements().size() - 1).message();
        assertTrue(msg.startsWith("exit code 126: not executable"), msg);
    }
}
