package io.aegisquartz.plugin;

import io.aegisquartz.log.LogText;
import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Status;

import java.util.ArrayList;
import java.util.List;

/** Assembles a {@link RunResult} so that every run yields at least one measurement. */
public final class RunResultBuilder {

    private final MeasurementCollector collected;
    private final String metric;
    private long wallNanos;
    private long cpuNanos = -1;
    private boolean truncated;
    private boolean abandoned;
    private long allocatedBytes = -1;

    /** @param metric metric name for the measurements the agent adds itself */
    public RunResultBuilder(MeasurementCollector collected, String metric) {
        this.collected = collected;
        this.metric = metric;
    }

    public RunResultBuilder time(long wall, long cpu) {
        this.wallNanos = wall;
        this.cpuNanos = cpu;
        return this;
    }

    public RunResultBuilder truncated(boolean t) {
        this.truncated |= t;
        return this;
    }

    public RunResultBuilder allocated(long bytes) {
        this.allocatedBytes = bytes;
        return this;
    }

    public RunResultBuilder abandoned(boolean a) {
        this.abandoned = a;
        return this;
    }

    /** The run ended normally: what it emitted, or one {@code ok} measurement if nothing. */
    public RunResult completed() {
        return build(Status.OK, null);
    }

    /** The run failed: what it emitted before, plus a measurement with the failure status and reason. */
    public RunResult failed(Status status, String reason) {
        return build(status, reason);
    }

    private RunResult build(Status outcome, String rawReason) {
        String reason = message(rawReason);
        List<Measurement> list = new ArrayList<>(collected.finish(metric));
        long now = System.currentTimeMillis();
        if (outcome != Status.OK) {
            list.add(Measurement.status(now, metric, outcome, reason));
        } else if (list.isEmpty()) {
            list.add(Measurement.status(now, metric, Status.OK, "run completed without emitting samples"));
        }
        return new RunResult(list, outcome, reason, wallNanos, cpuNanos, truncated || collected.truncated(), abandoned, allocatedBytes);
    }

    /**
     * A reason as the agent's own sample carries it: one line, within the message cap. Reasons quote
     * plugins (an exception's text, a line of stderr), so they are escaped as for the log.
     */
    static String message(String reason) {
        return reason == null ? null : LogText.escape(reason, MeasurementCollector.MAX_MESSAGE - 32);
    }

    /** A run that never started (plugin could not be loaded, run refused). */
    public static RunResult notRun(String metric, Status status, String rawReason) {
        String reason = message(rawReason);
        return new RunResult(List.of(Measurement.status(System.currentTimeMillis(), metric, status, reason)),
                status, reason, 0, -1, false, false, -1);
    }
}
