package io.aegisquartz.schedule;

import io.aegisquartz.config.JobOptions;
import io.aegisquartz.config.JobSpec;
import io.aegisquartz.config.Units;
import io.aegisquartz.plugin.FileStamp;
import io.aegisquartz.plugin.JobMemory;
import org.quartz.CronExpression;

import java.text.ParseException;
import java.time.Duration;
import java.util.Date;

/**
 * One scheduled job and what it remembers between fires: whether it is running, its backoff, its
 * failure streak, quarantine, and the plugin's state.
 *
 * <p>Decides, on each fire, whether to run, queue or skip; never blocks a worker waiting for
 * its own previous run.
 */
public final class ScheduledJob {

    /** What a fire should do. */
    enum Gate { RUN, QUEUED, SKIP }

    private final String id;
    private final JobSpec spec;
    private final JobMemory memory;
    private final long intervalMillis;
    private final Backoff backoff;
    private final FailureLog failures;

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
    private final Quarantine quarantine;
    /** The record that makes this job a suspect (docs/JOURNAL.md): its in-JVM runs run alone; null if it is none. */
    private volatile java.nio.file.Path suspect;
    private FileStamp lastStamp;
    private long shedUntil;
    private String shedReason;
    /** CPU of runs that ended since the governor last looked (nanoseconds). */
    private final java.util.concurrent.atomic.AtomicLong recentCpu = new java.util.concurrent.atomic.AtomicLong();

    /**
     * @param previous the job's old version when a reload changed its line, else null: its state, its
     *                 running flag, its quarantine and the plugin version it last ran carry over (an
     *                 edited timeout must not release a quarantined plugin whose thread still runs)
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
                lastStamp = previous.lastStamp;
                shedUntil = previous.shedUntil;
                shedReason = previous.shedReason;
            }
            if (!previous.spec.pluginPath().equals(spec.pluginPath())) {
                memory.clear(); // another plugin under the same name= must not see the old one's state
                lastStamp = null;
                shedUntil = 0; // nor pay for the old one's CPU
                shedReason = null;
            }
        }
        this.spec = spec;
        this.memory = memory;
        this.intervalMillis = interval(spec.cron());
        this.backoff = new Backoff(backoffAfter, backoffMax.toMillis());
        this.failures = new FailureLog(spec.name(), failureSummary);
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

    FailureLog failures() {
        return failures;
    }

    /**
     * Decides what a fire at {@code nowMillis} does; on SKIP, {@code why[0]} says why and
     * {@code why[1]} is non-null if the skip deserves a log line.
     */
    Gate admit(long nowMillis, String[] why) {
        synchronized (lock) {
            // Only a quarantined job looks at its plugin file (and record) here; a running one is checked by the catalog.
            String released = quarantine.releaseIfDue(spec.pluginPath());
            if (released != null) {
                why[1] = "job " + spec.name() + " leaves quarantine: " + released;
            }
            why[0] = held(nowMillis);
            if (why[0] != null) {
                return Gate.SKIP;
            }
            if (slot.running) {
                if (spec.options().overlap() == JobOptions.Overlap.QUEUE && !slot.queued) {
                    slot.queued = true;
                    return Gate.QUEUED;
                }
                why[0] = "previous run still going (started " + FailureLog.clock(slot.runningSince) + ", limit "
                        + Units.format(spec.options().timeout()) + ")";
                if (!slot.skipStreak) {
                    slot.skipStreak = true;
                    why[1] = "job " + spec.name() + ": fire skipped, " + why[0] + "; further skips are only in the samples";
                }
                return Gate.SKIP;
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
                return Gate.SKIP;
            }
            slot.runningSince = nowMillis;
            return Gate.RUN;
        }
    }

    /** Why the job may not run now (quarantine, backoff), or null. Caller holds the lock. */
    private String held(long nowMillis) {
        String q = quarantine.reason();
        if (q != null) {
            return "quarantined: " + q;
        }
        if (shedUntil > nowMillis) {
            return "shed by the governor until " + FailureLog.clock(shedUntil) + ": " + shedReason;
        }
        long until = backoff.until();
        if (until > nowMillis) {
            return "backing off after " + backoff.consecutiveFailures() + " consecutive failed runs; next run not before "
                    + FailureLog.clock(until);
        }
        return null;
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
        synchronized (lock) {
            shedUntil = untilMillis;
            shedReason = reason;
        }
    }

    /** True while the governor holds this job. */
    public boolean shed(long nowMillis) {
        synchronized (lock) {
            return shedUntil > nowMillis;
        }
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
