package io.aegisquartz.cli;

import io.aegisquartz.config.AgentSettings;
import io.aegisquartz.config.JobOptions;
import io.aegisquartz.config.JobSource;
import io.aegisquartz.config.JobSpec;
import io.aegisquartz.config.Setting;
import io.aegisquartz.config.Settings;
import io.aegisquartz.plugin.JobMemory;
import io.aegisquartz.plugin.Plugin;
import io.aegisquartz.plugin.catalog.PluginCatalog;
import io.aegisquartz.plugin.PluginException;
import io.aegisquartz.plugin.RunResult;
import io.aegisquartz.plugin.RunResultBuilder;
import io.aegisquartz.plugin.RunnerThreads;
import io.aegisquartz.sample.Sample;
import io.aegisquartz.sample.SampleStamper;
import io.aegisquartz.sample.Status;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;

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

                Runs PLUGIN once, exactly as a job would run it: same kind detection, same limits (from
                aegis_config.ini unless overridden here), same output parsing, and a Groovy or JAR
                plugin in the same place: in a plugin host (a JVM of its own) for plugins outside
                plugins-default/ unless [plugins] isolation says otherwise, in this process for the
                default plugins. Prints one line per sample and a summary line. The tool to use while
                writing a plugin.

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
                  --isolation host|inproc
                                       run a Groovy or JAR plugin in a plugin host, or in this process
                  --json               print samples as JSON lines (the samples file format)

                Exit code: the worst status among the samples, Nagios style: 0 ok, 1 warning,
                2 critical, 3 anything else (unknown, error, timeout, cpu_limit, mem_limit, killed, and a plugin
                or aegis_config.ini that cannot be loaded); 2 if PLUGIN does not exist. The plugin's
                log lines are shown on standard error.

                A plugin that ends its JVM is reported as an error (exit code 3): in a plugin host,
                System.exit, Runtime.halt, running out of memory, freezing the host or leaving threads
                running all are. Run in this process (--isolation inproc, the default plugins), System.exit,
                Runtime.halt and running out of Java heap are too: the launcher prints the error sample
                when the JVM ends in the middle of the run, with the JVM's exit code on standard error.
                """;
    }

    @Override
    public int run(Cli cli, List<String> args) throws Exception {
        Args a = new Args(name(), args, Set.of("--timeout", "--cpu", "--kill-grace", "--output-max", "--max-samples", "--sampler", "--isolation"),
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
        String ref = a.positional().get(0);
        JobOptions options = options(settings.defaultJobOptions(), a, ref);
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
        try (RunnerThreads threads = new RunnerThreads(8); PluginCatalog catalog = PluginCatalog.create(threads, settings, false, true)) {
            return runOnce(cli, name(), catalog, stamper, job, a.flag("--json")).exitCode();
        }
    }

    /**
     * Runs a plugin whose code runs in this JVM, where it could end the command as if it had succeeded.
     * A shutdown hook reports System.exit; Runtime.halt and running out of heap run no code of ours, so
     * the launcher reports them from the note written before the run ({@link UnfinishedRunNote}).
     */
    private static RunResult runInThisJvm(Cli cli, String command, boolean json, JobSpec job, SampleStamper stamper, Plugin plugin)
            throws InterruptedException {
        String hint = "; in the agent it would have ended the agent: run it in a plugin host ("
                + (command.equals("run-plugin") ? "--isolation host" : "isolation=host") + ")";
        ByteArrayOutputStream lines = new ByteArrayOutputStream();
        try (PrintStream note = new PrintStream(lines, true, StandardCharsets.UTF_8)) {
            print(note, json, job, stamper, RunResultBuilder.notRun(job.defaultMetric(), Status.ERROR,
                    "the plugin ended " + command + "'s JVM before its run was over (Runtime.halt, running out of Java heap, or a crash: "
                            + "the exit code is on standard error)" + hint));
        }
        try (UnfinishedRunNote unfinished = UnfinishedRunNote.write(cli.env(UnfinishedRunNote.VARIABLE),
                lines.toString(StandardCharsets.UTF_8))) {
            AtomicBoolean running = new AtomicBoolean(true);
            Thread exitHook = new Thread(() -> {
                if (running.get()) {
                    unfinished.close();
                    print(cli.out(), json, job, stamper, RunResultBuilder.notRun(job.defaultMetric(), Status.ERROR,
                            "the plugin called System.exit" + hint));
                    cli.out().flush();
                    Runtime.getRuntime().halt(Status.ERROR.exitCode());
                }
            }, "aegis-run-plugin-exit");
            Runtime.getRuntime().addShutdownHook(exitHook);
            try {
                return plugin.run(job, new JobMemory());
            } finally {
                running.set(false);
                Runtime.getRuntime().removeShutdownHook(exitHook);
            }
        }
    }

    /** Prints the samples of {@code r} and the summary line to {@code out} (as {@code test} does); returns the worst status. */
    private static Status print(PrintStream out, boolean json, JobSpec job, SampleStamper stamper, RunResult r) {
        List<Sample> samples = stamper.stamp(job.name(), job.pluginRef(), r.measurements(), r.wallNanos(), r.cpuNanos(), r.truncated());
        return SamplePrinter.print(out, samples, r, json);
    }

    /**
     * Runs {@code job} once, in this process, as the agent would, and prints its samples; returns the
     * worst status (error if the plugin cannot be loaded). Shared with {@code test}; {@code command}
     * names the command in the error a plugin that ends this JVM leaves.
     */
    static Status runOnce(Cli cli, String command, PluginCatalog catalog, SampleStamper stamper, JobSpec job, boolean json)
            throws InterruptedException {
        Plugin plugin;
        try {
            plugin = catalog.check(job);
        } catch (PluginException e) {
            cli.out().println(SamplePrinter.notLoaded(job.defaultMetric(), e.getMessage()));
            cli.err().println("aegis-quartz: " + e.getMessage() + (e.fix() == null ? "" : "\n    fix: " + e.fix()));
            return Status.ERROR;
        }
        RunResult r = plugin.inAgentJvm() ? runInThisJvm(cli, command, json, job, stamper, plugin) : plugin.run(job, new JobMemory());
        return print(cli.out(), json, job, stamper, r);
    }

    private static JobOptions options(JobOptions base, Args a, String ref) throws UsageException {
        // Where a job would run it: the default plugins in the agent, others as [plugins] isolation says.
        JobOptions o = ref.startsWith("default/") ? base.withIsolation(JobOptions.Isolation.INPROC) : base;
        if (a.value("--isolation") != null) {
            o = o.withIsolation(switch (a.value("--isolation")) {
                case "host" -> JobOptions.Isolation.HOST;
                case "inproc" -> JobOptions.Isolation.INPROC;
                default -> throw new UsageException("--isolation: '" + a.value("--isolation") + "' is not allowed; allowed: host, inproc");
            });
        }
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
    static String hostUuid(AgentSettings settings) {
        try {
            return Files.readString(settings.uuidFile()).strip();
        } catch (IOException e) {
            return "unknown";
        }
    }
}
