package io.aegisquartz.spool;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * What opening the spool found and repaired. All counts are exact for this open.
 *
 * @param recordsRecovered      valid records found in the segments that were kept
 * @param pendingByCursor       per cursor, the records it has not acknowledged (they will be read again)
 * @param recordsSkippedCorrupt damaged regions stepped over inside segments (normally one record each)
 * @param bytesTruncated        bytes cut off segment tails after the last valid record (torn writes)
 * @param setAside              unreadable segments renamed to {@code *.bad}, never deleted
 * @param missingSegments       ids of segments that should exist but do not
 * @param checkpointProblem     why the single-reader spool's checkpoint was ignored, or null (then its
 *                              heir reads everything in the existing segments again)
 * @param cursorProblems        per cursor whose checkpoint was unusable, why (that cursor reads
 *                              everything in the existing segments again: duplicates rather than loss)
 * @param cursorsAdded          cursors that had no checkpoint: they start at the end
 * @param cursorsRemoved        checkpoints of cursors no longer named, deleted, with the records they
 *                              had pending (released)
 * @param legacyHeir            the cursor that took over a single-reader spool's checkpoint, or null
 * @param legacyReleased        records pending in a single-reader spool's checkpoint that no cursor took
 *                              over (released), or -1 if there was none to release
 */
public record RecoveryReport(long recordsRecovered, Map<String, Long> pendingByCursor, long recordsSkippedCorrupt,
                             long bytesTruncated, List<Path> setAside, List<Long> missingSegments, String checkpointProblem,
                             Map<String, String> cursorProblems, List<String> cursorsAdded, Map<String, Long> cursorsRemoved,
                             String legacyHeir, long legacyReleased) {

    public RecoveryReport {
        pendingByCursor = Map.copyOf(pendingByCursor);
        cursorProblems = Map.copyOf(cursorProblems);
        cursorsAdded = List.copyOf(cursorsAdded);
        cursorsRemoved = Map.copyOf(cursorsRemoved);
    }

    public int segmentsSetAside() {
        return setAside.size();
    }

    /** The records {@code cursor} has pending after the open. */
    public long recordsPending(String cursor) {
        return pendingByCursor.getOrDefault(cursor, 0L);
    }

    /** The most any cursor has pending: what the slowest output still has to send. */
    public long recordsPending() {
        return pendingByCursor.values().stream().mapToLong(Long::longValue).max().orElse(0);
    }

    /** True if anything was damaged, lost or ignored. */
    public boolean hasProblems() {
        return recordsSkippedCorrupt > 0 || bytesTruncated > 0 || !setAside.isEmpty() || !missingSegments.isEmpty()
                || checkpointProblem != null || !cursorProblems.isEmpty();
    }

    /** One line for the log. */
    public String summary() {
        StringBuilder sb = new StringBuilder();
        sb.append(recordsRecovered).append(" record(s) recovered, pending ").append(new java.util.TreeMap<>(pendingByCursor))
                .append(", ").append(recordsSkippedCorrupt).append(" skipped as corrupt, ")
                .append(bytesTruncated).append(" byte(s) truncated, ")
                .append(setAside.size()).append(" segment(s) set aside");
        if (!setAside.isEmpty()) {
            sb.append(' ').append(setAside);
        }
        if (!missingSegments.isEmpty()) {
            sb.append(", missing segment(s) ").append(missingSegments);
        }
        if (checkpointProblem != null) {
            sb.append(", checkpoint ignored (").append(checkpointProblem).append("): unacknowledged data is sent again");
        }
        cursorProblems.forEach((c, why) -> sb.append(", checkpoint of ").append(c).append(" ignored (").append(why)
                .append("): its unacknowledged data is sent again"));
        return sb.toString();
    }
}
