package io.aegisquartz.spool;

import java.io.IOException;

/**
 * Reads records appended after it was made, in order, with no checkpoint and no effect on any
 * cursor ({@link SpoolCursor#tail()}). If the segment it is in is dropped, it goes on from the
 * oldest record left.
 */
public final class SpoolTail {

    private final Spool spool;
    final SpoolCursor state;

    SpoolTail(Spool spool, SpoolCursor state) {
        this.spool = spool;
        this.state = state;
    }

    /** Up to {@code maxRecords} records (at most {@code maxBytes} of payload, at least one) after the last read. */
    public SpoolBatch read(int maxRecords, long maxBytes) throws IOException {
        return spool.read(state, maxRecords, maxBytes);
    }

    /** Releases the file it reads. */
    public void close() {
        spool.closeReader(state);
    }
}
