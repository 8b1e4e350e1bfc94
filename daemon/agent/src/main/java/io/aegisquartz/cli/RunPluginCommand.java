package io.aegisquartz.cli;

import io.aegisquartz.config.AgentSettings;
import io.aegisquartz.config.JobOptions;
import io.aegisquartz.config.JobSource;
import io.aegisquartz.config.JobSpec;
import io.aegisquartz.config.Setting;
import io.aegisquartz.config.Settings;
import io.aegisquartz.plugin.JobMemory;
import io.aegisquartz.plugin.catalog.PluginCatalog;
import io.aegisquartz.plugin.PluginException;
import io.aegisquartz.plugin.RunResult;
import io.aegisquartz.plugin.RunnerThreads;
import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Sample;
import io.aegisquartz.sample.SampleJson;
import io.aegisquartz.sample.SampleStamper;
import io.aegisquartz.sample.Status;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Runs one plugin once, under the same limits a job would have, and prints what it produced. */
final class RunPluginCommand implements Command {

    @Override
    public String name() {
        return "run-plugin";
    }

    @Override
    public String summary() {
        return "Run one plugin once under the job limits and print its samples";
    }

    @Override
    public String help() {
        return """
                Usage: aegis-quartz run-plugin [OPTIONS] PLUGIN [ARGS...]

                Runs PLUGIN once, in this process, exactly as a job would run it: same kind detection,
                same limits (from aegis_config.ini unless overridden here), same output parsing. Prints
                one line per sample and a summary line. The tool to use while writing a plugin.

                PLUGIN is default/NAME, user/NAME, or a path to a file. Everything after PLUGIN is
                passed to the plugin.

                Options:
                  --timeout DURATION   wall-time limit (e.g. 5s)
                  --cpu DURATION       CPU-time limit
                  --kill-grace DURATION
                                       time between SIGTERM/interrupt and SIGKILL/abandonment
                  --output-max SIZE    standard output kept (e.g. 64KiB)
                  --max-samples N      samples kept
                  --sampler NAME       which sampler of a JAR holding several
                  --json               print samples as JSON lines (the samples file format)

                Exit code: the worst status among the samples, Nagios style: 0 ok, 1 warning,
                2 critical, 3 anything else (unknown, error, timeout, cpu_limit, mem_limit, killed, and a plugin
                or aegis_config.ini that cannot be loaded); 2 if PLUGIN does not exist. The plugin's
                log lines are shown on standard error.
                """;
    }

    @Override
    public int run(Cli cli, List<String> args) throws Exception {
        Args a = new Args(name(), args, Set.of("--timeout", "--cpu", "--kill-grace", "--output-max", "--max-samples", "--sampler"),
                Set.of("--json"), true);
        if (a.positional().isEmpty()) {
            throw new UsageException("run-plugin needs a PLUGIN; see 'aegis-quartz run-plugin --help'");
        }
        AgentSettings settings = cli.settings();
        if (!settings.problems().isEmpty()) {
            settings.problems().forEach(p -> cli.err().println(p.format()));
            cli.err().println("aegis-quartz: fix " + settings.file() + " first (see above)");
            return Status.ERROR.exitCode();
        }
        JobOptions options = options(settings.defaultJobOptions(), a);
        String ref = a.positional().get(0);
        Path file = resolve(settings, ref);
        if (!Files.isRegularFile(file)) {
            throw new UsageException("plugin not found: " + file);
        }
        List<String> pluginArgs = a.positional().subList(1, a.positional().size());
        JobSpec job = new JobSpec(JobSource.USER, Path.of("(command line)"), 0, ref, ref, "* * * * * ?", ref, file, 1, pluginArgs,
                options);

        // The plugin author wants to see log() and println lines too, not only warnings.
        ((ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger("plugin")).setLevel(ch.qos.logback.classic.Level.INFO);
        SampleStamper stamper = new SampleStamper(hostUuid(settings), settings.hostname());
        RunResult r;
        try (RunnerThreads threads = new RunnerThreads(8); PluginCatalog catalog = PluginCatalog.create(threads, settings)) {
            try {
                r = catalog.check(job).run(job, new JobMemory());
            } catch (PluginException e) {
                cli.out().println("status=error metric=" + job.defaultMetric() + " message=\"plugin cannot be loaded: "
                        + e.getMessage().replace("\"", "\\\"") + "\"");
                cli.err().println("aegis-quartz: " + e.getMessage() + (e.fix() == null ? "" : "\n    fix: " + e.fix()));
                return Status.ERROR.exitCode();
            }
        }
        List<Sample> samples = stamper.stamp(job.name(), ref, r.measurements(), r.wallNanos(), r.cpuNanos(), r.truncated());
        Status worst = Status.OK;
        for (Sample s : samples) {
            cli.out().println(a.flag("--json") ? SampleJson.toJson(s) : human(s.measurement()));
            if (s.status().exitCode() > worst.exitCode()) {
                worst = s.status();
            }
        }
        if (!a.flag("--json")) {
            // What an in-JVM run allocated, to compare with [limits] mem (garbage counts).
            cli.out().printf("run: status=%s samples=%d duration=%s cpu=%s%s%s%n", r.outcome().wire(), samples.size(),
                    millis(r.wallNanos()), r.cpuNanos() < 0 ? "unknown" : millis(r.cpuNanos()),
                    r.allocatedBytes() < 0 ? "" : " allocated=" + io.aegisquartz.config.Units.formatBytesRounded(r.allocatedBytes()).replace(" ", ""),
                    r.truncated() ? " truncated" : "");
        }
        return worst.exitCode();
    }

    private static String human(Measurement m) {
        StringBuilder sb = new StringBuilder();
        sb.append("status=").append(m.status().wire()).append(" metric=").append(m.metric());
        if (!m.values().isEmpty()) {
            sb.append(" values={");
            boolean first = true;
            for (Map.Entry<String, Double> e : m.values().entrySet()) {
                sb.append(first ? "" : ", ").append(e.getKey()).append('=').append(number(e.getValue()));
                String unit = m.units().get(e.getKey());
                if (unit != null) {
                    sb.append(unit);
                }
                first = false;
            }
            sb.append('}');
        }
        if (!m.tags().isEmpty()) {
            sb.append(" tags=").append(m.tags());
        }
        if (m.message() != null) {
            sb.append(" message=\"").append(m.message().replace("\"", "\\\"")).append('"');
        }
        return sb.toString();
    }

    private static String number(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
    }

    private static String millis(long nanos) {
        return String.format("%.1fms", nanos / 1e6);
    }

    private static JobOptions options(JobOptions base, Args a) throws UsageException {
        JobOptions o = base;
        if (a.value("--timeout") != null) {
            o = o.withTimeout((Duration) convert(Settings.Limits.TIMEOUT, "--timeout", a.value("--timeout")));
        }
        if (a.value("--cpu") != null) {
            o = o.withCpu((Duration) convert(Settings.Limits.CPU, "--cpu", a.value("--cpu")));
        }
        if (a.value("--kill-grace") != null) {
            o = o.withKillGrace((Duration) convert(Settings.Limits.KILL_GRACE, "--kill-grace", a.value("--kill-grace")));
        }
        if (a.value("--output-max") != null) {
            o = o.withOutputMax((Long) convert(Settings.Limits.OUTPUT_MAX, "--output-max", a.value("--output-max")));
        }
        if (a.value("--max-samples") != null) {
            o = o.withMaxSamples((Integer) convert(Settings.Limits.MAX_SAMPLES, "--max-samples", a.value("--max-samples")));
        }
        if (a.value("--sampler") != null) {
            o = o.withSampler(a.value("--sampler"));
        }
        return o;
    }

    private static Object convert(Setting s, String option, String value) throws UsageException {
        try {
            return s.convert(value);
        } catch (IllegalArgumentException e) {
            throw new UsageException(option + ": " + e.getMessage());
        }
    }

    private static Path resolve(AgentSettings settings, String ref) {
        if (ref.startsWith("default/")) {
            return settings.defaultPluginDir().resolve(ref.substring(8));
        }
        if (ref.startsWith("user/")) {
            return settings.userPluginDir().resolve(ref.substring(5));
        }
        return Path.of(ref).toAbsolutePath().normalize();
    }

    /** The host's id if the agent has recorded one; run-plugin never creates it. */
    private static String hostUuid(AgentSettings settings) {
        try {
            return Files.readString(settings.uuidFile()).strip();
        } catch (IOException e) {
            return "unknown";
        }
    }
}
