package io.aegisquartz.output;

/**
 * A read-only snapshot of one output, for {@code aegis-quartz status} and the log. Times are epoch
 * milliseconds, -1 for never; counts are since the agent started, except {@code dropped} (since the
 * output's cursor was created).
 *
 * @param pendingSamples        samples its backend has not yet acknowledged
 * @param pendingBytes          their bytes in the spool
 * @param oldestPendingAgeMillis age of the oldest of them, -1 if none
 * @param lastSuccessMillis     when a send last succeeded
 * @param failingSinceMillis    when the current outage began, -1 if the output is not failing
 * @param lastError             the last failure's reason, or null
 * @param sentSamples           samples the backend accepted (duplicates not counted)
 * @param duplicates            samples the backend said it already had
 * @param requests              sends attempted
 * @param failedAttempts        sends that failed (each retry counts)
 * @param deadLettered          samples moved to its dead-letter file
 * @param dropped               samples the spool dropped before this output sent them
 * @param liveSent              samples sent ahead of a backlog (and again in order later)
 */
public record OutputState(String name, String type, long pendingSamples, long pendingBytes, long oldestPendingAgeMillis,
                          long lastSuccessMillis, long failingSinceMillis, String lastError, long sentSamples, long duplicates,
                          long requests, long failedAttempts, long deadLettered, long dropped, long liveSent) {

    /** True while the output is in an outage (its last send failed). */
    public boolean failing() {
        return failingSinceMillis >= 0;
    }
}
