package io.aegisquartz.schedule;

import io.aegisquartz.config.JobSpec;
import io.aegisquartz.sample.Status;

import java.util.List;

/**
 * A read-only view of one job at one moment, for {@code aegis-quartz status} (docs/CONTROL.md).
 *
 * @param spec                its definition
 * @param state               the state of its last run (see {@link JobStateLog}), null if it has not run since start
 * @param runningSinceMillis  start of the run going now, 0 if none
 * @param runs                the last {@value JobHistory#RUNS} runs, newest first
 * @param runCount            runs since start
 * @param consecutiveFailures failed runs in a row (the backoff counts these)
 * @param holds               what holds its fires now (empty if it may run)
 * @param skipCount           fires skipped since start (overlap, holds, misfires)
 * @param lastSkipMillis      when the last fire was skipped, 0 if never
 * @param lastSkipReason      why, or null
 * @param nextFireMillis      next scheduled fire, 0 if none
 */
public record JobStatus(JobSpec spec, Status state, long runningSinceMillis, List<RunRecord> runs, long runCount,
                        int consecutiveFailures, List<Hold> holds, long skipCount, long lastSkipMillis, String lastSkipReason,
                        long nextFireMillis) {

    public JobStatus {
        runs = List.copyOf(runs);
        holds = List.copyOf(holds);
    }

    /** The last run, or null. */
    public RunRecord lastRun() {
        return runs.isEmpty() ? null : runs.get(0);
    }
}
