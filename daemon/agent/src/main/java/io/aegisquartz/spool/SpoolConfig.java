package io.aegisquartz.spool;

import java.io.IOException;
import java.util.function.LongSupplier;

/**
 * Spool limits. {@code freeSpace} and {@code clock} are null in production (the spool's
 * FileStore and the system clock); tests substitute them.
 *
 * <p>In production the segment size follows the cap ({@link #forLimits}): a sixteenth of it, between
 * 64 KiB and 8 MiB, so that a drop (always one whole segment) removes at most 1/16 of the cap, and a
 * record is never larger than a segment.
 */
public record SpoolConfig(long segmentBytes, long maxBytes, long minFreeBytes, int maxRecordBytes,
                          FreeSpace freeSpace, LongSupplier clock) {

    public static final long DEFAULT_MAX_BYTES = 256L << 20;
    public static final long DEFAULT_MIN_FREE_BYTES = 64L << 20;
    /** The smallest cap {@link #forLimits} takes: 16 segments of the smallest size. */
    public static final long MIN_MAX_BYTES = 1L << 20;
    /** A segment is this fraction of the cap (and so is the most one drop removes). */
    public static final int SEGMENTS_PER_CAP = 16;
    public static final long MIN_SEGMENT_BYTES = 64L << 10;
    public static final long MAX_SEGMENT_BYTES = 8L << 20;
    public static final int MAX_RECORD_BYTES = 1 << 20;

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

    /**
     * The configuration for a size cap and a free-space minimum, as the agent uses it: works for
     * every cap from {@link #MIN_MAX_BYTES} up.
     *
     * @throws IllegalArgumentException for a cap below {@link #MIN_MAX_BYTES} or a negative minimum
     */
    public static SpoolConfig forLimits(long maxBytes, long minFreeBytes) {
        if (maxBytes < MIN_MAX_BYTES) {
            throw new IllegalArgumentException("spool size cap " + maxBytes + " is below the minimum of " + MIN_MAX_BYTES + " bytes");
        }
        long segment = segmentBytesFor(maxBytes);
        return new SpoolConfig(segment, maxBytes, minFreeBytes, maxRecordBytesFor(segment), null, null);
    }

    /** A sixteenth of the cap, between 64 KiB and 8 MiB. */
    public static long segmentBytesFor(long maxBytes) {
        return Math.max(MIN_SEGMENT_BYTES, Math.min(MAX_SEGMENT_BYTES, maxBytes / SEGMENTS_PER_CAP));
    }

    /** The largest record that fits a segment of this size with its headers, at most 1 MiB. */
    public static int maxRecordBytesFor(long segmentBytes) {
        return (int) Math.min(MAX_RECORD_BYTES, segmentBytes - SegmentFile.HEADER_BYTES - FrameCodec.HEADER_BYTES);
    }

    public static SpoolConfig defaults() {
        return forLimits(DEFAULT_MAX_BYTES, DEFAULT_MIN_FREE_BYTES);
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
