package io.aegisquartz.schedule;

/**
 * Pauses a job that keeps failing: after {@code after} consecutive failed runs, the job skips its fires
 * for two of its intervals, then four, eight ... up to {@code max}. One good run ends it.
 */
final class Backoff {

    private final int after;
    private final long maxMillis;
    private int consecutive;
    private long pauseMillis;
    private long until;

    Backoff(int after, long maxMillis) {
        this.after = after;
        this.maxMillis = maxMillis;
    }

    /**
     * Records a run; returns true if this run started a backoff (the {@code after}-th failure in a row).
     *
     * @param intervalMillis the job's fire interval, the unit of the pause
     */
    synchronized boolean record(boolean failed, long nowMillis, long intervalMillis) {
        if (!failed) {
            consecutive = 0;
            pauseMillis = 0;
            until = 0;
            return false;
        }
        consecutive++;
        if (consecutive < after) {
            return false;
        }
        int doublings = Math.min(consecutive - after + 1, 30);
        pauseMillis = Math.min(maxMillis, Math.max(1, intervalMillis) * (1L << doublings));
        until = nowMillis + pauseMillis;
        return consecutive == after;
    }

    /** Epoch ms before which the job should not run, or 0. */
    synchronized long until() {
        return until;
    }

    synchronized int consecutiveFailures() {
        return consecutive;
    }

    synchronized long pauseMillis() {
        return pauseMillis;
    }
}
