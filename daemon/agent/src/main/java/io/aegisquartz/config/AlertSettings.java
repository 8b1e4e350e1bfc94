package io.aegisquartz.config;

import java.nio.file.Path;
import java.time.Duration;

/**
 * The [alert] settings, typed (see {@link Settings} for what each means).
 *
 * @param channelsFile  aegis_notify.ini, where the channels are
 * @param jobRule       the rule of a job whose cron line says nothing about notifying
 * @param agentRule     the rule of the agent's own events (jobs quarantined or shed, outputs failing, spool drops, failed reloads): {@code agent_notify}
 * @param groupWait     how long due notifications wait for others to share a message
 * @param maxPerHour    most messages per channel in any hour
 * @param giveUpAfter   how long an undelivered message is retried
 * @param flapLow       percent of state change at or below which flapping stops
 * @param flapHigh      percent of state change at or above which flapping starts
 * @param outputAfter   consecutive failed sends of an output before it is notified (to the agent's channels)
 */
public record AlertSettings(Path channelsFile, AlertRule jobRule, AlertRule agentRule, Duration groupWait, int maxPerHour,
                            Duration giveUpAfter, int flapLow, int flapHigh, int outputAfter) {
}
