package io.aegisquartz.receive;

import io.aegisquartz.alert.AlertState;
import io.aegisquartz.alert.Alerting;
import io.aegisquartz.alert.channel.AlertEvent;
import io.aegisquartz.alert.channel.MessageText;
import io.aegisquartz.log.LogText;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The receiver's silence check ({@code receive --silence-after D --notify CH}): the time of each host's
 * last accepted request, and one {@code silent} notification when a host has sent nothing for the
 * silence time, one {@code back} when it sends again (docs/ALERTS.md, "Heartbeat and silence").
 *
 * <p>The host table lives in the receiver's alert state ({@link AlertState#hosts}), the same file as
 * the outbox, changed under the same lock as the notification it causes: after a crash the file has
 * both a host's new state and its notification, or neither, so a restart never notifies a host twice
 * and never loses a notification that was due. Delivery (grouping, retries, the stable id) is the
 * agent's {@link Alerting}.
 */
public final class SilenceWatch implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger("receive");
    /** The job named in silence notifications: the health samples are the agents' heartbeat. */
    static final String HEARTBEAT_JOB = "agent/health";
    /**
     * Most hosts tracked: the table is in the state file, and a batch may name any host, so a broken or
     * hostile agent holding a key must not grow it without end. Hosts past it are not tracked (logged once).
     */
    static final int MAX_HOSTS = 10_000;
    /** Longest host uuid or name taken (longer ones are cut), as sample ids are limited. */
    static final int MAX_NAME = 200;

    private final Alerting alerting;
    private final Duration after;
    private final List<String> channels;
    private final Clock clock;
    private ScheduledExecutorService timer;
    private boolean fullLogged;

    /**
     * Takes over {@code alerting} (its channels set, its thread not necessarily started). Hosts already
     * notified as silent stay so; for the others the silence time counts from now, so that a receiver
     * that was down does not find every host silent when it comes back.
     */
    public SilenceWatch(Alerting alerting, Duration after, List<String> channels, Clock clock) {
        if (after.toMillis() < 1000 || channels.isEmpty()) {
            throw new IllegalArgumentException("a silence check needs a silence time of at least 1s and a channel");
        }
        this.alerting = alerting;
        this.after = after;
        this.channels = List.copyOf(channels);
        this.clock = clock;
        long now = clock.millis();
        int[] counts = alerting.withState(s -> {
            int silent = 0;
            for (AlertState.HostSeen h : s.hosts.values()) {
                if (h.silent) {
                    silent++;
                } else {
                    h.lastSeen = Math.max(h.lastSeen, now);
                }
            }
            return new int[] {s.hosts.size(), silent};
        });
        if (counts[0] > 0) {
            LOG.info("silence check: {} host(s) known from before, {} of them silent (notified; 'back' follows when they send)",
                    counts[0], counts[1]);
        }
    }

    /** Starts the delivery thread and the check, every tenth of the silence time (1 s to 15 s). */
    public SilenceWatch start() {
        alerting.start();
        long period = Math.max(1000, Math.min(15_000, after.toMillis() / 10));
        timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "receive-silence");
            t.setDaemon(true);
            return t;
        });
        timer.scheduleWithFixedDelay(() -> {
            try {
                check();
            } catch (RuntimeException e) {
                LOG.error("silence check failed", e);
            }
        }, period, period, TimeUnit.MILLISECONDS);
        LOG.info("silence check on: a host that sends nothing for {} is notified to {} (checked every {})",
                MessageText.duration(after.toMillis()), String.join(", ", channels), MessageText.duration(period));
        return this;
    }

    /** Hosts that sent a batch just now, host uuid → host name; a silent one is notified as back. */
    void seen(Map<String, String> hosts) {
        if (hosts.isEmpty()) {
            return;
        }
        long now = clock.millis();
        alerting.withState(s -> {
            for (Map.Entry<String, String> e : hosts.entrySet()) {
                String uuid = cut(e.getKey());
                AlertState.HostSeen h = s.hosts.get(uuid);
                if (h == null) {
                    if (s.hosts.size() >= MAX_HOSTS) {
                        if (!fullLogged) {
                            fullLogged = true;
                            LOG.error("silence check: {} hosts tracked already; host {} and any further new host are not tracked", MAX_HOSTS,
                                    LogText.escape(uuid));
                        }
                        continue;
                    }
                    h = new AlertState.HostSeen();
                    s.hosts.put(uuid, h);
                }
                if (!e.getValue().isEmpty()) {
                    h.hostname = cut(e.getValue());
                }
                long last = h.lastSeen;
                h.lastSeen = now;
                if (h.silent) {
                    h.silent = false;
                    // Under the state's lock (re-entered): the host's change and its notification are saved together.
                    alerting.notify(event(AlertEvent.Kind.BACK, uuid, h, "sends again after " + MessageText.duration(now - last)
                            + " without a sample", last, now, now - last), channels);
                    LOG.info("host {} ({}) sends again after {} of silence", LogText.escape(h.hostname), LogText.escape(uuid), MessageText.duration(now - last));
                }
            }
            return null;
        });
    }

    /** Notifies every host that has become silent; returns how many. The timer calls it; tests too. */
    public int check() {
        long now = clock.millis();
        return alerting.withState(s -> {
            int n = 0;
            for (Map.Entry<String, AlertState.HostSeen> e : s.hosts.entrySet()) {
                AlertState.HostSeen h = e.getValue();
                if (!h.silent && now - h.lastSeen >= after.toMillis()) {
                    h.silent = true;
                    h.silentSince = now;
                    alerting.notify(event(AlertEvent.Kind.SILENT, e.getKey(), h, "no sample for " + MessageText.duration(now - h.lastSeen)
                            + " (silence after " + MessageText.duration(after.toMillis()) + ")", h.lastSeen, now, 0), channels);
                    LOG.warn("host {} ({}) is silent: no sample for {}", LogText.escape(h.hostname), LogText.escape(e.getKey()), MessageText.duration(now - h.lastSeen));
                    n++;
                }
            }
            return n;
        });
    }

    private static String cut(String s) {
        return s.length() <= MAX_NAME ? s : s.substring(0, MAX_NAME);
    }

    private static AlertEvent event(AlertEvent.Kind kind, String uuid, AlertState.HostSeen h, String message, long since, long now,
                                    long lasted) {
        return new AlertEvent(kind, "silence/" + uuid, h.hostname.isEmpty() ? uuid : h.hostname, HEARTBEAT_JOB, "",
                kind == AlertEvent.Kind.SILENT ? "silent" : "ok", kind == AlertEvent.Kind.BACK ? "silent" : "", message, since, now, "", lasted);
    }

    /** Stops the check and the delivery thread; what waits for delivery stays in the state file. */
    @Override
    public void close() {
        if (timer != null) {
            timer.shutdownNow();
        }
        alerting.close();
    }
}
