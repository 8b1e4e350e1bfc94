package io.aegisquartz.spool;

/**
 * A snapshot of the spool. {@code oldestPendingTimeMillis} is -1 when nothing is pending;
 * {@code dropped} and {@code corruptSkipped} count since open (corruptSkipped includes recovery).
 */
public record SpoolStats(long pendingRecords, long pendingBytes, long oldestPendingTimeMillis, int segments,
                         long dropped, long corruptSkipped, long forces) {
}
