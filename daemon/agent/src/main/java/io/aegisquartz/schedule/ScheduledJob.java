package io.aegisquartz.schedule;

import io.aegisquartz.config.JobOptions;
import io.aegisquartz.config.JobSpec;
import io.aegisquartz.config.Units;
import io.aegisquartz.plugin.FileStamp;
import io.aegisquartz.plugin.JobMemory;
import org.quartz.CronExpression;

import java.text.ParseException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One scheduled job and what it remembers between fires: whether it is running, its backoff, its
 * state and recent runs, what holds it (quarantine, shedding: see {@link Hold}), and the plugin's state.
 *
 * <p>Decides, on each fire, whether to run, queue or skip; never blocks a worker waiting for
 * its own previous run.
 */
public final class ScheduledJob {

    /** What a fire should do: run, run after the running one (overlap=queue), or skip because of a hold or the running one. */
    enum Gate { RUN, QUEUED, HELD, BUSY }

    private final String id;
    private final JobSpec spec;
    private final JobMemory memory;
    private final long intervalMillis;
    private final Backoff backoff;
    private final JobStateLog states;
    private final JobHistory history;

    /**
     * Whether a run is going. Shared between the old and new version of a job changed by a reload,
     * so a new definition never starts while the old one's run is still going.
     */
    static final class Slot {
        private boolean running;
        private long runningSince;
        private boolean queued;
        private boolean skipStreak;
    }

    private final Slot slot;
    private final Object lock;
    /**
     * Holds by kind, but for the backoff (computed from {@link #backoff}) and the quarantine (kept in
     * {@link #quarantine}, which knows its record and what releases it). Guarded by lock.
     */
    private final Map<String, Hold> holds = new LinkedHashMap<>();
    private final Quarantine quarantine;
    /** The record that makes this job a suspect (docs/JOURNAL.md): its in-JVM runs run alone; null if it is none. */
    private volatile java.nio.file.Path suspect;
    private FileStamp lastStamp;
    /** CPU of runs that ended since the governor last looked (nanoseconds). */
    private final java.util.concurrent.atomic.AtomicLong recentCpu = new java.util.concurrent.atomic.AtomicLong();

    /**
     * @param previous the job's old version when a reload changed its line, else null: its state, its
     *                 running flag, its holds, its recent runs and the plugin version it last ran carry
     *                 over (an edited timeout must not release a quarantined plugin whose thread still runs)
     */
    ScheduledJob(String id, JobSpec spec, ScheduledJob previous, int backoffAfter, Duration backoffMax, Duration failureSummary) {
        this.id = id;
        this.slot = previous == null ? new Slot() : previous.slot;
        this.lock = slot;
        JobMemory memory = previous == null ? new JobMemory() : previous.memory;
        this.quarantine = previous == null ? new Quarantine() : previous.quarantine;
        if (previous != null) {
            suspect = previous.suspect;
            synchronized (lock) {
                holds.putAll(previous.holds);
                lastStamp = previous.lastStamp;
                if (!previous.spec.pluginPath().equals(spec.pluginPath())) {
                    memory.clear(); // another plugin under the same name= must not see the old one's state
                    lastStamp = null;
                    holds.remove(Hold.SHED); // nor pay for the old one's CPU
                }
            }
        }
        this.spec = spec;
        this.memory = memory;
        this.intervalMillis = interval(spec.cron());
        this.backoff = new Backoff(backoffAfter, backoffMax.toMillis());
        // The state carries over so that an edited line does not log its unchanged state again.
        this.states = previous == null ? new JobStateLog(failureSummary) : previous.states;
        this.history = previous == null ? new JobHistory() : previous.history;
    }

    /** The Quartz job name. */
    public String id() {
        return id;
    }

    public JobSpec spec() {
        return spec;
    }

    public JobMemory memory() {
        return memory;
    }

    long intervalMillis() {
        return intervalMillis;
    }

    Backoff backoff() {
        return backoff;
    }

    JobStateLog states() {
        return states;
    }

    JobHistory history() {
        return history;
    }

    /**
     * Decides what a fire at {@code nowMillis} does; on HELD or BUSY, {@code why[0]} says why and
     * {@code why[1]} is non-null if the skip deserves a log line. A {@code manual} fire (run-now) is
     * never queued: it runs now or says why not.
     */
    Gate admit(long nowMillis, String[] why, boolean manual) {
        synchronized (lock) {
            // Only a quarantined job looks at its plugin file (and record) here; a running one is checked by the catalog.
            String released = quarantine.releaseIfDue(spec.pluginPath());
            if (released != null) {
                why[1] = "job " + spec.name() + " leaves quarantine: " + released;
            }
            why[0] = held(nowMillis);
            if (why[0] != null) {
                return Gate.HELD;
            }
            if (slot.running) {
                if (manual) {
                    why[0] = refusal(nowMillis);
                    return Gate.BUSY;
                }
                if (spec.options().overlap() == JobOptions.Overlap.QUEUE && !slot.queued) {
                    slot.queued = true;
                    return Gate.QUEUED;
                }
                why[0] = "previous run still going (started " + JobStateLog.clock(slot.runningSince) + ", limit "
                        + Units.format(spec.options().timeout()) + ")";
                if (!slot.skipStreak) {
                    slot.skipStreak = true;
                    why[1] = "job " + spec.name() + ": fire skipped, " + why[0] + "; further skips are only in the samples";
                }
                return Gate.BUSY;
            }
            slot.running = true;
            slot.skipStreak = false;
            slot.runningSince = nowMillis;
            return Gate.RUN;
        }
    }

    /** After a run: true if a queued fire should run now (the caller keeps the running flag). */
    boolean finishRun() {
        synchronized (lock) {
            if (slot.queued) {
                slot.queued = false;
                return true;
            }
            slot.running = false;
            return false;
        }
    }

    /** Clears the running flag after a queued re-run was refused by the gate. */
    void release() {
        synchronized (lock) {
            slot.running = false;
            slot.queued = false;
        }
    }

    /** Re-admits a queued run (the job already holds the running flag). */
    Gate readmit(long nowMillis, String[] why) {
        synchronized (lock) {
            why[0] = held(nowMillis);
            if (why[0] != null) {
                return Gate.HELD;
            }
            slot.runningSince = nowMillis;
            return Gate.RUN;
        }
    }

    /**
     * Why the job may not run now (the first active hold, then the backoff), or null. Caller holds the
     * lock. Runs at every fire: it allocates nothing unless the job is held.
     */
    private String held(long nowMillis) {
        Quarantine.Hold q = quarantine.current();
        if (q != null) {
            return quarantineHold(q).describe();
        }
        if (!holds.isEmpty()) {
            for (java.util.Iterator<Hold> it = holds.values().iterator(); it.hasNext(); ) {
                Hold h = it.next();
                if (h.activeAt(nowMillis)) {
                    return h.describe();
                }
                it.remove(); // over: forget it
            }
        }
        long until = backoff.until();
        if (until > nowMillis) {
            return backoffHold(until).describe();
        }
        return null;
    }

    private Hold backoffHold(long until) {
        return new Hold(Hold.BACKOFF, "backing off after " + backoff.consecutiveFailures() + " consecutive failed runs",
                until - backoff.pauseMillis(), until);
    }

    private static Hold quarantineHold(Quarantine.Hold q) {
        return new Hold(Hold.QUARANTINED, q.reason(), q.sinceMillis(), Hold.UNTIL_RELEASED, q.until());
    }

    /** Active holds: the quarantine, the others in the order they were put on, then the backoff. Caller holds the lock. */
    private List<Hold> activeHolds(long nowMillis) {
        List<Hold> out = new ArrayList<>(2);
        Quarantine.Hold q = quarantine.current();
        if (q != null) {
            out.add(quarantineHold(q));
        }
        holds.values().removeIf(h -> !h.activeAt(nowMillis));
        out.addAll(holds.values());
        long until = backoff.until();
        if (until > nowMillis) {
            out.add(backoffHold(until));
        }
        return out;
    }

    /** What holds the job at {@code nowMillis}: empty if it may run. */
    public List<Hold> holds(long nowMillis) {
        synchronized (lock) {
            return activeHolds(nowMillis);
        }
    }

    /**
     * Holds the job's fires until {@code hold} ends or {@link #unhold} releases it; each fire meanwhile
     * records a skipped sample with {@link Hold#describe()}. Replaces a hold of the same kind.
     */
    public void hold(Hold hold) {
        synchronized (lock) {
            holds.put(hold.kind(), hold);
        }
    }

    /** Releases the hold of {@code kind}, if any (not a quarantine: its plugin file or {@code unquarantine} releases that). */
    public void unhold(String kind) {
        synchronized (lock) {
            holds.remove(kind);
        }
    }

    /** Stops running this job until its plugin file differs from {@code stamp}. */
    void quarantine(String reason, FileStamp stamp) {
        quarantine.hold(reason, System.currentTimeMillis(), stamp, null);
    }

    /** Whether, why and until when this job is quarantined. */
    public Quarantine quarantine() {
        return quarantine;
    }

    /** The record that makes this job a suspect, or null: its in-JVM runs then run alone. */
    java.nio.file.Path suspect() {
        return suspect;
    }

    void suspect(java.nio.file.Path record) {
        suspect = record;
    }

    /**
     * Holds the job's fires until {@code untilMillis}; each fire meanwhile records a skipped sample
     * with {@code reason}. Used by the governor when the agent is over its resource budget.
     */
    public void shed(long untilMillis, String reason) {
        hold(new Hold(Hold.SHED, reason, System.currentTimeMillis(), untilMillis));
    }

    /** True while the governor holds this job. */
    public boolean shed(long nowMillis) {
        synchronized (lock) {
            Hold h = holds.get(Hold.SHED);
            return h != null && h.activeAt(nowMillis);
        }
    }

    /** Why a run-now at {@code nowMillis} would not run (held, or running already), or null if it would. */
    public String refusal(long nowMillis) {
        synchronized (lock) {
            String held = held(nowMillis);
            if (held != null) {
                return held;
            }
            return slot.running ? "running already (started " + JobStateLog.clock(slot.runningSince) + ", limit "
                    + Units.format(spec.options().timeout()) + ")" : null;
        }
    }

    /** The start of the run going now (epoch ms), or 0 if none is. */
    public long runningSince() {
        synchronized (lock) {
            return slot.running ? slot.runningSince : 0;
        }
    }

    /**
     * What {@code aegis-quartz status} shows of this job now.
     *
     * @param nextFireMillis the next scheduled fire (epoch ms), 0 if none
     */
    public JobStatus status(long nowMillis, long nextFireMillis) {
        return new JobStatus(spec, states.state(), runningSince(), history.runs(), history.runCount(), backoff.consecutiveFailures(),
                holds(nowMillis), history.skipCount(), history.lastSkipMillis(), history.lastSkipReason(), nextFireMillis);
    }

    /** Adds a finished run's CPU time for the governor; -1 (unknown) counts as nothing. */
    void addCpu(long nanos) {
        if (nanos > 0) {
            recentCpu.addAndGet(nanos);
        }
    }

    /** CPU of the runs that ended since the last call, and starts counting afresh. */
    public long takeRecentCpu() {
        return recentCpu.getAndSet(0);
    }

    /** Notes the plugin version a run used; a different version than last time forgets the state. */
    void usedPlugin(FileStamp stamp) {
        synchronized (lock) {
            if (lastStamp != null && stamp != null && !lastStamp.equals(stamp)) {
                memory.clear();
            }
            lastStamp = stamp;
        }
    }

    /** Interval between two fires after now, used as the unit of backoff; a minute if it cannot be told. */
    static long interval(String cron) {
        try {
            CronExpression ce = new CronExpression(cron);
            Date a = ce.getNextValidTimeAfter(new Date());
            Date b = a == null ? null : ce.getNextValidTimeAfter(a);
            return a == null || b == null ? 60_000 : b.getTime() - a.getTime();
        } catch (ParseException e) {
            return 60_000;
        }
    }
}
