package io.aegisquartz.spool;

import java.nio.file.Path;
import java.util.List;

/**
 * What opening the spool found and repaired. All counts are exact for this open.
 *
 * @param recordsRecovered   valid records found in the segments that were kept (acknowledged or not)
 * @param recordsPending     of those, the ones not yet acknowledged (they will be read again)
 * @param recordsSkippedCorrupt damaged regions stepped over inside segments (normally one record each)
 * @param bytesTruncated     bytes cut off segment tails after the last valid record (torn writes)
 * @param setAside           unreadable segments renamed to {@code *.bad}, never deleted
 * @param missingSegments    ids of segments that should exist but do not
 * @param checkpointProblem  null if the checkpoint was fine or absent; else why it was ignored
 *                           (then everything in the existing segments is delivered again)
 */
public record RecoveryReport(long recordsRecovered, long recordsPending, long recordsSkippedCorrupt, long bytesTruncated,
                             List<Path> setAside, List<Long> missingSegments, String checkpointProblem) {

    public int segmentsSetAside() {
        return setAside.size();
    }

    /** True if anything was damaged, lost or ignored. */
    public boolean hasProblems() {
        return recordsSkippedCorrupt > 0 || bytesTruncated > 0 || !setAside.isEmpty() || !missingSegments.isEmpty()
                || checkpointProblem != null;
    }

    /** One line for the log. */
    public String summary() {
        StringBuilder sb = new StringBuilder();
        sb.append(recordsRecovered).append(" record(s) recovered, ").append(recordsPending).append(" pending, ")
                .append(recordsSkippedCorrupt).append(" skipped as corrupt, ")
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
        return sb.toString();
    }
}
