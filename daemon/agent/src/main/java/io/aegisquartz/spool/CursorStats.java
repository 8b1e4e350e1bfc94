package io.aegisquartz.spool;

/**
 * A snapshot of one cursor: what its output has not yet had acknowledged.
 *
 * @param pendingRecords          records not yet acknowledged through this cursor
 * @param pendingBytes            their bytes in the segment files (frames included)
 * @param oldestPendingTimeMillis append time of the oldest of them, -1 if none
 * @param dropped                 records this cursor lost to the size cap or the free-disk guard since it was created
 * @param dropsUndelivered        of those, records whose {@code dropped} report the output has not yet delivered
 */
public record CursorStats(String name, long pendingRecords, long pendingBytes, long oldestPendingTimeMillis, long dropped,
                          long dropsUndelivered) {
}
