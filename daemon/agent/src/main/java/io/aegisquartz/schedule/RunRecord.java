package io.aegisquartz.schedule;

import io.aegisquartz.sample.Status;

/**
 * One finished run of a job, as {@code aegis-quartz status} shows it.
 *
 * @param startMillis when the run started (epoch ms)
 * @param status      the run's state: its failure status if it failed, else the worst status its
 *                    samples reported (see {@link JobStateLog#stateOf})
 * @param wallNanos   how long it took
 * @param cpuNanos    CPU time it used, -1 if unknown
 * @param message     the message of the sample that gave the status (plugin text, not escaped), or null
 * @param manual      true if {@code aegis-quartz run-now} asked for it
 */
public record RunRecord(long startMillis, Status status, long wallNanos, long cpuNanos, String message, boolean manual) {
}
