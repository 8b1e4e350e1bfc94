package io.aegisquartz.alert;

import io.aegisquartz.alert.channel.AlertEvent;
import io.aegisquartz.config.AlertRule;
import io.aegisquartz.config.AlertSettings;
import io.aegisquartz.sample.Sample;
import io.aegisquartz.sample.Status;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Turns stored samples into alert events, with Nagios' semantics: per series (a job's run, and each
 * metric and tag set it reports), a problem is soft until {@code after} consecutive non-ok runs make it
 * hard and notified; a change of status while hard notifies at once; {@code repeat} re-notifies while
 * it lasts; the first ok run after a notified problem notifies the recovery, once; a series whose
 * hard states change too often (flap_high percent of its last 21) is notified once as flapping and
 * then not at every change, until it settles (flap_low). The agent's own events come here too.
 *
 * <p>A series is remembered only from its first non-ok run until it has been ok for 21 runs, so an
 * agent with nothing failing keeps nothing and writes nothing. Not thread-safe: {@link Alerting}
 * calls it under its lock.
 */
final class AlertEngine {

    private static final Logger LOG = LoggerFactory.getLogger("alert");
    /** Series one job may have at once; past it new ones are ignored, said once. */
    static final int MAX_SERIES_PER_JOB = 1_000;
    private static final char SEP = '\u001f';
    static final String AGENT = "agent";

    private final AlertState state;
    private final Outbox outbox;
    private final Silences silences;
    private final AlertRule agentRule;
    /** The agent's rule with [alert] output_after: consecutive failed sends before an output is notified. */
    private final AlertRule outputRule;
    private final AlertRule jobRule;
    private final int flapLow;
    private final int flapHigh;
    /** Rules by job name, replaced at each reload. */
    private volatile Map<String, AlertRule> rules = Map.of();
    /** Series remembered per job: the fast path for a job with nothing wrong is one lookup here. */
    private final Map<String, Integer> perJob = new HashMap<>();
    private final java.util.Set<String> warnedJobs = new java.util.HashSet<>();
    private boolean changed;

    AlertEngine(AlertState state, Outbox outbox, Silences silences, AlertSettings settings) {
        this.state = state;
        this.outbox = outbox;
        this.silences = silences;
        this.agentRule = settings.agentRule();
        this.outputRule = agentRule.withAfter(settings.outputAfter());
        this.jobRule = settings.jobRule();
        this.flapLow = settings.flapLow();
        this.flapHigh = settings.flapHigh();
        for (SeriesState s : state.series.values()) {
            perJob.merge(s.job, 1, Integer::sum);
        }
    }

    /**
     * The rules of the jobs scheduled now. A job no longer among them has its state forgotten; each of
     * its series with a notified problem is resolved with one {@code removed} event to the channels
     * it was notified to (its job can never recover it).
     */
    void rules(Map<String, AlertRule> byJob, boolean complete, String host, long now) {
        Map<String, AlertRule> old = rules;
        rules = Map.copyOf(byJob);
        if (!complete) {
            return;
        }
        List<String> gone = new java.util.ArrayList<>();
        for (String job : perJob.keySet()) {
            if (!job.equals(AGENT) && !job.startsWith(AGENT + "/") && !byJob.containsKey(job)) {
                gone.add(job);
            }
        }
        for (String job : gone) {
            AlertRule was = old.getOrDefault(job, jobRule);
            removeSeries(s -> s.job.equals(job), was, "its job was removed from the configuration", host, now);
            perJob.remove(job);
            warnedJobs.remove(job);
        }
    }

    /**
     * The outputs configured now (at start): an output that is no longer configured has its series
     * forgotten, resolved with one {@code removed} event if it was notified as failing.
     */
    void outputs(java.util.Collection<String> names, String host, long now) {
        if (!perJob.containsKey(AGENT)) {
            return;
        }
        java.util.Set<String> metrics = new java.util.HashSet<>();
        names.forEach(n -> metrics.add(outputMetric(n)));
        removeSeries(s -> s.job.equals(AGENT) && s.metric.startsWith("output ") && !metrics.contains(s.metric), outputRule,
                "the output was removed from the configuration", host, now);
    }

    /** Forgets the series {@code which} picks; each with a notified problem gets one {@code removed} event. */
    private void removeSeries(java.util.function.Predicate<SeriesState> which, AlertRule rule, String why, String host, long now) {
        java.util.Iterator<Map.Entry<String, SeriesState>> it = state.series.entrySet().iterator();
        while (it.hasNext()) {
            Map.Entry<String, SeriesState> en = it.next();
            SeriesState s = en.getValue();
            if (!which.test(s)) {
                continue;
            }
            it.remove();
            forgotten(s.job);
            changed = true;
            if (s.notified.equals("ok") || s.metric.equals("#hold")) {
                continue; // nothing told as wrong (a hold is an event, with nothing to resolve)
            }
            AlertRule r = s.channels.isEmpty() ? rule : rule.withChannels(s.channels);
            if (!r.notifies()) {
                continue;
            }
            long lasted = s.since > 0 ? now - s.since : 0;
            LOG.info("{}{}: notified as {}, now forgotten: {}", s.job, s.metric.isEmpty() ? "" : " (" + s.metric + ")", s.notified, why);
            emit(new AlertEvent(AlertEvent.Kind.REMOVED, en.getKey(), s.host.isEmpty() ? host : s.host, s.job, s.metric, "removed",
                    s.notified, why + " while " + s.notified.toUpperCase(java.util.Locale.ROOT) + "; it will not be told again",
                    s.since, now, "", lasted), r);
        }
    }

    private static String count(Sample s) {
        Double c = s.measurement().values().get("count");
        return c == null ? "" : "count=" + number(c);
    }

    private static String outputMetric(String output) {
        return "output " + output;
    }

    /**
     * One send of an output: failed ({@code error} non-null) or delivered. Nagios' rule with {@code
     * after} = [alert] output_after: that many consecutive failures are one problem notified, naming
     * the output and its last error; the first delivery after it, one recovery. A delivery with
     * nothing remembered costs one lookup.
     */
    void output(String name, String type, int consecutive, String error, long unreported, String host, long now) {
        if (!outputRule.notifies() || (error == null && !perJob.containsKey(AGENT))) {
            return;
        }
        String metric = outputMetric(name);
        String key = key(AGENT, metric, "");
        if (error == null && !state.series.containsKey(key)) {
            return;
        }
        String message = error == null ? "output " + name + " (" + type + ") delivers again"
                : "output " + name + " (" + type + "): " + consecutive + " consecutive send(s) failed; last error: " + error;
        observe(AGENT, metric, "", error == null ? Status.OK : Status.ERROR, message, "", host, outputRule, now);
        SeriesState s = state.series.get(key);
        if (s == null) {
            return;
        }
        if (error == null) {
            if (s.dropping) {
                s.dropping = false;
                changed = true;
            }
            return;
        }
        if (unreported > 0 && !s.dropping && agentRule.notifies()) {
            // The exact count comes in the drop report, which the output sends only once it delivers
            // again; meanwhile say that samples are being lost, once per outage.
            AlertEvent e = new AlertEvent(AlertEvent.Kind.EVENT, key(AGENT, "spool", "dropping " + name), host, AGENT, "spool", "dropping",
                    "", "the spool has dropped " + unreported + " sample(s) that output " + name + " (" + type + ") had not sent, and drops more "
                    + "while it fails; the exact count is told when it delivers again", s.since, now, "", 0);
            if (emit(e, agentRule)) {
                s.dropping = true;
                changed = true;
            }
        }
    }

    /**
     * A reload of the configuration: with problems (file:line each, as logged), one problem
     * notification, and another only when a later reload has other problems; the first reload without
     * problems after one that was notified, one recovery.
     */
    void reload(String why, List<String> problems, String host, long now) {
        String key = key(AGENT, "reload", "");
        SeriesState s = state.series.get(key);
        if (problems.isEmpty()) {
            if (s == null) {
                return;
            }
            state.series.remove(key);
            forgotten(AGENT);
            changed = true;
            if (!s.notified.equals("ok") && agentRule.notifies()) {
                emit(new AlertEvent(AlertEvent.Kind.RECOVERY, key, host, AGENT, "reload", "ok", s.notified,
                        "the configuration reloaded without problems (" + why + ")", s.since, now, "", now - s.since), agentRule);
            }
            return;
        }
        String all = String.join("\n", problems);
        if (!agentRule.notifies() || (s != null && s.value.equals(all))) {
            return; // the same problems as the reload already notified
        }
        StringBuilder text = new StringBuilder();
        text.append(problems.size()).append(" problem(s) in the configuration at reload (").append(why)
                .append("); jobs and channels on those lines keep their last good definition or are not scheduled: ");
        for (int i = 0; i < problems.size() && i < 10; i++) {
            text.append(i == 0 ? "" : "; ").append(problems.get(i));
        }
        if (problems.size() > 10) {
            text.append("; ... and ").append(problems.size() - 10).append(" more (see the log)");
        }
        long since = s == null ? now : s.since;
        AlertEvent e = new AlertEvent(AlertEvent.Kind.PROBLEM, key, host, AGENT, "reload", "error", "", text.toString(), since, now, "", 0);
        if (!emit(e, agentRule)) {
            return; // silenced: told at the next reload that has problems after the silence
        }
        if (s == null) {
            s = remember(key, AGENT, "reload", "");
        }
        s.status = "error";
        s.notified = "error";
        s.since = since;
        s.lastNotified = now;
        s.lastSeen = now;
        s.host = host;
        s.message = text.toString();
        s.value = all;
        changed = true;
    }

    AlertRule rule(String job) {
        return rules.get(job);
    }

    /** True once since the last call if the state changed (the caller saves it). */
    boolean takeChanged() {
        boolean c = changed;
        changed = false;
        return c;
    }

    /** The samples of one write (normally one run of one job). */
    void observe(List<Sample> samples, long now) {
        String job = null;
        Status worstRun = null;
        boolean ran = false;
        String host = "";
        Sample runSample = null;
        for (Sample s : samples) {
            if (!s.job().equals(job)) {
                endRun(job, ran, worstRun, runSample, host, now);
                job = s.job();
                worstRun = null;
                ran = false;
                runSample = null;
            }
            host = s.hostname();
            Status st = s.status();
            if (st == Status.DROPPED) {
                dropped(s, now);
                continue;
            }
            if (job.startsWith(AGENT + "/")) {
                continue; // the agent's own samples (heartbeat, notifications, health) are not checks
            }
            if (st == Status.SKIPPED) {
                hold(job, s.message(), s.hostname(), now);
                continue;
            }
            ran = true;
            if (st.isRunFailure()) {
                if (worstRun == null || st.ordinal() > worstRun.ordinal()) {
                    worstRun = st;
                    runSample = s;
                }
                continue;
            }
            AlertRule rule = rules.get(job);
            if (rule == null || !rule.notifies()) {
                continue;
            }
            if (st == Status.OK && !perJob.containsKey(job)) {
                continue; // nothing wrong and nothing remembered: the common case, without allocating
            }
            observe(job, s.metric(), tags(s), st, s.message(), values(s), s.hostname(), rule, now);
        }
        endRun(job, ran, worstRun, runSample, host, now);
    }

    /** The run itself as a series: its worst run failure, or ok if it ran. */
    private void endRun(String job, boolean ran, Status worstRun, Sample failure, String host, long now) {
        if (job == null || !ran) {
            return;
        }
        if (perJob.containsKey(job)) {
            SeriesState h = state.series.remove(key(job, "#hold", ""));
            if (h != null) {
                forgotten(job);
                changed = true;
            }
        }
        AlertRule rule = rules.get(job);
        if (rule == null || !rule.notifies() || (worstRun == null && !perJob.containsKey(job))) {
            return;
        }
        observe(job, "", "", worstRun == null ? Status.OK : worstRun, failure == null ? "" : failure.message(), "", host, rule, now);
    }

    /**
     * A job held by the agent (documented skip messages, docs/SAMPLES.md): quarantined, or shed by the
     * governor. Notified once when the hold starts, to the agent's channels; forgotten when the job runs.
     */
    private void hold(String job, String message, String host, long now) {
        String kind = message == null ? null : message.startsWith("quarantined: ") ? "quarantined"
                : message.startsWith("shed by the governor") ? "shed" : null;
        if (kind == null || !agentRule.notifies()) {
            return;
        }
        String key = key(job, "#hold", "");
        SeriesState s = state.series.get(key);
        if (s != null && s.status.equals(kind)) {
            return;
        }
        if (s == null) {
            s = remember(key, job, "#hold", "");
        }
        s.status = kind;
        s.notified = kind;
        s.since = now;
        s.lastSeen = now;
        changed = true;
        AlertEvent e = new AlertEvent(AlertEvent.Kind.EVENT, key, host, job, "", kind, "", message, now, now, "", 0);
        emit(e, agentRule);
    }

    /**
     * A {@code dropped} sample (docs/SAMPLES.md): the spool dropped samples one output had not sent.
     * Notified once per report, with the report's exact count and the output in its message; a report
     * handed out again (after a restart) has the same sample id and is not notified again.
     */
    private void dropped(Sample s, long now) {
        if (!agentRule.notifies()) {
            return;
        }
        Map<String, String> tags = s.measurement().tags();
        String which = tags.getOrDefault("output", "") + "/" + tags.getOrDefault("reason", "");
        if (s.id().equals(state.drops.get(which))) {
            return;
        }
        // Its own key (the sample id): two reports waiting in one group must not replace each other.
        AlertEvent e = new AlertEvent(AlertEvent.Kind.EVENT, key(AGENT, "spool", s.id()), s.hostname(), AGENT, "spool", "dropped", "",
                s.message() == null ? "" : s.message(), now, now, count(s), 0);
        if (emit(e, agentRule)) {
            state.drops.put(which, s.id());
            changed = true;
        }
    }

    private void observe(String job, String metric, String tags, Status status, String message, String value, String host, AlertRule rule,
                         long now) {
        String key = key(job, metric, tags);
        SeriesState s = state.series.get(key);
        boolean bad = status != Status.OK;
        if (s == null) {
            if (!bad) {
                return;
            }
            if (perJob.getOrDefault(job, 0) >= MAX_SERIES_PER_JOB) {
                if (warnedJobs.add(job)) {
                    LOG.warn("job {} has {} series with problems at once; further ones are not alerted on", job, MAX_SERIES_PER_JOB);
                }
                return;
            }
            s = remember(key, job, metric, tags);
            changed = true;
        }
        String wire = status.wire();
        s.lastSeen = now;
        s.host = host;
        s.channels = rule.channels();
        if (bad) {
            if (s.status.equals("ok") || s.attempts == 0) {
                s.since = now;
                s.attempts = 1;
                changed = true;
            } else {
                s.attempts++;
                if (s.attempts <= rule.after()) {
                    changed = true;
                }
            }
            if (!wire.equals(s.status)) {
                changed = true;
            }
            s.message = message == null ? "" : message;
            s.value = value;
        } else {
            if (!s.status.equals("ok")) {
                changed = true;
            }
            s.attempts = 0;
        }
        s.status = wire;
        boolean hard = !bad || s.attempts >= rule.after() || !s.notified.equals("ok");
        if (!hard) {
            return;
        }
        // As Nagios: only hard states and soft recoveries go into the flapping history.
        String h = Flapping.push(s.history, code(status));
        if (!h.equals(s.history)) {
            s.history = h;
            changed = true;
        }
        double pct = Flapping.percent(s.history);
        if (!s.flapping && pct >= flapHigh) {
            s.flapping = true;
            changed = true;
            emit(event(AlertEvent.Kind.FLAPPING, key, s, now, String.format(java.util.Locale.ROOT,
                    "%.1f%% of its last %d runs changed state (flap_high %d%%); further changes are not notified until it settles",
                    pct, Flapping.RUNS, flapHigh), s.notified.equals("ok") ? "" : s.notified, 0), rule);
            return;
        }
        if (s.flapping) {
            if (pct > flapLow) {
                return;
            }
            s.flapping = false;
            changed = true;
            String was = s.notified;
            if (emit(event(AlertEvent.Kind.FLAPPING_STOPPED, key, s, now, (bad ? "settled on " + wire.toUpperCase(java.util.Locale.ROOT)
                    : "settled on OK") + (s.message.isEmpty() || !bad ? "" : ": " + s.message), was.equals("ok") ? "" : was, 0), rule)) {
                s.notified = bad ? wire : "ok";
                s.lastNotified = now;
            }
        } else if (bad) {
            if (s.notified.equals("ok")) {
                if (emit(event(AlertEvent.Kind.PROBLEM, key, s, now, s.message, "", 0), rule)) {
                    s.notified = wire;
                    s.lastNotified = now;
                    changed = true;
                }
            } else if (!s.notified.equals(wire)) {
                String was = s.notified;
                if (emit(event(AlertEvent.Kind.CHANGE, key, s, now, s.message, was, 0), rule)) {
                    s.notified = wire;
                    s.lastNotified = now;
                    changed = true;
                }
            } else if (!rule.repeat().isZero() && now - s.lastNotified >= rule.repeat().toMillis()) {
                if (emit(event(AlertEvent.Kind.REPEAT, key, s, now, s.message, "", 0), rule)) {
                    s.lastNotified = now;
                    changed = true;
                }
            }
        } else if (!s.notified.equals("ok")) {
            String was = s.notified;
            long lasted = s.since > 0 ? now - s.since : 0;
            if (emit(event(AlertEvent.Kind.RECOVERY, key, s, now, message == null ? "" : message, was, lasted), rule)) {
                s.notified = "ok";
                changed = true;
            }
        }
        if (!bad) {
            s.since = 0;
            if (s.notified.equals("ok") && !s.flapping && Flapping.allOk(s.history) && s.history.length() >= Flapping.RUNS) {
                state.series.remove(key);
                forgotten(job);
                changed = true;
            }
        }
    }

    /** A new series, remembered from now on (and counted for its job). */
    private SeriesState remember(String key, String job, String metric, String tags) {
        SeriesState s = new SeriesState();
        s.job = job;
        s.metric = metric;
        s.tags = tags;
        state.series.put(key, s);
        perJob.merge(job, 1, Integer::sum);
        return s;
    }

    private void forgotten(String job) {
        perJob.computeIfPresent(job, (k, n) -> n <= 1 ? null : n - 1);
    }

    private static AlertEvent event(AlertEvent.Kind kind, String key, SeriesState s, long now, String message, String previous, long lasted) {
        return new AlertEvent(kind, key, s.host, s.job, s.metric, kind == AlertEvent.Kind.RECOVERY ? "ok" : s.status, previous,
                message == null ? "" : message, s.since, now, kind == AlertEvent.Kind.RECOVERY ? "" : s.value, lasted);
    }

    /** Queues {@code e} for the rule's channels; false (and nothing queued) if the job is silenced. */
    private boolean emit(AlertEvent e, AlertRule rule) {
        Silences.Silence silence = silences.covering(e.job(), e.timeMillis());
        if (silence != null) {
            LOG.info("notification {} {} for {} not sent: silenced until {}{}", e.kind().wire(), e.status(), e.job(),
                    java.time.Instant.ofEpochMilli(silence.endMillis()), silence.reason().isEmpty() ? "" : " (" + silence.reason() + ")");
            return false;
        }
        for (String channel : rule.channels()) {
            outbox.add(channel, e, e.timeMillis());
        }
        changed = true;
        return true;
    }

    static String key(String job, String metric, String tags) {
        return job + SEP + metric + SEP + tags;
    }

    /** Tags as "k=v,k=v" sorted by key, so a series' key does not depend on the order a plugin adds them. */
    private static String tags(Sample s) {
        Map<String, String> t = s.measurement().tags();
        if (t.isEmpty()) {
            return "";
        }
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, String> e : new TreeMap<>(t).entrySet()) {
            if (sb.length() > 0) {
                sb.append(',');
            }
            sb.append(e.getKey()).append('=').append(e.getValue());
        }
        return sb.toString();
    }

    /** The values as "name=value unit, ..." (only for samples that are not ok: ok ones are not told). */
    private static String values(Sample s) {
        if (s.status() == Status.OK || s.measurement().values().isEmpty()) {
            return "";
        }
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, Double> e : s.measurement().values().entrySet()) {
            if (sb.length() > 0) {
                sb.append(", ");
            }
            double v = e.getValue();
            sb.append(e.getKey()).append('=').append(number(v));
            String unit = s.measurement().units().get(e.getKey());
            if (unit != null && !unit.isEmpty()) {
                sb.append(unit);
            }
            if (sb.length() > 300) {
                sb.append(", ...");
                break;
            }
        }
        return sb.toString();
    }

    /** 3, 0.5, 1234.6, 1.235E+20: four significant digits at most, no trailing zeros. */
    static String number(double v) {
        if (Double.isNaN(v) || Double.isInfinite(v)) {
            return Double.toString(v);
        }
        if (v == Math.rint(v) && Math.abs(v) < 1e15) {
            return Long.toString((long) v);
        }
        return new java.math.BigDecimal(v).round(new java.math.MathContext(Math.max(4, (int) Math.log10(Math.abs(v)) + 2)))
                .stripTrailingZeros().toString();
    }

    private static char code(Status s) {
        return switch (s) {
            case OK -> Flapping.OK;
            case WARNING -> 'w';
            case CRITICAL -> 'c';
            case UNKNOWN -> 'u';
            case ERROR -> 'e';
            case TIMEOUT -> 't';
            case CPU_LIMIT -> 'p';
            case MEM_LIMIT -> 'm';
            case KILLED -> 'k';
            default -> 'x';
        };
    }
}
