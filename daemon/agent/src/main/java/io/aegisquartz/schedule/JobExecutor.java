package io.aegisquartz.schedule;

import io.aegisquartz.config.JobSpec;
import io.aegisquartz.config.Units;
import io.aegisquartz.journal.QuarantineRecords;
import io.aegisquartz.journal.RunJournal;
import io.aegisquartz.plugin.FileStamp;
import io.aegisquartz.plugin.Plugin;
import io.aegisquartz.plugin.catalog.PluginCatalog;
import io.aegisquartz.plugin.PluginException;
import io.aegisquartz.plugin.PluginKind;
import io.aegisquartz.plugin.RunResult;
import io.aegisquartz.plugin.RunResultBuilder;
import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.SampleStamper;
import io.aegisquartz.sample.Status;
import io.aegisquartz.pipeline.SampleSink;
import org.quartz.CronExpression;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Consumer;

/**
 * What happens when a job fires: admit or skip, run the plugin, stamp and write the samples, then
 * update the job's backoff, state log, recent runs and quarantine, and the agent's run counters.
 */
public final class JobExecutor {

    private static final Logger LOG = LoggerFactory.getLogger("job");
    static final int MISSED_COUNT_CAP = 1000;

    private final PluginCatalog catalog;
    private final SampleStamper stamper;
    private final SampleSink sink;
    private final int maxAbandoned;
    private final Consumer<String> restart;
    private final RunCounters counters;
    private final RunJournal journal;
    private final QuarantineRecords records;
    /**
     * In-JVM runs hold it shared; a suspect's (docs/JOURNAL.md) holds it alone, so that if the agent dies
     * during a suspect's run, the journal shows that run alone. Fair: a waiting suspect is not starved.
     */
    private final ReentrantReadWriteLock inJvmRuns = new ReentrantReadWriteLock(true);
    /** Fires in progress, by worker thread: for the liveness check, which looks for one past all its limits. */
    private final Map<Thread, InFlight> inFlight = new ConcurrentHashMap<>();

    /**
     * Time a fire may take beyond its run's own limits (timeout + kill_grace) before the liveness
     * check counts its worker as stuck: a compile of a changed Groovy plugin (at most 2 minutes, in
     * its own JVM), writing the samples, and a wide margin. A run is stopped at its limits by the
     * timer; a worker still in the same fire this long after is no longer in the agent's hands.
     */
    static final Duration FIRE_SLACK = Duration.ofMinutes(3);

    private record InFlight(String job, long startNanos, long deadlineNanos) {
    }

    /**
     * @param maxAbandoned abandoned plugin threads tolerated before asking for a restart
     * @param restart      called with the reason when the agent must restart itself
     * @param counters     where runs, skips and fire lateness are counted
     */
    public JobExecutor(PluginCatalog catalog, SampleStamper stamper, SampleSink sink, int maxAbandoned, Consumer<String> restart,
                       RunCounters counters) {
        this(catalog, stamper, sink, maxAbandoned, restart, counters, null, null);
    }

    /**
     * @param journal where runs in progress are recorded; null: nowhere
     * @param records quarantines and suspicions that outlive the agent (STATE/quarantine/); null: none
     */
    public JobExecutor(PluginCatalog catalog, SampleStamper stamper, SampleSink sink, int maxAbandoned, Consumer<String> restart,
                       RunCounters counters, RunJournal journal, QuarantineRecords records) {
        this.catalog = catalog;
        this.stamper = stamper;
        this.sink = sink;
        this.maxAbandoned = maxAbandoned;
        this.restart = restart;
        this.counters = counters;
        this.journal = journal;
        this.records = records;
    }

    /**
     * Gives a newly scheduled job the quarantine or suspicion its record in STATE/quarantine/ holds: a
     * run of it ended an earlier agent. A record made for an older version of the plugin file is
     * removed instead.
     */
    void restore(ScheduledJob job) {
        if (records == null) {
            return;
        }
        JobSpec spec = job.spec();
        String hash = RunJournal.keyHash(spec.key());
        QuarantineRecords.Record q = records.find(hash, QuarantineRecords.Kind.QUARANTINED);
        FileStamp now = FileStamp.of(spec.pluginPath());
        if (q != null) {
            if (q.stamp() != null && now != null && !now.equals(q.stamp())) {
                forget(q, "job " + spec.name() + " leaves quarantine: its plugin file changed since a run of it ended the agent");
            } else {
                job.quarantine().hold(q.reason(), q.sinceMillis(), q.stamp() != null ? q.stamp() : now, q.file());
                LOG.warn("job {} is quarantined since {}: {}; release it with 'aegis-quartz unquarantine {}' or by changing {}", spec.name(),
                        java.time.Instant.ofEpochMilli(q.sinceMillis()), q.reason(), spec.name(), spec.pluginPath());
            }
        }
        QuarantineRecords.Record s = records.find(hash, QuarantineRecords.Kind.SUSPECT);
        if (s != null) {
            if (s.stamp() != null && now != null && !now.equals(s.stamp())) {
                forget(s, "job " + spec.name() + " is no longer a suspect: its plugin file changed");
            } else {
                job.suspect(s.file());
                LOG.warn("job {} is a suspect: {}; its runs run alone until one completes", spec.name(), s.reason());
            }
        }
    }

    private void forget(QuarantineRecords.Record r, String line) {
        try {
            records.delete(r);
            LOG.info(line);
        } catch (java.io.IOException e) {
            LOG.warn("{}, but its record {} cannot be removed: {}", line, r.file(), e.getMessage());
        }
    }

    /**
     * A scheduled fire of {@code job}; runs on a worker thread.
     *
     * @param scheduledMillis the fire time it was scheduled for, to count how late it started
     */
    public void fire(ScheduledJob job, long scheduledMillis) {
        long now = System.currentTimeMillis();
        counters.fired((now - scheduledMillis) * 1000);
        String[] why = new String[2];
        ScheduledJob.Gate gate = job.admit(now, why, false);
        if (why[1] != null) {
            LOG.info(why[1]);
        }
        if (gate == ScheduledJob.Gate.HELD || gate == ScheduledJob.Gate.BUSY) {
            skipped(job, why[0], gate == ScheduledJob.Gate.HELD ? RunCounters.Skip.HELD : RunCounters.Skip.OVERLAP);
            return;
        }
        if (gate == ScheduledJob.Gate.QUEUED) {
            return;
        }
        runAdmitted(job, false);
    }

    /**
     * A run asked for by an operator (run-now), on a worker thread: runs now under the job's limits,
     * unless the job is running or held, which it then reports instead of a skipped sample.
     */
    public ManualRun runNow(ScheduledJob job) {
        String[] why = new String[2];
        ScheduledJob.Gate gate = job.admit(System.currentTimeMillis(), why, true);
        if (why[1] != null) {
            LOG.info(why[1]);
        }
        if (gate != ScheduledJob.Gate.RUN) {
            return ManualRun.refused(why[0]);
        }
        LOG.info("job {}: run-now asked for a run", job.spec().name());
        RunRecord r = runAdmitted(job, true);
        return r == null ? ManualRun.refused("interrupted: the agent is stopping") : ManualRun.ran(r);
    }

    /** Runs a job that holds its running flag, then any fire queued meanwhile; the first run's record, null if interrupted. */
    private RunRecord runAdmitted(ScheduledJob job, boolean manual) {
        String[] why = new String[2];
        Thread worker = Thread.currentThread();
        long start = System.nanoTime();
        try {
            track(worker, job, start);
            RunRecord first = run(job, manual);
            while (job.finishRun()) {
                if (job.readmit(System.currentTimeMillis(), why) != ScheduledJob.Gate.RUN) {
                    job.release();
                    skipped(job, why[0], RunCounters.Skip.HELD);
                    return first;
                }
                track(worker, job, start);
                run(job, false);
            }
            return first;
        } catch (InterruptedException e) {
            job.release();
            Thread.currentThread().interrupt();
            return null;
        } catch (RuntimeException | Error e) {
            job.release();
            throw e;
        } finally {
            inFlight.remove(worker);
        }
    }

    /** A run of {@code job} starts on {@code worker}: its deadline is now plus its limits and {@link #FIRE_SLACK}. */
    private void track(Thread worker, ScheduledJob job, long fireStart) {
        var o = job.spec().options();
        long now = System.nanoTime();
        inFlight.put(worker, new InFlight(job.spec().name(), fireStart, now + o.timeout().plus(o.killGrace()).plus(FIRE_SLACK).toNanos()));
    }

    /**
     * A fire still going past its run's limits and {@link #FIRE_SLACK}, described; null if none. A
     * queued run (overlap=queue) gets a deadline of its own: a worker going through queued runs is
     * making progress.
     */
    public String overdueFire() {
        long now = System.nanoTime();
        for (InFlight f : inFlight.values()) {
            if (now - f.deadlineNanos() > 0) {
                return "job " + f.job() + " has held its worker for " + Duration.ofNanos(now - f.startNanos()).toSeconds()
                        + " s, past its limits";
            }
        }
        return null;
    }

    /**
     * Quartz missed a fire time of {@code job}; with misfire=skip the fire will not happen.
     *
     * @param cron the job's parsed cron expression (its trigger's), to count the fire times missed
     */
    public void misfired(ScheduledJob job, Date missed, CronExpression cron, boolean willRunNow) {
        int count = missed == null ? 1 : missedCount(cron, missed);
        String when = missed == null ? "a fire time"
                : count == 1 ? "its fire time " + JobStateLog.clock(missed.getTime())
                : (count > MISSED_COUNT_CAP ? "more than " + MISSED_COUNT_CAP : Integer.toString(count)) + " fire times since "
                + JobStateLog.clock(missed.getTime());
        if (willRunNow) {
            LOG.info("job {} missed {}; running it once now (misfire=run_once)", job.spec().name(), when);
            return;
        }
        String reason = "missed " + when + " (agent paused, all workers busy, or the clock jumped); misfire=skip";
        LOG.warn("job {} {}", job.spec().name(), reason);
        skipped(job, reason, RunCounters.Skip.MISSED);
    }

    /**
     * Fire times from {@code first} up to now, counted with the job's own cron expression, up to one
     * past {@link #MISSED_COUNT_CAP}: this runs on Quartz's scheduler thread inside its store lock, so
     * it must stay cheap even after a day-long pause.
     */
    static int missedCount(CronExpression cron, Date first) {
        long now = System.currentTimeMillis();
        int n = 0;
        for (Date d = first; d != null && d.getTime() <= now && n <= MISSED_COUNT_CAP; d = cron.getNextValidTimeAfter(d)) {
            n++;
        }
        return Math.max(1, n);
    }

    private RunRecord run(ScheduledJob job, boolean manual) throws InterruptedException {
        JobSpec spec = job.spec();
        long start = System.currentTimeMillis();
        RunResult r;
        FileStamp stamp = null;
        int slot = -1;
        try {
            try {
                Plugin plugin = catalog.check(spec);
                stamp = catalog.loadedStamp(spec.pluginPath());
                job.usedPlugin(stamp);
                boolean inJvm = plugin.inAgentJvm();
                java.util.concurrent.locks.Lock gate = !inJvm ? null : job.suspect() != null ? inJvmRuns.writeLock() : inJvmRuns.readLock();
                if (gate != null) {
                    gate.lockInterruptibly();
                }
                try {
                    // A run in the plugin host is journaled without a kind: it cannot be what ended the agent.
                    slot = journal == null ? -1 : journal.begin(spec, inJvm || plugin.kind() == PluginKind.EXEC ? plugin.kind() : null, stamp);
                    r = plugin.run(spec, job.memory());
                } finally {
                    if (gate != null) {
                        gate.unlock();
                    }
                }
                if (inJvm && job.suspect() != null) {
                    cleared(job);
                }
            } catch (PluginException e) {
                r = RunResultBuilder.notRun(spec.defaultMetric(), Status.ERROR, "plugin cannot be loaded: " + e.getMessage()
                        + (e.fix() == null ? "" : " (fix: " + e.fix() + ")"));
            } catch (RuntimeException e) {
                // A bug of ours, not the plugin's: keep the stack trace, and still give the run its sample.
                LOG.error("job {}: unexpected error in the agent while running it", spec.name(), e);
                r = RunResultBuilder.notRun(spec.defaultMetric(), Status.ERROR, "internal error in the agent: " + e);
            }
            write(spec, r.measurements(), r.wallNanos(), r.cpuNanos(), r.truncated());
        } finally {
            // The run is over and its samples are stored (or counted as lost): it is no longer in progress.
            if (journal != null) {
                journal.end(slot);
            }
        }
        job.addCpu(r.cpuNanos());

        long now = System.currentTimeMillis();
        String note = null;
        if (job.backoff().record(r.failed(), now, job.intervalMillis())) {
            note = "backing off: next run not before " + JobStateLog.clock(job.backoff().until()) + " (pause "
                    + Units.format(Duration.ofMillis(job.backoff().pauseMillis())) + ", doubling with each further failure)";
        }
        Measurement decisive = JobStateLog.decisive(r);
        RunRecord record = new RunRecord(start, decisive.status(), r.wallNanos(), r.cpuNanos(), decisive.message(), manual);
        job.history().ran(record);
        counters.ran(decisive.status(), manual);
        job.states().record(spec.name(), decisive.status(), decisive.message(), now, note);

        if (r.abandoned()) {
            job.quarantine("a run at " + JobStateLog.clock(now) + " did not stop when told to and its thread was abandoned; "
                    + "the job resumes when its plugin file changes", stamp);
            int alive = catalog.inJvm().abandoned().alive();
            LOG.error("job {} quarantined: its plugin thread ignored the stop request and was abandoned ({} abandoned thread(s) alive, limit {})",
                    spec.name(), alive, maxAbandoned);
            if (alive > maxAbandoned) {
                restart.accept(alive + " abandoned plugin threads are still running (limit " + maxAbandoned
                        + "); restarting is the only way to reclaim them");
            }
        }
        return record;
    }

    /** A suspect's run ended with the agent alive: it did not end the agent, so it runs with the others again. */
    private void cleared(ScheduledJob job) {
        java.nio.file.Path record = job.suspect();
        job.suspect(null);
        try {
            java.nio.file.Files.deleteIfExists(record);
            LOG.info("job {} is no longer a suspect: a run of it ended and the agent lives on", job.spec().name());
        } catch (java.io.IOException e) {
            LOG.warn("job {} is no longer a suspect, but its record {} cannot be removed: {}", job.spec().name(), record, e.getMessage());
        }
    }

    private void skipped(ScheduledJob job, String reason, RunCounters.Skip why) {
        JobSpec spec = job.spec();
        long now = System.currentTimeMillis();
        job.history().skipped(now, reason);
        counters.skip(why);
        write(spec, List.of(Measurement.status(now, spec.defaultMetric(), Status.SKIPPED, reason)), 0, 0, false);
    }

    private void write(JobSpec spec, List<Measurement> measurements, long wall, long cpu, boolean truncated) {
        try {
            sink.write(stamper.stamp(spec.name(), spec.pluginRef(), measurements, wall, cpu, truncated));
        } catch (RuntimeException e) {
            LOG.error("job {}: {} sample(s) could not be written and are lost: {}", spec.name(), measurements.size(), e.toString());
        }
    }
}
