package io.aegisquartz.sample;

import java.util.Locale;

/**
 * The status every sample carries.
 *
 * <p>The first four are what a plugin reported about the thing it checks. The others say that the run
 * itself failed or did not happen; the sample's message says why.
 */
public enum Status {
    /** The plugin ran and found nothing wrong. */
    OK,
    /** The plugin ran and reported a warning. */
    WARNING,
    /** The plugin ran and reported a critical problem. */
    CRITICAL,
    /** The plugin ran but could not tell (Nagios exit code 3). */
    UNKNOWN,
    /** The run failed: the plugin threw, could not start, exited with an unexpected code, or printed garbage. */
    ERROR,
    /** The run hit its wall-time limit and was stopped. */
    TIMEOUT,
    /** The run hit its CPU-time limit and was stopped. */
    CPU_LIMIT,
    /** An in-JVM run allocated more than its {@code mem} budget and was stopped. */
    MEM_LIMIT,
    /** The run was killed by something other than our limits (a signal, the OOM killer). */
    KILLED,
    /** The run did not happen: the previous one was still running, the job was backing off, or fire times were missed. */
    SKIPPED,
    /**
     * Not a run: the spool dropped unsent samples to stay within its limits. The sample says how many,
     * appended when, and why, so the receiver knows where the gap is.
     */
    DROPPED;

    private final String wire = name().toLowerCase(Locale.ROOT);

    /** The lower-case form used in samples, logs and the CLI. */
    public String wire() {
        return wire;
    }

    /** True for statuses that mean the run itself went wrong; these count towards backoff. */
    public boolean isRunFailure() {
        return this == ERROR || this == TIMEOUT || this == CPU_LIMIT || this == MEM_LIMIT || this == KILLED;
    }

    /** Maps the plugin API's status. */
    public static Status of(io.aegisquartz.api.Status s) {
        return switch (s) {
            case OK -> OK;
            case WARNING -> WARNING;
            case CRITICAL -> CRITICAL;
            case UNKNOWN -> UNKNOWN;
        };
    }

    /** Parses the wire form; {@code null} if it is not one of the plugin-reportable statuses. */
    public static Status pluginStatus(String s) {
        if (s == null) {
            return null;
        }
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "ok" -> OK;
            case "warning" -> WARNING;
            case "critical" -> CRITICAL;
            case "unknown" -> UNKNOWN;
            default -> null;
        };
    }

    /** Nagios exit code convention for the worse of two statuses; used by {@code run-plugin}. */
    public int exitCode() {
        return switch (this) {
            case OK, SKIPPED -> 0;
            case WARNING -> 1;
            case CRITICAL -> 2;
            default -> 3;
        };
    }
}
