package io.aegisquartz.plugin.exec;

import io.aegisquartz.config.JobSpec;
import io.aegisquartz.plugin.JobMemory;
import io.aegisquartz.plugin.MeasurementCollector;
import io.aegisquartz.plugin.Plugin;
import io.aegisquartz.plugin.PluginKind;
import io.aegisquartz.plugin.RunResult;
import io.aegisquartz.plugin.RunResultBuilder;
import io.aegisquartz.sample.Status;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** An executable plugin: any file with the execute bit, run through {@link ProcessRunner}. */
public final class ExecPlugin implements Plugin {

    /** PATH given to plugins; nothing else from the agent's environment is passed on. */
    public static final String PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    private final Path file;
    private final ProcessRunner runner;

    public ExecPlugin(Path file, ProcessRunner runner) {
        this.file = file;
        this.runner = runner;
    }

    @Override
    public PluginKind kind() {
        return PluginKind.EXEC;
    }

    @Override
    public RunResult run(JobSpec job, JobMemory memory) throws InterruptedException {
        List<String> command = new ArrayList<>(job.args().size() + 1);
        command.add(file.toString());
        command.addAll(job.args());
        Path dir = file.getParent();
        ExecSpec spec = new ExecSpec(command, dir, environment(job, dir), job.options().timeout(), job.options().cpu(),
                job.options().killGrace(), job.options().outputMax(), job.options().user(), job.options().memoryMax(),
                job.options().pidsMax(), job.key());
        return toResult(job, runner.run(spec));
    }

    /** The cleaned environment every command a job runs gets: fixed PATH and C locale, so output parses the same everywhere. */
    public static Map<String, String> environment(JobSpec job, Path dir) {
        Map<String, String> env = new LinkedHashMap<>();
        env.put("PATH", PATH);
        env.put("LANG", "C");
        env.put("LC_ALL", "C");
        env.put("HOME", dir.toString());
        env.put("TMPDIR", "/tmp");
        env.put("AEGIS_JOB", job.name());
        env.put("AEGIS_TIMEOUT_SECONDS", Long.toString(Math.max(1, job.options().timeout().toSeconds())));
        return env;
    }

    /** The samples and status of a run that ended as {@code o} says: the same for a run in the agent and in the exec host. */
    public static RunResult toResult(JobSpec job, ExecOutcome o) {
        String metric = job.defaultMetric();
        MeasurementCollector collected = new MeasurementCollector(job.options().maxSamples(), job.options().maxBytes());
        RunResultBuilder result = new RunResultBuilder(collected, metric)
                .time(o.wallNanos(), o.cpuNanos())
                .truncated(o.truncated());
        String stdout = new String(o.stdout(), StandardCharsets.UTF_8);
        boolean json = PluginOutput.isJsonLines(stdout);
        switch (o.ending()) {
            case NOT_STARTED:
                return result.failed(Status.ERROR, "could not run " + job.pluginRef() + ": " + o.detail());
            case TIMEOUT:
            case CPU_LIMIT:
            case KILLED: {
                // JSON lines are self-contained, so what was printed before the stop is still good data.
                if (json) {
                    PluginOutput.jsonLines(stdout, metric, Status.OK, collected);
                }
                Status s = o.ending() == ExecOutcome.Ending.TIMEOUT ? Status.TIMEOUT
                        : o.ending() == ExecOutcome.Ending.CPU_LIMIT ? Status.CPU_LIMIT : Status.KILLED;
                return result.failed(s, o.detail() + stderrHint(o.stderr()));
            }
            default:
                break;
        }
        int rc = o.exitCode();
        if (rc == 126 || rc == 127) {
            return result.failed(Status.ERROR, "exit code " + rc + (rc == 127 ? ": command or #! interpreter not found"
                    : ": not executable (check permissions and the #! line)") + stderrHint(o.stderr()));
        }
        Status byCode = switch (rc) {
            case 0 -> Status.OK;
            case 1 -> Status.WARNING;
            case 2 -> Status.CRITICAL;
            case 3 -> Status.UNKNOWN;
            default -> null;
        };
        if (json) {
            PluginOutput.jsonLines(stdout, metric, byCode == null ? Status.OK : byCode, collected);
        } else if (byCode != null) {
            if (stdout.isBlank() && !o.stderr().isBlank() && byCode != Status.OK) {
                stdout = "(no output)" + stderrHint(o.stderr());
            }
            PluginOutput.nagios(stdout, metric, byCode, collected);
        }
        if (byCode == null) {
            String firstLine = stdout.strip().lines().findFirst().orElse("");
            return result.failed(Status.ERROR, ProcessRunner.describeExit(rc) + " (plugins exit 0-3)"
                    + (firstLine.isEmpty() || json ? "" : ": " + abbreviate(firstLine, 200)) + stderrHint(o.stderr()));
        }
        if (o.detail() != null) {
            // It exited, but left a process behind that escaped its session and holds the output pipe.
            return result.failed(Status.ERROR, o.detail());
        }
        return result.completed();
    }

    /** "; stderr: LAST LINE" or "". */
    static String stderrHint(String stderr) {
        String t = stderr.strip();
        if (t.isEmpty()) {
            return "";
        }
        int nl = t.lastIndexOf('\n');
        return "; stderr: " + abbreviate(nl < 0 ? t : t.substring(nl + 1), 300);
    }

    private static String abbreviate(String s, int max) {
        return s.length() > max ? s.substring(0, max) + "..." : s;
    }
}
