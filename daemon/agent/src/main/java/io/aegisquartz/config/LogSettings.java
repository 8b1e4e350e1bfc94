package io.aegisquartz.config;

import java.nio.file.Path;
import java.time.Duration;

/** {@code [log]}: the agent's log file, its rotation and console copy, and how often a failing job is summarised. */
public record LogSettings(Path file, String level, long maxSize, int maxFiles, String console, Duration failureSummary) {
}
