package io.aegisquartz.spool;

/**
 * Spool-wide figures (per-output ones: {@link CursorStats}). {@code corruptSkipped} counts since open,
 * recovery included; {@code forces} is the number of data fsyncs (group commits and segment seals).
 *
 * @param appended records appended since open, plus those recovered
 */
public record SpoolStats(long appended, long bytes, int segments, long corruptSkipped, long forces) {
}
