package io.aegisquartz.sample;

/**
 * One sample as it leaves the agent: a measurement stamped with where and how it was taken.
 *
 * @param id          unique id (a UUIDv7: time-ordered, so receivers can de-duplicate in a window)
 * @param hostUuid    host identity from conf/uuid
 * @param hostname    host name at the time of the run
 * @param job         job name (the cron line's {@code name=} or its plugin path and arguments)
 * @param plugin      plugin path as written in the cron line
 * @param durationMs  wall time of the run that produced it, in milliseconds (0 for skipped runs)
 * @param cpuMs       CPU time of that run, in milliseconds, or -1 if it could not be measured
 * @param truncated   true if the run's output was cut at the output cap or sample limit
 * @param measurement the metric, status, values and tags
 */
public record Sample(String id, String hostUuid, String hostname, String job, String plugin,
                     double durationMs, double cpuMs, boolean truncated, Measurement measurement) {

    public Status status() {
        return measurement.status();
    }

    public String metric() {
        return measurement.metric();
    }

    public String message() {
        return measurement.message();
    }
}
