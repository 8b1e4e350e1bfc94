package io.aegisquartz.plugin;

import io.aegisquartz.config.JobSpec;
import io.aegisquartz.config.Units;
import io.aegisquartz.sample.Status;

import java.nio.file.Path;

/** Common run logic of plugins that execute inside the agent's JVM (Groovy scripts and JAR samplers). */
public abstract class InJvmPlugin implements Plugin {

    protected final Path file;
    private final InJvmRunner runner;
    private final CommandRunner commands;

    protected InJvmPlugin(Path file, InJvmRunner runner, CommandRunner commands) {
        this.file = file;
        this.runner = runner;
        this.commands = commands;
    }

    /** The plugin's own code for one run, on the plugin thread. */
    protected abstract void body(JobSpec job, JobMemory memory, RunContext ctx) throws Exception;

    @Override
    public final RunResult run(JobSpec job, JobMemory memory) throws InterruptedException {
        MeasurementCollector collected = new MeasurementCollector(job.options().maxSamples());
        RunContext ctx = new RunContext(job, memory, collected, commands);
        InJvmRunner.Outcome o = runner.run("plugin " + job.name(), job.name(), job.options().timeout(), job.options().cpu(),
                job.options().killGrace(), budget -> {
                    ctx.bind(budget);
                    body(job, memory, ctx);
                });
        collected.seal();
        RunResultBuilder result = new RunResultBuilder(collected, job.defaultMetric())
                .time(o.wallNanos(), o.cpuNanos())
                .abandoned(o.abandoned());
        String abandonedNote = o.abandoned()
                ? "; its thread ignored the interrupt for " + Units.format(job.options().killGrace())
                + " and was abandoned; the job is quarantined until the plugin file changes"
                : "";
        return switch (o.ending()) {
            case COMPLETED -> result.completed();
            case TIMEOUT -> result.failed(Status.TIMEOUT, "timeout: stopped at the " + Units.format(job.options().timeout())
                    + " wall-time limit" + abandonedNote);
            case CPU_LIMIT -> result.failed(Status.CPU_LIMIT, "cpu_limit: stopped at the " + Units.format(job.options().cpu())
                    + " CPU-time limit" + abandonedNote);
            case THREW -> result.failed(Status.ERROR, describe(o.error()));
        };
    }

    /** One line about what a plugin threw: type, message and where in the plugin. */
    protected String describe(Throwable t) {
        if (t instanceof StackOverflowError) {
            return "stack overflow (recursion too deep)" + where(t);
        }
        String type = t.getClass().getSimpleName();
        String msg = t.getMessage();
        return type + (msg == null || msg.isBlank() ? "" : ": " + firstLine(msg)) + where(t);
    }

    /** " at FILE:LINE" for the innermost stack frame in the plugin's own code, or "". */
    protected String where(Throwable t) {
        return "";
    }

    private static String firstLine(String s) {
        String t = s.strip();
        int nl = t.indexOf('\n');
        String line = nl < 0 ? t : t.substring(0, nl);
        return line.length() > 300 ? line.substring(0, 300) + "..." : line;
    }
}
