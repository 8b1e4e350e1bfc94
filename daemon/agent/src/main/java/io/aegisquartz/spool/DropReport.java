package io.aegisquartz.spool;

/**
 * Records the spool deleted to stay within its limits before one cursor had sent them; the output
 * reading through that cursor turns it into a {@code dropped} sample. Times are the append times of
 * the first and last record dropped, so together they say exactly where the gap is.
 *
 * @param number a number unique within the cursor and stable across restarts: it names the report
 *               (the sample built from it gets an id derived from it, so a report delivered twice
 *               after a crash is one sample to a backend that drops repeated ids)
 * @param count  records dropped
 * @param total  records this cursor lost to drops since it was created, this report included
 */
public record DropReport(long number, long count, long firstTimeMillis, long lastTimeMillis, long total, Reason reason) {

    /** Which limit forced the drop. */
    public enum Reason {
        /** The spool would have grown past its size cap. */
        SIZE_CAP,
        /** The spool's filesystem would have had less free space than the configured minimum. */
        DISK_FREE;

        /** As in the sample's {@code reason} tag. */
        public String tag() {
            return this == SIZE_CAP ? "size_cap" : "disk_free";
        }
    }
}
