package io.aegisquartz.config;

import java.nio.file.Path;

/** {@code [spool]}: where every sample is stored first, its size cap and the free space to leave (docs/SPOOL.md). */
public record SpoolSettings(Path dir, long maxBytes, long minFreeBytes) {
}
