package io.aegisquartz.schedule;

/**
 * Why a job's fires are held, since and until when. While a hold is active, each fire of the job is
 * skipped with a {@code skipped} sample whose message is {@link #describe()}.
 *
 * <p>One shape for every reason a job does not run (the governor shedding it, a backoff after
 * failures, a quarantine), so that {@code aegis-quartz status} and the samples show them alike and a
 * new reason needs no new plumbing: {@link ScheduledJob#hold(Hold)} takes any kind.
 *
 * @param kind        a short word for machines: {@link #SHED}, {@link #BACKOFF}, {@link #QUARANTINED}, or another
 * @param reason      why, one line for people
 * @param sinceMillis when the hold began (epoch ms)
 * @param untilMillis when it ends by itself (epoch ms), or {@link #UNTIL_RELEASED}
 * @param releasedBy  for a hold {@link #UNTIL_RELEASED}, what releases it as a phrase ("its plugin file
 *                    changes"), else null
 */
public record Hold(String kind, String reason, long sinceMillis, long untilMillis, String releasedBy) {

    /** The governor shed the job: the agent was over its CPU budget and this job used the most. */
    public static final String SHED = "shed";
    /** The job failed several runs in a row and waits before its next try. */
    public static final String BACKOFF = "backoff";
    /** The job's plugin misbehaved beyond its limits; it stays held until released (see {@link Quarantine}). */
    public static final String QUARANTINED = "quarantined";

    /** {@link #untilMillis} of a hold that lasts until something releases it. */
    public static final long UNTIL_RELEASED = Long.MAX_VALUE;

    /** A hold that ends by itself at {@code untilMillis}, or one {@link #UNTIL_RELEASED} by something unnamed. */
    public Hold(String kind, String reason, long sinceMillis, long untilMillis) {
        this(kind, reason, sinceMillis, untilMillis, null);
    }

    /** True if the hold still holds at {@code nowMillis}. */
    public boolean activeAt(long nowMillis) {
        return untilMillis > nowMillis;
    }

    /** The message of the {@code skipped} samples while it holds (docs/SAMPLES.md lists the forms). */
    public String describe() {
        return switch (kind) {
            case SHED -> "shed by the governor until " + JobStateLog.clock(untilMillis) + ": " + reason;
            case BACKOFF -> reason + "; next run not before " + JobStateLog.clock(untilMillis);
            default -> kind + (untilMillis == UNTIL_RELEASED ? "" : " until " + JobStateLog.clock(untilMillis)) + ": " + reason;
        };
    }
}
