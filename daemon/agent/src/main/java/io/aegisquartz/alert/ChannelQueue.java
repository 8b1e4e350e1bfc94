package io.aegisquartz.alert;

import io.aegisquartz.alert.channel.AlertEvent;
import io.aegisquartz.alert.channel.Notification;

import java.util.ArrayList;
import java.util.List;

/**
 * A channel's part of the outbox: the events waiting to be grouped, the message being delivered,
 * and the times of the messages it was sent in the last hour (for {@code max_per_hour}). Fields are
 * public for the state file's JSON.
 */
public final class ChannelQueue {

    /** Events due, in the order they became due, waiting for the group to close. */
    public List<AlertEvent> pending = new ArrayList<>();
    /** When the first of {@link #pending} became due, epoch ms; 0 if none. */
    public long pendingSince;
    /** Events dropped from a full pending list, to be counted in the next message. */
    public int pendingOmitted;
    /** Events that became due while the channel was at max_per_hour, to be counted in the next message. */
    public int heldBack;
    /** The composed message not yet delivered, or null. */
    public Outgoing current;
    /** Epoch ms of the messages delivered in the last hour, oldest first. */
    public List<Long> sent = new ArrayList<>();
    /** Messages delivered and given up since the state file was made. */
    public long delivered;
    public long givenUp;

    /** A composed message and its delivery so far. */
    public static final class Outgoing {
        public Notification notification;
        /** Failed attempts so far. */
        public int attempts;
        /** Epoch ms of the next attempt. */
        public long nextAttempt;
        /** Why the last attempt failed (no secret: channels say what failed, never their URL or password). */
        public String lastError;

        public Outgoing() {
        }

        Outgoing(Notification n, long now) {
            this.notification = n;
            this.nextAttempt = now;
        }
    }
}
