package io.aegisquartz.schedule;

import io.aegisquartz.util.ExponentialBackoff;

import java.time.Duration;

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
        // The first pause is two fire intervals, then it doubles: the agent's one exponential backoff, without jitter
        // (a job's pause is read by people in the log and is per job, so there is no crowd to spread).
        long first = Math.min(maxMillis, 2 * Math.max(1, intervalMillis));
        pauseMillis = ExponentialBackoff.doubling(Duration.ofMillis(first), Duration.ofMillis(maxMillis))
                .ceilingNanos(consecutive - after + 1) / 1_000_000;
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
