package io.aegisquartz.schedule;

import java.util.ArrayList;
import java.util.List;

/**
 * The last {@link #RUNS} runs of a job and its last skipped fire, for {@code aegis-quartz status}.
 * A fixed ring: one small record per run, nothing that grows.
 */
final class JobHistory {

    /** Runs kept per job. */
    static final int RUNS = 20;

    private final RunRecord[] ring = new RunRecord[RUNS];
    private int next;
    private long runs;
    private long skips;
    private long lastSkipMillis;
    private String lastSkipReason;

    synchronized void ran(RunRecord r) {
        ring[next] = r;
        next = (next + 1) % RUNS;
        runs++;
    }

    synchronized void skipped(long nowMillis, String reason) {
        skips++;
        lastSkipMillis = nowMillis;
        lastSkipReason = reason;
    }

    /** The runs kept, newest first. */
    synchronized List<RunRecord> runs() {
        List<RunRecord> out = new ArrayList<>(RUNS);
        for (int i = 1; i <= RUNS; i++) {
            RunRecord r = ring[Math.floorMod(next - i, RUNS)];
            if (r == null) {
                break;
            }
            out.add(r);
        }
        return out;
    }

    synchronized long runCount() {
        return runs;
    }

    synchronized long skipCount() {
        return skips;
    }

    synchronized long lastSkipMillis() {
        return lastSkipMillis;
    }

    synchronized String lastSkipReason() {
        return lastSkipReason;
    }
}
