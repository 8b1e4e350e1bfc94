package io.aegisquartz.spool;

/**
 * A place in the spool: the byte offset in a segment where the next record starts.
 *
 * <p>{@code seq} is an in-memory record ordinal (records before this position since the spool was
 * opened); it only feeds the pending-record count and is not stored on disk.
 */
public record SpoolPosition(long segment, long offset, long seq) implements Comparable<SpoolPosition> {

    @Override
    public int compareTo(SpoolPosition o) {
        int c = Long.compare(segment, o.segment);
        return c != 0 ? c : Long.compare(offset, o.offset);
    }

    boolean isAfter(SpoolPosition o) {
        return compareTo(o) > 0;
    }

    @Override
    public String toString() {
        return segment + ":" + offset;
    }
}
