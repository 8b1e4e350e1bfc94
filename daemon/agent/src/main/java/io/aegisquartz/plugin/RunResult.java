package io.aegisquartz.plugin;

import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Status;

import java.util.List;

/**
 * Everything one run produced.
 *
 * @param measurements what the plugin emitted, plus one measurement with the failure status if the
 *                     run failed, or one {@code ok} measurement if it emitted nothing: never empty
 * @param outcome      how the run itself ended: {@link Status#OK} if it completed (whatever it
 *                     reported), else the failure status
 * @param reason       why it failed, null if it completed
 * @param wallNanos    wall time of the run
 * @param cpuNanos     CPU time of the run, -1 if unknown
 * @param truncated    true if output or samples were cut at their cap
 * @param abandoned    true if an in-JVM plugin did not stop and its thread was abandoned
 * @param allocatedBytes bytes an in-JVM run's thread allocated, -1 if unknown or not an in-JVM run
 */
public record RunResult(List<Measurement> measurements, Status outcome, String reason, long wallNanos, long cpuNanos,
                        boolean truncated, boolean abandoned, long allocatedBytes) {

    public RunResult {
        measurements = List.copyOf(measurements);
    }

    /** True if the run failed in a way that counts toward backoff. */
    public boolean failed() {
        return outcome.isRunFailure();
    }
}
