package io.aegisquartz.spool;

import java.util.List;

/**
 * Records read in one call, oldest first. Acknowledging {@link #end()} acknowledges all of them
 * (and any corrupt bytes the read stepped over).
 */
public record SpoolBatch(List<SpoolRecord> records, SpoolPosition end) {

    public boolean isEmpty() {
        return records.isEmpty();
    }

    public int size() {
        return records.size();
    }
}
