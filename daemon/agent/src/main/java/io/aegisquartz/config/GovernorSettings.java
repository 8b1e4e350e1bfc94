package io.aegisquartz.config;

import java.time.Duration;

/** {@code [governor]}: the agent's own CPU and memory budget (README, "Its own budget"). 0 turns a budget off. */
public record GovernorSettings(int cpuMaxPercent, long memoryMax, Duration window, Duration shedFor, int exitAfter,
                               Duration restartMinUptime) {
}
