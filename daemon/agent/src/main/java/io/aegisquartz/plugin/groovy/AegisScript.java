package io.aegisquartz.plugin.groovy;

import groovy.lang.Script;
import io.aegisquartz.api.CommandResult;
import io.aegisquartz.api.SampleBuilder;
import io.aegisquartz.api.SampleContext;
import io.aegisquartz.plugin.RunBudget;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The base class of every Groovy plugin: the methods a script can call without any import.
 *
 * <p>See plugins-user/README.md for the script API. {@code args} (a List of Strings) comes from the
 * binding; everything else is a method here that forwards to the run's {@link SampleContext}.
 */
public abstract class AegisScript extends Script {

    private SampleContext ctx;

    void bind(SampleContext c) {
        this.ctx = c;
    }

    /** The run's context, for code that wants the plugin API object itself. */
    public SampleContext getCtx() {
        return ctx;
    }

    /** Emits a sample with status ok: {@code emit('load', [load1: 0.5])}. */
    public void emit(String metric, Map<String, ?> values) {
        emit(metric, values, Map.of());
    }

    /** Emits a sample with status ok and tags: {@code emit('fs', [used_pct: 40], [mount: '/'])}. */
    public void emit(String metric, Map<String, ?> values, Map<String, ?> tags) {
        SampleBuilder b = ctx.sample(metric);
        values.forEach((k, v) -> b.value(k, number(k, v)));
        tags.forEach((k, v) -> b.tag(k, String.valueOf(v)));
        b.emit();
    }

    /** Starts a sample to set status, message, units: {@code sample('x').value('a', 1).status(Status.WARNING).emit()}. */
    public SampleBuilder sample(String metric) {
        return ctx.sample(metric);
    }

    /** Logs a line to the agent log, prefixed with the job name. */
    public void log(Object message) {
        ctx.log(String.valueOf(message));
    }

    /** Logs a warning to the agent log. */
    public void warn(Object message) {
        ctx.warn(String.valueOf(message));
    }

    /** Scripts have no terminal; println goes to the agent log like {@link #log}. */
    @Override
    public void println(Object value) {
        ctx.log(String.valueOf(value));
    }

    @Override
    public void print(Object value) {
        ctx.log(String.valueOf(value));
    }

    /** A map kept between runs of this job: previous counters for rates. */
    public Map<String, Object> getState() {
        return ctx.state();
    }

    /** Wall time left in this run. */
    public Duration getTimeLeft() {
        return ctx.timeLeft();
    }

    /** True once the run hit a limit. */
    public boolean isStopRequested() {
        return ctx.stopRequested();
    }

    /** Runs a command (no shell) with the run's remaining time as its timeout. */
    public CommandResult exec(List<?> command) throws InterruptedException {
        return ctx.exec(strings(command), ctx.timeLeft());
    }

    /** Runs a command (no shell), killing its process tree after {@code timeoutSeconds}. */
    public CommandResult exec(List<?> command, Number timeoutSeconds) throws InterruptedException {
        return ctx.exec(strings(command), Duration.ofMillis(Math.round(timeoutSeconds.doubleValue() * 1000)));
    }

    /**
     * Sleeps, but stops at the run's limit. Replaces Groovy's own {@code sleep}, which ignores interrupts
     * and so could never be stopped.
     */
    public void sleep(long millis) throws InterruptedException {
        long end = System.nanoTime() + millis * 1_000_000L;
        while (true) {
            RunBudget.check();
            long left = end - System.nanoTime();
            if (left <= 0) {
                return;
            }
            Thread.sleep(Math.min(left / 1_000_000L + 1, 100));
        }
    }

    private static double number(String name, Object v) {
        if (v instanceof Number n) {
            return n.doubleValue();
        }
        throw new IllegalArgumentException("value '" + name + "' is " + (v == null ? "null" : v.getClass().getSimpleName() + " " + v)
                + ", not a number");
    }

    private static List<String> strings(List<?> command) {
        List<String> out = new ArrayList<>(command.size());
        for (Object o : command) {
            out.add(String.valueOf(o));
        }
        return out;
    }
}
