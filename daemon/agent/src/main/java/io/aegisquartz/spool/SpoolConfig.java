package io.aegisquartz.spool;

import java.io.IOException;
import java.util.function.LongSupplier;

/**
 * Spool limits. {@code freeSpace} and {@code clock} are null in production (the spool's
 * FileStore and the system clock); tests substitute them.
 */
public record SpoolConfig(long segmentBytes, long maxBytes, long minFreeBytes, int maxRecordBytes,
                          FreeSpace freeSpace, LongSupplier clock) {

    public static final long DEFAULT_SEGMENT_BYTES = 8L << 20;
    public static final long DEFAULT_MAX_BYTES = 256L << 20;
    public static final long DEFAULT_MIN_FREE_BYTES = 64L << 20;
    public static final int DEFAULT_MAX_RECORD_BYTES = 1 << 20;

    /** Usable bytes on the spool's filesystem. */
    @FunctionalInterface
    public interface FreeSpace {
        long usableBytes() throws IOException;
    }

    public SpoolConfig {
        if (segmentBytes < SegmentFile.HEADER_BYTES + FrameCodec.HEADER_BYTES + 1 || segmentBytes > (1L << 30)) {
            throw new IllegalArgumentException("segment size must be between 64 bytes and 1 GiB: " + segmentBytes);
        }
        if (maxBytes < segmentBytes) {
            throw new IllegalArgumentException("spool size cap " + maxBytes + " is below the segment size " + segmentBytes);
        }
        if (maxRecordBytes < 1 || maxRecordBytes > FrameCodec.MAX_PAYLOAD_BYTES) {
            throw new IllegalArgumentException("max record size must be 1.." + FrameCodec.MAX_PAYLOAD_BYTES);
        }
        if (minFreeBytes < 0) {
            throw new IllegalArgumentException("min free bytes must not be negative");
        }
    }

    public static SpoolConfig defaults() {
        return new SpoolConfig(DEFAULT_SEGMENT_BYTES, DEFAULT_MAX_BYTES, DEFAULT_MIN_FREE_BYTES, DEFAULT_MAX_RECORD_BYTES, null, null);
    }

    public SpoolConfig withSegmentBytes(long v) {
        return new SpoolConfig(v, maxBytes, minFreeBytes, maxRecordBytes, freeSpace, clock);
    }

    public SpoolConfig withMaxBytes(long v) {
        return new SpoolConfig(segmentBytes, v, minFreeBytes, maxRecordBytes, freeSpace, clock);
    }

    public SpoolConfig withMinFreeBytes(long v) {
        return new SpoolConfig(segmentBytes, maxBytes, v, maxRecordBytes, freeSpace, clock);
    }

    public SpoolConfig withMaxRecordBytes(int v) {
        return new SpoolConfig(segmentBytes, maxBytes, minFreeBytes, v, freeSpace, clock);
    }

    public SpoolConfig withFreeSpace(FreeSpace v) {
        return new SpoolConfig(segmentBytes, maxBytes, minFreeBytes, maxRecordBytes, v, clock);
    }

    public SpoolConfig withClock(LongSupplier v) {
        return new SpoolConfig(segmentBytes, maxBytes, minFreeBytes, maxRecordBytes, freeSpace, v);
    }
}
