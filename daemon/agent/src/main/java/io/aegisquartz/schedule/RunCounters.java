package io.aegisquartz.schedule;

import io.aegisquartz.sample.Status;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * What the jobs did since the agent started, for the agent's own health samples: runs by the state
 * they ended in, fires skipped and why, runs asked for with run-now, and how late fires started.
 * Counters only, so counting a run allocates nothing.
 */
public final class RunCounters {

    /** Why a fire did not run. */
    public enum Skip {
        /** The previous run was still going (overlap=skip). */
        OVERLAP,
        /** A hold: backoff, shed by the governor, quarantine. */
        HELD,
        /** Quartz could not fire it on time (agent paused, workers busy, clock jump) and misfire=skip. */
        MISSED
    }

    private final AtomicLongArray runs = new AtomicLongArray(Status.values().length);
    private final AtomicLongArray skips = new AtomicLongArray(Skip.values().length);
    private final AtomicLong manual = new AtomicLong();
    private final LatencyHistogram lateness = new LatencyHistogram();

    void ran(Status state, boolean manualRun) {
        runs.incrementAndGet(state.ordinal());
        if (manualRun) {
            manual.incrementAndGet();
        }
    }

    void skip(Skip why) {
        skips.incrementAndGet(why.ordinal());
    }

    void fired(long latenessMicros) {
        lateness.record(latenessMicros);
    }

    /** Runs since start that ended in {@code state}. */
    public long runs(Status state) {
        return runs.get(state.ordinal());
    }

    /** Fires skipped since start for {@code why}. */
    public long skipped(Skip why) {
        return skips.get(why.ordinal());
    }

    /** Runs asked for with run-now since start. */
    public long manualRuns() {
        return manual.get();
    }

    /** How late scheduled fires started: fire time to the worker picking the job up. */
    public LatencyHistogram lateness() {
        return lateness;
    }
}
