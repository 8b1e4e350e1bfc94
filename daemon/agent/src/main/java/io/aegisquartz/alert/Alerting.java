package io.aegisquartz.alert;

import io.aegisquartz.alert.channel.AlertEvent;
import io.aegisquartz.alert.channel.Channel;
import io.aegisquartz.alert.channel.MessageText;
import io.aegisquartz.alert.channel.Notification;
import io.aegisquartz.alert.channel.NotifyConfig;
import io.aegisquartz.config.AlertRule;
import io.aegisquartz.config.AlertSettings;
import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Sample;
import io.aegisquartz.sample.Status;
import io.aegisquartz.util.ExponentialBackoff;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Alerting as the agent (and the receiver) use it: the engine that turns stored samples into events,
 * the outbox that groups and delivers them, the state file that keeps both across restarts, the
 * silences, and one thread ("aegis-alert") that composes, saves and delivers.
 *
 * <p>Order of durable steps, what makes delivery exact: a message is composed and the state saved
 * (fsync) before its first attempt; a delivery is recorded and saved after it. A crash between the two
 * sends it again after the restart with the same id (the only duplicate there can be); a crash before
 * the save leaves its events to be composed again. Samples come in on the caller's thread
 * ({@link #stored}), under a lock, with no I/O there; the thread saves what they changed within a second.
 */
public final class Alerting implements AutoCloseable, io.aegisquartz.output.OutputEvents {

    private static final Logger LOG = LoggerFactory.getLogger("alert");
    /** Changes the engine makes (attempt counts, histories) are saved at most this often; compositions and deliveries at once. */
    static final long SAVE_EVERY_MS = 1_000;
    /** The longest the thread sleeps without looking (a new event wakes it sooner). */
    static final long MAX_SLEEP_MS = 60_000;
    /** Retry waits: 5 s doubling to 10 min, with full jitter. */
    static final ExponentialBackoff BACKOFF = ExponentialBackoff.jittered(Duration.ofSeconds(5), Duration.ofMinutes(10));

    private final AlertStore store;
    private final AlertState state;
    private final Outbox outbox;
    private final AlertEngine engine;
    private final Silences silences;
    private final Clock clock;
    private final Supplier<String> hostname;
    private final Consumer<List<Sample>> results;
    private final Function stamp;
    private final AlertSettings settings;
    private final NotifyConfig.Context context;
    private volatile Map<String, Channel> channels = Map.of();
    private volatile Map<String, NotifyConfig.Spec> specs = Map.of();
    private final java.util.Set<String> unknownWarned = new java.util.HashSet<>();
    /** True once a channels file has been taken (the first is the start's). */
    private volatile boolean taken;
    /** alert.notification samples made before {@link #start()} (the sink may not exist yet); written by it. */
    private final List<Sample> beforeStart = new ArrayList<>();
    private Thread thread;
    private volatile boolean closed;
    private boolean dirty;
    private long lastSave;
    private final Object wake = new Object();
    private boolean woken;

    /** Makes the samples that record deliveries: (metric's measurement) → samples of job agent/alert. */
    public interface Function {
        List<Sample> apply(Measurement m);
    }

    /**
     * @param stateDir where alerts/state.json and alerts/silences.json are
     * @param hostUuid the host identity (part of every notification id)
     * @param hostname the host name for the agent's own events
     * @param results  where the alert.notification samples go (the sink); null: nowhere (the receiver)
     * @param stamp    turns a measurement into samples (host, job agent/alert, id); null with results null
     */
    public Alerting(AlertSettings settings, Path stateDir, String hostUuid, Supplier<String> hostname, NotifyConfig.Context context,
                    Consumer<List<Sample>> results, Function stamp, Clock clock) {
        this.settings = settings;
        this.store = new AlertStore(stateDir.resolve("alerts").resolve("state.json"));
        this.state = store.load();
        this.silences = new Silences(silencesFile(stateDir));
        this.clock = clock;
        this.hostname = hostname;
        this.results = results;
        this.stamp = stamp;
        this.context = context;
        this.outbox = new Outbox(state, hostUuid, settings.groupWait(), this::maxPerHour, settings.giveUpAfter(), BACKOFF);
        this.engine = new AlertEngine(state, outbox, silences, settings);
    }

    /** Where the silences of the agent with this state directory are. */
    public static Path silencesFile(Path stateDir) {
        return stateDir.resolve("alerts").resolve("silences.json");
    }

    private int maxPerHour(String channel) {
        NotifyConfig.Spec s = specs.get(channel);
        return s != null && s.maxPerHour() > 0 ? s.maxPerHour() : settings.maxPerHour();
    }

    /** Starts the delivery thread. */
    public Alerting start() {
        synchronized (this) {
            int series = state.series.size();
            int waiting = 0;
            for (ChannelQueue q : state.channels.values()) {
                waiting += q.pending.size() + (q.current == null ? 0 : 1);
            }
            if (series > 0 || waiting > 0) {
                LOG.info("alert state {}: {} series with problems, {} notification(s) waiting from before", store.file(), series, waiting);
            }
        }
        List<Sample> early;
        synchronized (this) {
            thread = new Thread(this::loop, "aegis-alert");
            early = List.copyOf(beforeStart);
            beforeStart.clear();
        }
        if (results != null && !early.isEmpty()) {
            results.accept(early);
        }
        thread.setDaemon(true);
        thread.start();
        return this;
    }

    /**
     * Takes the channels of {@code config}: at start, and at each reload whose channels file has no
     * problem (the agent keeps the channels in use otherwise). A channel whose definition is unchanged
     * is kept as it is, with its queue, its max_per_hour window and its retries; a changed one (type,
     * url, secret, any key, timeout) is made anew and keeps its queue, its message in delivery tried
     * again at once with the new definition; max_per_hour alone changes only the limit. A removed one
     * is closed and what waited for it is given up and counted ({@link Outbox#remove}). At start, the
     * state file's queues of channels the file no longer has are given up the same way. Queues of
     * channels never configured (a rule naming one the file lacks) are left to retry until
     * give_up_after: a channel added meanwhile delivers them.
     *
     * @return the problems, one line each (file:line: what (fix: ...)), already logged: channels that
     *         could not be made (a ca_file that is not PEM); a channel in use keeps its previous definition
     */
    public List<String> channels(NotifyConfig config) {
        Map<String, Channel> before = channels;
        Map<String, NotifyConfig.Spec> beforeSpecs = specs;
        Map<String, Channel> made = new LinkedHashMap<>();
        Map<String, NotifyConfig.Spec> madeSpecs = new LinkedHashMap<>();
        List<String> problems = new ArrayList<>();
        List<String> changes = new ArrayList<>();
        List<String> remade = new ArrayList<>();
        for (NotifyConfig.Spec spec : config.channels().values()) {
            NotifyConfig.Spec old = beforeSpecs.get(spec.name());
            Channel kept = old == null ? null : before.get(spec.name());
            if (kept != null && sameChannel(old, spec)) {
                made.put(spec.name(), kept);
                madeSpecs.put(spec.name(), spec);
                if (old.maxPerHour() != spec.maxPerHour()) {
                    changes.add("~ " + spec.name() + ": max_per_hour " + limit(old) + " -> " + limit(spec));
                }
                continue;
            }
            try {
                made.put(spec.name(), NotifyConfig.create(spec, context));
                madeSpecs.put(spec.name(), spec);
                if (taken) {
                    changes.add(old == null ? "+ " + spec.describe() : "~ " + spec.describe() + ": " + changedKeys(old, spec)
                            + " changed; what waits for it goes to the new definition");
                }
                if (taken) {
                    remade.add(spec.name()); // a message retrying for it (named before it existed, or failing with the old definition) goes now
                }
            } catch (IOException | RuntimeException e) {
                String line = config.file() + ":" + spec.line() + ": channel " + spec.describe() + " cannot be used: "
                        + MessageText.clean(e.getMessage()) + (kept != null ? "; its previous definition stays in use" : "")
                        + " (fix: check its ca_file and keys, see docs/ALERTS.md)";
                LOG.error(line);
                problems.add(line);
                if (kept != null) {
                    made.put(spec.name(), kept);
                    madeSpecs.put(spec.name(), old);
                }
            }
        }
        List<Outbox.Due> givenUp = new ArrayList<>();
        List<String> removed = new ArrayList<>();
        long now = clock.millis();
        synchronized (this) {
            channels = Map.copyOf(made);
            specs = Map.copyOf(madeSpecs);
            unknownWarned.clear();
            for (String name : remade) {
                outbox.retryNow(name, now);
            }
            // At start, every queue of a channel the file lacks is from a channel removed while the agent was stopped.
            java.util.Set<String> gone = new java.util.LinkedHashSet<>(taken ? beforeSpecs.keySet() : outbox.queued());
            gone.removeAll(made.keySet());
            for (String name : gone) {
                if (beforeSpecs.containsKey(name)) {
                    removed.add(name);
                }
                givenUp.addAll(outbox.remove(name, now));
            }
            dirty |= !givenUp.isEmpty() || !remade.isEmpty();
        }
        for (Map.Entry<String, Channel> e : before.entrySet()) {
            if (made.get(e.getKey()) != e.getValue()) {
                e.getValue().close();
            }
        }
        for (String name : removed) {
            changes.add("- " + name + " (" + beforeSpecs.get(name).type() + ")");
        }
        List<Sample> samples = new ArrayList<>();
        for (Outbox.Due d : givenUp) {
            Notification n = d.outgoing().notification;
            NotifyConfig.Spec old = beforeSpecs.get(d.channel());
            String type = old == null ? "unknown" : old.type();
            String why = "channel " + d.channel() + " is no longer in " + config.file();
            LOG.error("notification {} to {} given up: {} ({} event(s) not delivered, after {} failed attempt(s))", n.id(), d.channel(), why,
                    n.events().size() + n.omitted(), d.outgoing().attempts);
            samples.addAll(resultSamples(d, type, Outbox.Result.GIVEN_UP, why, n));
        }
        if (results != null && !samples.isEmpty()) {
            synchronized (this) {
                if (thread == null) {
                    beforeStart.addAll(samples);
                    samples = List.of();
                }
            }
            if (!samples.isEmpty()) {
                results.accept(samples);
            }
        }
        if (!taken && !made.isEmpty()) {
            LOG.info("notification channels: {}", String.join(", ", madeSpecs.values().stream().map(NotifyConfig.Spec::describe).toList()));
        } else if (!changes.isEmpty()) {
            LOG.info("notification channels changed in {}: {}", config.file(), String.join("; ", changes));
        }
        taken = true;
        wakeUp();
        return problems;
    }

    /** The same channel to make: all but max_per_hour (which the outbox reads at each message) and the line. */
    private static boolean sameChannel(NotifyConfig.Spec a, NotifyConfig.Spec b) {
        return a.type().equals(b.type()) && a.values().equals(b.values()) && a.timeout().equals(b.timeout());
    }

    /** The keys whose values differ (names only: the values may be secrets). */
    private static String changedKeys(NotifyConfig.Spec a, NotifyConfig.Spec b) {
        java.util.Set<String> keys = new java.util.TreeSet<>(a.values().keySet());
        keys.addAll(b.values().keySet());
        keys.removeIf(k -> java.util.Objects.equals(a.values().get(k), b.values().get(k)));
        if (!a.timeout().equals(b.timeout())) {
            keys.add("timeout");
        }
        return String.join(", ", keys);
    }

    private String limit(NotifyConfig.Spec s) {
        return s.maxPerHour() > 0 ? Integer.toString(s.maxPerHour()) : settings.maxPerHour() + " ([alert])";
    }

    /** Whether any channel is in use. */
    public boolean hasChannels() {
        return !channels.isEmpty();
    }

    /**
     * The rules of the jobs now scheduled, by job name (at start and after each reload). The state of
     * a job no longer among them is forgotten, and a problem of it that was notified is resolved with
     * one {@code removed} notification.
     */
    public void rules(Map<String, AlertRule> byJob) {
        rules(byJob, true);
    }

    /**
     * As {@link #rules(Map)}; with {@code complete} false (the cron files had problems: a line with
     * errors or a file that cannot be read may be where a missing job went), nothing is removed: the
     * next reload without problems does it.
     */
    public void rules(Map<String, AlertRule> byJob, boolean complete) {
        boolean changed;
        synchronized (this) {
            engine.rules(byJob, complete, hostname.get(), clock.millis());
            changed = engine.takeChanged();
            dirty |= changed;
        }
        if (changed) {
            wakeUp();
        }
        for (AlertRule r : byJob.values()) {
            warnUnknown(r.channels());
        }
        warnUnknown(settings.agentRule().channels());
    }

    private void warnUnknown(List<String> names) {
        for (String n : names) {
            if (!channels.containsKey(n) && !specs.containsKey(n)) {
                synchronized (this) {
                    if (unknownWarned.add(n)) {
                        LOG.error("notify={}: no channel [channel.{}] in the channels file; its notifications wait, retried until "
                                + "give_up_after, for the channel to be added at a reload (fix: add the section, see docs/ALERTS.md, or correct the name)",
                                n, n);
                    }
                }
            }
        }
    }

    /** The tap: a run's samples, once stored. Quick (no I/O); the thread does the rest. */
    public void stored(List<Sample> samples) {
        if (samples.isEmpty() || closed) {
            return;
        }
        boolean changed;
        synchronized (this) {
            engine.observe(samples, clock.millis());
            changed = engine.takeChanged();
            dirty |= changed;
        }
        if (changed) {
            wakeUp();
        }
    }

    /** The outputs configured (at start): the state of an output no longer configured is forgotten, resolved if it was notified. */
    public void outputs(java.util.Collection<String> names) {
        apply(() -> engine.outputs(names, hostname.get(), clock.millis()));
    }

    /**
     * One send of an output failed (the agent's own event, docs/ALERTS.md; the spool's drop reports
     * come through the pipeline's taps, {@link #stored}, as the {@code dropped} samples they are): {@code [alert]
     * output_after} consecutive failures are notified once, naming the output and {@code error}
     * (which must carry no secret: the worker masks URLs). Quick, no I/O: called on the output's thread.
     */
    @Override
    public void failed(String output, String type, int consecutive, String error, long unreported) {
        apply(() -> engine.output(output, type, consecutive, error == null ? "" : error, unreported, hostname.get(), clock.millis()));
    }

    /** One send of an output succeeded: the recovery of an output notified as failing; otherwise one lookup. */
    @Override
    public void delivered(String output, String type) {
        if (closed) {
            return;
        }
        boolean changed;
        synchronized (this) {
            engine.output(output, type, 0, null, 0, hostname.get(), clock.millis());
            changed = engine.takeChanged();
            dirty |= changed;
        }
        if (changed) {
            wakeUp();
        }
    }

    /**
     * A reload ended: with {@code problems} (one line each, file:line first, as logged), notified once
     * per distinct set of problems; without, the recovery of a reload notified as failed.
     */
    public void reloaded(String why, List<String> problems) {
        apply(() -> engine.reload(why, List.copyOf(problems), hostname.get(), clock.millis()));
    }

    /** Runs {@code change} on the engine under the lock; wakes the thread if the state changed. */
    private void apply(Runnable change) {
        if (closed) {
            return;
        }
        boolean changed;
        synchronized (this) {
            change.run();
            changed = engine.takeChanged();
            dirty |= changed;
        }
        if (changed) {
            wakeUp();
        }
    }

    /** Queues {@code e} for {@code channels} directly (the receiver's silence checks, tests). */
    public void notify(AlertEvent e, List<String> channelNames) {
        synchronized (this) {
            for (String c : channelNames) {
                outbox.add(c, e, clock.millis());
            }
            dirty = true;
        }
        wakeUp();
    }

    /** The state, under this object's lock, for the receiver's host table. */
    public synchronized <T> T withState(java.util.function.Function<AlertState, T> f) {
        T t = f.apply(state);
        dirty = true;
        return t;
    }

    public Silences silences() {
        return silences;
    }

    public AlertStore store() {
        return store;
    }

    private void wakeUp() {
        synchronized (wake) {
            woken = true;
            wake.notifyAll();
        }
    }

    private void loop() {
        while (!closed) {
            long next;
            try {
                next = step();
            } catch (RuntimeException e) {
                LOG.error("alerting failed; trying again in a minute", e);
                next = clock.millis() + MAX_SLEEP_MS;
            }
            synchronized (wake) {
                long sleep = Math.min(MAX_SLEEP_MS, next - clock.millis());
                if (!woken && sleep > 0 && !closed) {
                    try {
                        wake.wait(sleep);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                woken = false;
            }
        }
    }

    /**
     * One round: composes what is due, saves, delivers what is due (each attempt outside the lock,
     * recorded and saved after), and says when the next round is due. Tests with a fixed clock call it
     * directly instead of running the thread.
     */
    public long step() {
        long now = clock.millis();
        List<Outbox.Due> due;
        byte[] snapshot;
        synchronized (this) {
            due = outbox.due(now);
            boolean compose = !due.isEmpty();
            snapshot = (dirty && (compose || now - lastSave >= SAVE_EVERY_MS)) || compose ? snapshotLocked(now) : null;
        }
        save(snapshot);
        List<Sample> samples = new ArrayList<>();
        for (Outbox.Due d : due) {
            Channel ch = channels.get(d.channel());
            Notification n = d.outgoing().notification;
            String error;
            String type = ch == null ? "unknown" : ch.type();
            if (ch == null) {
                error = "channel " + d.channel() + " is not configured (or could not be made); see the log of the last start or reload";
            } else {
                try {
                    ch.send(n);
                    error = null;
                } catch (io.aegisquartz.alert.channel.DeliveryException e) {
                    error = e.getMessage();
                } catch (RuntimeException e) {
                    error = e.toString();
                    LOG.error("channel {} failed unexpectedly", d.channel(), e);
                }
            }
            long at = clock.millis();
            Outbox.Result r;
            synchronized (this) {
                r = outbox.record(d, error, at);
                snapshot = snapshotLocked(at);
            }
            save(snapshot);
            if (r == Outbox.Result.GONE) {
                LOG.info("notification {}: {} while its channel {} was being removed (it was counted as given up then)", n.id(),
                        error == null ? "delivered" : "not delivered", d.channel());
                continue;
            }
            log(d, type, r, error, n);
            samples.addAll(resultSamples(d, type, r, error, n));
        }
        if (results != null && !samples.isEmpty()) {
            results.accept(samples); // outside the lock: the sink has its own, and its tap comes back here
        }
        synchronized (this) {
            long next = outbox.nextWake(clock.millis());
            if (dirty) {
                next = Math.min(next, lastSave + SAVE_EVERY_MS);
            }
            return next;
        }
    }

    private byte[] snapshotLocked(long now) {
        dirty = false;
        lastSave = now;
        try {
            return store.serialize(state);
        } catch (IOException e) {
            LOG.error("alert state cannot be written as JSON: {}", e.getMessage());
            return null;
        }
    }

    /** Writes a snapshot; a failure is logged once per failure and retried at the next change. */
    private synchronized void save(byte[] snapshot) {
        if (snapshot == null) {
            return;
        }
        try {
            store.write(snapshot);
        } catch (IOException e) {
            dirty = true;
            LOG.error("alert state {} cannot be saved: {}; notifications due now may be sent again after a restart", store.file(), e.getMessage());
        }
    }

    private void log(Outbox.Due d, String type, Outbox.Result r, String error, Notification n) {
        int attempts = d.outgoing().attempts;
        switch (r) {
            case DELIVERED -> LOG.info("notification {} sent to {} ({}): {}", n.id(), d.channel(), type, new MessageText(java.time.ZoneId.systemDefault()).title(n));
            case RETRY -> {
                if (attempts == 1) {
                    LOG.warn("notification {} to {} ({}) not delivered: {}; retrying with backoff for up to {}", n.id(), d.channel(), type, error,
                            io.aegisquartz.config.Units.format(settings.giveUpAfter()));
                } else {
                    LOG.debug("notification {} to {}: attempt {} failed: {}", n.id(), d.channel(), attempts, error);
                }
            }
            case GIVEN_UP -> LOG.error("notification {} to {} ({}) given up after {} attempt(s) over {}: {} ({} event(s) lost)", n.id(), d.channel(),
                    type, attempts, io.aegisquartz.config.Units.format(settings.giveUpAfter()), error, n.events().size() + n.omitted());
        }
    }

    /** The alert.notification sample of an attempt: ok sent, warning retrying, error given up. */
    private List<Sample> resultSamples(Outbox.Due d, String type, Outbox.Result r, String error, Notification n) {
        if (stamp == null) {
            return List.of();
        }
        Status status = switch (r) {
            case DELIVERED -> Status.OK;
            case RETRY -> Status.WARNING;
            case GIVEN_UP, GONE -> Status.ERROR;
        };
        String result = switch (r) {
            case DELIVERED -> "sent";
            case RETRY -> "retry";
            case GIVEN_UP, GONE -> "given_up";
        };
        Map<String, Double> values = new LinkedHashMap<>();
        values.put("events", (double) (n.events().size() + n.omitted()));
        values.put("attempts", (double) (d.outgoing().attempts + (r == Outbox.Result.DELIVERED ? 1 : 0)));
        Map<String, String> tags = new LinkedHashMap<>();
        tags.put("channel", d.channel());
        tags.put("type", type);
        tags.put("result", result);
        tags.put("notification_id", n.id());
        String message = r == Outbox.Result.DELIVERED ? "sent to " + d.channel() : result.replace('_', ' ') + ": " + error;
        return stamp.apply(new Measurement(clock.millis(), "alert.notification", status, message, values, Map.of(), tags));
    }

    /** Notifications delivered and given up since the state file was made, summed over channels (those of removed channels included). */
    public synchronized long[] counts() {
        long delivered = 0;
        long givenUp = 0;
        for (ChannelQueue q : state.channels.values()) {
            delivered += q.delivered;
            givenUp += q.givenUp;
        }
        return new long[] {delivered, givenUp + state.givenUpRemoved};
    }

    /** Stops the thread after the round in progress; what waits stays in the state file. */
    @Override
    public void close() {
        closed = true;
        wakeUp();
        if (thread != null) {
            try {
                thread.join(15_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        byte[] snapshot;
        synchronized (this) {
            snapshot = dirty ? snapshotLocked(clock.millis()) : null;
        }
        save(snapshot);
        channels.values().forEach(Channel::close);
    }
}
