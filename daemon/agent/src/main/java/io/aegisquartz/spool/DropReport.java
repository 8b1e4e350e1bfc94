package io.aegisquartz.spool;

/**
 * Unsent records the spool deleted to stay within its limits; the caller turns this into a
 * {@code dropped} sample. Times are the append times of the first and last dropped record.
 */
public record DropReport(long count, long firstTimeMillis, long lastTimeMillis, Reason reason) {

    /** Which limit forced the drop. */
    public enum Reason {
        /** The spool would have grown past its size cap. */
        SIZE_CAP,
        /** The spool's filesystem would have had less free space than the configured minimum. */
        DISK_FREE
    }
}
