package io.aegisquartz.alert.channel;

/**
 * One thing to tell someone: a series went bad, changed, stayed bad, recovered or flaps; the agent had
 * a problem of its own; a host went silent or came back. Notifications ({@link Notification}) carry one
 * or more of these. Plugin-supplied text ({@code message}, {@code value}) is kept as the plugin wrote
 * it; each channel escapes it for its own format.
 *
 * @param kind        what happened
 * @param key         the series it happened to (job, metric and tags), so that a later event for the same
 *                    series replaces an earlier one still waiting in the same group
 * @param host        host name
 * @param job         job name (the cron line's name= or plugin and arguments), or "agent" for the agent's own events
 * @param metric      the metric, empty for the run itself
 * @param status      the status now (ok, warning, critical, unknown, error, timeout, ...)
 * @param previous    the status notified before (for a change or a recovery), else empty
 * @param message     the plugin's (or the agent's) message
 * @param sinceMillis when the problem began (its first non-ok run)
 * @param timeMillis  when this event happened
 * @param value       the sample's values as "name=value unit, ...", or empty
 * @param lastedMillis for a recovery, how long the problem lasted; else 0
 */
public record AlertEvent(Kind kind, String key, String host, String job, String metric, String status, String previous,
                         String message, long sinceMillis, long timeMillis, String value, long lastedMillis) {

    /** What an event says. */
    public enum Kind {
        /** A series became a hard problem. */
        PROBLEM,
        /** A hard problem changed status (warning to critical, critical to timeout, ...). */
        CHANGE,
        /** A hard problem still lasts ({@code repeat=}). */
        REPEAT,
        /** A notified problem is over. */
        RECOVERY,
        /** A series started flapping; no further change is notified until it stops. */
        FLAPPING,
        /** A series stopped flapping; says the status it settled on. */
        FLAPPING_STOPPED,
        /** Something happened to the agent that is not a lasting state (samples dropped, a job shed or quarantined, a failed reload). */
        EVENT,
        /** A host sent nothing for the silence time (the receiver's check). */
        SILENT,
        /** A silent host sends again. */
        BACK,
        /** {@code aegis-quartz notify test}. */
        TEST,
        /**
         * A series with a notified problem is gone from the configuration (its job, or an output, was
         * removed): it will never recover, so this resolves it, once, and its state is forgotten.
         */
        REMOVED;

        /** The lower-case name used in JSON and samples. */
        public String wire() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }

        /** True for the kinds that say something is wrong (the rest say it is better, or are tests). */
        public boolean bad() {
            return this == PROBLEM || this == CHANGE || this == REPEAT || this == FLAPPING || this == EVENT || this == SILENT;
        }
    }
}
