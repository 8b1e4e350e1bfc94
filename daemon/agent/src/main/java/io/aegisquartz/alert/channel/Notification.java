package io.aegisquartz.alert.channel;

import java.util.List;

/**
 * One message to one channel: the events that became due for it within {@code group_wait}.
 *
 * @param id            stable id: the same at every attempt, across restarts (for receivers that deduplicate)
 * @param channel       the channel's name
 * @param host          the host the events are about (for the receiver's silence checks, the receiver's own name)
 * @param createdMillis when it was composed
 * @param events        the events listed, oldest first
 * @param omitted       events that were due but are not listed (too many for one message), counted
 * @param heldBack      events that waited because the channel had had max_per_hour messages in the last hour
 */
public record Notification(String id, String channel, String host, long createdMillis, List<AlertEvent> events, int omitted,
                           int heldBack) {

    public Notification {
        events = List.copyOf(events);
    }
}
