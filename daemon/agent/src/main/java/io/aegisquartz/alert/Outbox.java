package io.aegisquartz.alert;

import io.aegisquartz.alert.channel.AlertEvent;
import io.aegisquartz.alert.channel.MessageText;
import io.aegisquartz.alert.channel.Notification;
import io.aegisquartz.util.ExponentialBackoff;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.ToIntFunction;

/**
 * The notifications on their way, per channel, kept in the {@link AlertState} (and so across restarts):
 * events wait until {@code group_wait} has passed since the first of them, then go out as one message;
 * a channel gets at most {@code max_per_hour} messages in any hour (what becomes due meanwhile waits,
 * and the next message counts it); an undelivered message is retried with backoff, alone, until
 * {@code give_up_after}, while new events gather behind it into the next one.
 *
 * <p>Not thread-safe: {@link Alerting} calls it under its lock. Delivery itself happens outside the
 * lock; this class composes and records.
 */
final class Outbox {

    /** Events waiting per channel before the oldest are dropped (counted in the next message). */
    static final int MAX_PENDING = 500;
    private static final long HOUR = 3_600_000L;

    private final AlertState state;
    private final String hostUuid;
    private final long groupWaitMillis;
    private final ToIntFunction<String> maxPerHour;
    private final long giveUpMillis;
    private final ExponentialBackoff backoff;

    /**
     * @param maxPerHour the max_per_hour of a channel, by name
     */
    Outbox(AlertState state, String hostUuid, Duration groupWait, ToIntFunction<String> maxPerHour, Duration giveUpAfter,
           ExponentialBackoff backoff) {
        this.state = state;
        this.hostUuid = hostUuid;
        this.groupWaitMillis = groupWait.toMillis();
        this.maxPerHour = maxPerHour;
        this.giveUpMillis = giveUpAfter.toMillis();
        this.backoff = backoff;
    }

    private ChannelQueue queue(String channel) {
        return state.channels.computeIfAbsent(channel, k -> new ChannelQueue());
    }

    /**
     * Adds an event for {@code channel}. An event still waiting for the same series is replaced (keeping
     * its place): a problem that recovered within the group is one line saying so.
     */
    void add(String channel, AlertEvent e, long now) {
        ChannelQueue q = queue(channel);
        if (q.pending.isEmpty()) {
            q.pendingSince = now;
        }
        if (rateLimitedUntil(channel, q, now) > now) {
            q.heldBack++;
        }
        for (int i = 0; i < q.pending.size(); i++) {
            if (q.pending.get(i).key().equals(e.key())) {
                AlertEvent old = q.pending.get(i);
                // A recovery replacing the problem it ends says what the problem was.
                q.pending.set(i, old.kind().bad() && e.kind() == AlertEvent.Kind.RECOVERY && e.previous().isEmpty()
                        ? new AlertEvent(e.kind(), e.key(), e.host(), e.job(), e.metric(), e.status(), old.status(), e.message(),
                        e.sinceMillis(), e.timeMillis(), e.value(), e.lastedMillis()) : e);
                return;
            }
        }
        q.pending.add(e);
        if (q.pending.size() > MAX_PENDING) {
            q.pending.remove(0);
            q.pendingOmitted++;
        }
    }

    /** When the channel may get its next message: now, or when the oldest message of the last hour is an hour old. */
    private long rateLimitedUntil(String channel, ChannelQueue q, long now) {
        q.sent.removeIf(t -> t <= now - HOUR);
        int max = maxPerHour.applyAsInt(channel);
        return q.sent.size() < max ? now : q.sent.get(q.sent.size() - max) + HOUR;
    }

    /** A message due for delivery: the channel and the message with its attempts. */
    record Due(String channel, ChannelQueue.Outgoing outgoing) {
    }

    /**
     * Composes the messages whose group has closed (and whose channel has none in flight and is under
     * max_per_hour) and returns every message whose attempt is due now. Changes the state when it
     * composes: the caller saves before delivering.
     */
    List<Due> due(long now) {
        List<Due> out = new ArrayList<>();
        for (Map.Entry<String, ChannelQueue> e : state.channels.entrySet()) {
            String channel = e.getKey();
            ChannelQueue q = e.getValue();
            if (q.current == null && !q.pending.isEmpty() && now >= q.pendingSince + groupWaitMillis
                    && rateLimitedUntil(channel, q, now) <= now) {
                q.current = new ChannelQueue.Outgoing(compose(channel, q, now), now);
            }
            if (q.current != null && now >= q.current.nextAttempt) {
                out.add(new Due(channel, q.current));
            }
        }
        return out;
    }

    /** True if composing or delivering has something to do at {@code now} (a wake-up is not wasted). */
    long nextWake(long now) {
        long next = Long.MAX_VALUE;
        for (Map.Entry<String, ChannelQueue> e : state.channels.entrySet()) {
            ChannelQueue q = e.getValue();
            if (q.current != null) {
                next = Math.min(next, q.current.nextAttempt);
            } else if (!q.pending.isEmpty()) {
                next = Math.min(next, Math.max(q.pendingSince + groupWaitMillis, rateLimitedUntil(e.getKey(), q, now)));
            }
        }
        return next;
    }

    private Notification compose(String channel, ChannelQueue q, long now) {
        List<AlertEvent> listed = new ArrayList<>(q.pending.subList(0, Math.min(q.pending.size(), MessageText.MAX_LISTED)));
        int omitted = q.pending.size() - listed.size() + q.pendingOmitted;
        long seq = ++state.seq;
        String id = UUID.nameUUIDFromBytes((hostUuid + "/" + channel + "/" + seq).getBytes(StandardCharsets.UTF_8)).toString();
        String host = listed.isEmpty() ? "" : listed.get(0).host();
        Notification n = new Notification(id, channel, host, now, listed, omitted, q.heldBack);
        q.pending.clear();
        q.pendingSince = 0;
        q.pendingOmitted = 0;
        q.heldBack = 0;
        return n;
    }

    /** What became of an attempt; GONE: its channel was removed meanwhile (the message was given up and counted then). */
    enum Result { DELIVERED, RETRY, GIVEN_UP, GONE }

    /**
     * Records an attempt at {@code d}'s message: delivered (off the queue, counted against max_per_hour),
     * failed (next attempt after a backoff), or given up (off the queue, counted) when it has been
     * failing since longer than give_up_after.
     */
    Result record(Due d, String error, long now) {
        ChannelQueue q = state.channels.get(d.channel());
        ChannelQueue.Outgoing o = d.outgoing();
        if (q == null || q.current != o) {
            return Result.GONE; // its channel was removed during the attempt: given up and counted then
        }
        if (error == null) {
            q.current = null;
            q.sent.add(now);
            q.delivered++;
            return Result.DELIVERED;
        }
        o.attempts++;
        o.lastError = error;
        if (now - o.notification.createdMillis() >= giveUpMillis) {
            q.current = null;
            q.givenUp++;
            return Result.GIVEN_UP;
        }
        o.nextAttempt = now + Math.max(1, backoff.delay(o.attempts, ThreadLocalRandom.current()).toMillis());
        return Result.RETRY;
    }

    /**
     * Gives up what waits for {@code channel} (removed from the channels file): the message in delivery
     * as it is, and the events not yet grouped as one message composed now (so that each has an id);
     * the queue goes, its messages are counted in {@link AlertState#givenUpRemoved}. Returns them, for
     * the log and the alert.notification samples.
     */
    List<Due> remove(String channel, long now) {
        ChannelQueue q = state.channels.remove(channel);
        List<Due> out = new ArrayList<>();
        if (q == null) {
            return out;
        }
        if (q.current != null) {
            out.add(new Due(channel, q.current));
        }
        if (!q.pending.isEmpty() || q.pendingOmitted > 0) {
            out.add(new Due(channel, new ChannelQueue.Outgoing(compose(channel, q, now), now)));
        }
        state.givenUpRemoved += out.size();
        return out;
    }

    /** A channel whose definition changed: its message in delivery is tried again at once, with the new one. */
    void retryNow(String channel, long now) {
        ChannelQueue q = state.channels.get(channel);
        if (q != null && q.current != null) {
            q.current.nextAttempt = Math.min(q.current.nextAttempt, now);
        }
    }

    /** The channels that have a queue (something waits or was sent in the last hour). */
    java.util.Set<String> queued() {
        return new java.util.LinkedHashSet<>(state.channels.keySet());
    }
}
