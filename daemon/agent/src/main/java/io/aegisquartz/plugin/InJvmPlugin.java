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

    /** The plugin file this was loaded from. */
    public Path file() {
        return file;
    }

    /** The plugin's own code for one run, on the plugin thread. */
    protected abstract void body(JobSpec job, JobMemory memory, RunContext ctx) throws Exception;

    /**
     * True if the plugin's code checks its budget by itself (compiled-in checks in every loop, method
     * and closure); false if it meets the agent only when it emits a sample, so that its allocation is
     * also watched from outside.
     */
    protected abstract boolean budgetChecksCompiledIn();

    @Override
    public final RunResult run(JobSpec job, JobMemory memory) throws InterruptedException {
        MeasurementCollector collected = new MeasurementCollector(job.options().maxSamples(), job.options().maxBytes());
        InJvmRunner.Outcome o = execute(job, memory, collected);
        String abandonedNote = o.abandoned()
                ? "; its thread ignored the interrupt for " + Units.format(job.options().killGrace())
                + " and was abandoned; the job is quarantined until the plugin file changes"
                : "";
        return result(job, collected, o.ending(), o.ending() == InJvmRunner.Ending.THREW ? describe(o.error()) : null,
                o.wallNanos(), o.cpuNanos(), o.allocatedBytes(), o.abandoned(), abandonedNote);
    }

    /**
     * The result of a run of an in-JVM plugin, wherever it ran (in the agent, or in the plugin host,
     * whose report the agent turns into one).
     *
     * @param error          what the plugin threw, described (for {@link InJvmRunner.Ending#THREW})
     * @param allocatedBytes what the run's thread allocated, -1 if unknown
     * @param note           appended to the message of a run stopped at a limit: what became of a thread that would not stop
     */
    public static RunResult result(JobSpec job, MeasurementCollector collected, InJvmRunner.Ending ending, String error, long wallNanos,
                                   long cpuNanos, long allocatedBytes, boolean abandoned, String note) {
        RunResultBuilder result = new RunResultBuilder(collected, job.defaultMetric())
                .time(wallNanos, cpuNanos)
                .allocated(allocatedBytes)
                .abandoned(abandoned);
        return switch (ending) {
            case COMPLETED -> result.completed();
            case TIMEOUT -> result.failed(Status.TIMEOUT, "timeout: stopped at the " + Units.format(job.options().timeout())
                    + " wall-time limit" + note);
            case CPU_LIMIT -> result.failed(Status.CPU_LIMIT, "cpu_limit: stopped at the " + Units.format(job.options().cpu())
                    + " CPU-time limit" + note);
            case MEM_LIMIT -> result.failed(Status.MEM_LIMIT, "mem_limit: stopped after allocating "
                    + (allocatedBytes < 0 ? "more than " + Units.formatBytes(job.options().mem()) : Units.formatBytesRounded(allocatedBytes))
                    + ", past the " + Units.formatBytes(job.options().mem()) + " allocation budget (mem=; garbage counts)" + note);
            case THREW -> result.failed(Status.ERROR, error + note);
        };
    }

    /**
     * Runs the plugin's code once under the job's limits, collecting what it emits into {@code collected}
     * (sealed on return): the part of a run the plugin host does, leaving the result to the agent.
     */
    public final InJvmRunner.Outcome execute(JobSpec job, JobMemory memory, MeasurementCollector collected) throws InterruptedException {
        return execute(null, job, memory, collected);
    }

    /** As {@link #execute(JobSpec, JobMemory, MeasurementCollector)}, with the plugin's thread in {@code group}. */
    public final InJvmRunner.Outcome execute(ThreadGroup group, JobSpec job, JobMemory memory, MeasurementCollector collected)
            throws InterruptedException {
        RunContext ctx = new RunContext(job, memory, collected, commands);
        InJvmRunner.Limits limits = new InJvmRunner.Limits(job.options().timeout(), job.options().cpu(), job.options().killGrace(),
                job.options().mem(), !budgetChecksCompiledIn());
        InJvmRunner.Outcome o = runner.run(group, "plugin " + job.name(), job.name(), limits, budget -> {
            ctx.bind(budget);
            body(job, memory, ctx);
        });
        collected.seal();
        return o;
    }

    /** One line about what a plugin threw: type, message and where in the plugin. */
    public String describe(Throwable t) {
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
