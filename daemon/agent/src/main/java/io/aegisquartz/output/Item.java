package io.aegisquartz.output;

/**
 * One sample on its way to a backend: its JSON as stored in the spool (docs/SAMPLES.md), when it was
 * stored, and a key naming it stably (its spool position, or the drop report it stands for) from
 * which a backend may derive a batch id; null when there is none (a live-lane copy).
 */
public record Item(byte[] json, long appendTimeMillis, String key) {
}
