package io.aegisquartz.api;

import java.time.Duration;
import java.util.List;
import java.util.Map;

/** What a plugin sees during one run: its arguments, a way to emit samples, a log, and helpers. */
public interface SampleContext {

    /** Arguments from the cron line, after the plugin path. */
    List<String> args();

    /** Name of the job being run (for messages; it is added to every sample anyway). */
    String job();

    /** Starts a sample for {@code metric}; nothing is recorded until {@link SampleBuilder#emit()}. */
    SampleBuilder sample(String metric);

    /** Emits a sample with status {@code ok}. */
    default void emit(String metric, Map<String, ? extends Number> values) {
        emit(metric, values, Map.of());
    }

    /** Emits a sample with status {@code ok} and string tags. */
    default void emit(String metric, Map<String, ? extends Number> values, Map<String, String> tags) {
        SampleBuilder b = sample(metric);
        values.forEach((k, v) -> b.value(k, v.doubleValue()));
        tags.forEach(b::tag);
        b.emit();
    }

    /** Writes a line to the agent log, prefixed with the job name. */
    void log(String message);

    /** Writes a warning to the agent log, prefixed with the job name. */
    void warn(String message);

    /**
     * A map that survives between runs of this job (not across agent restarts or plugin changes).
     * Use it for previous counter readings when computing rates.
     */
    Map<String, Object> state();

    /** Time left before this run hits its wall-time limit. */
    Duration timeLeft();

    /** True once the run has hit a limit; return as soon as possible. */
    boolean stopRequested();

    /**
     * Runs a command (no shell) with a cleaned environment, stdin at /dev/null, in its own process
     * session, and kills its whole process tree at {@code timeout} or at this run's own limit,
     * whichever comes first. Output beyond the run's output cap is dropped.
     */
    CommandResult exec(List<String> command, Duration timeout) throws InterruptedException;
}
