package io.aegisquartz.spool;

/** One record read from the spool; acknowledge {@link #next()} once it has been delivered. */
public record SpoolRecord(SpoolPosition position, SpoolPosition next, long timeMillis, byte[] payload) {
}
