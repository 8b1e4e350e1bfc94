package io.aegisquartz.schedule;

import io.aegisquartz.config.JobOptions;
import io.aegisquartz.config.JobSpec;
import org.quartz.CronExpression;
import org.quartz.CronTrigger;
import org.quartz.Job;
import org.quartz.JobBuilder;
import org.quartz.JobDataMap;
import org.quartz.JobDetail;
import org.quartz.JobKey;
import org.quartz.Scheduler;
import org.quartz.SchedulerException;
import org.quartz.Trigger;
import org.quartz.TriggerKey;
import org.quartz.impl.DirectSchedulerFactory;
import org.quartz.listeners.TriggerListenerSupport;
import org.quartz.simpl.RAMJobStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.text.ParseException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * Quartz with the in-memory job store and our {@link WorkerPool}, holding one cron trigger per job.
 *
 * <p>Built with {@link DirectSchedulerFactory}, so no quartz.properties is read and no JDBC store or
 * plugin can be configured by accident.
 */
public final class JobScheduler implements AutoCloseable {

    /**
     * How late a fire may be and still run as scheduled. Later than this (a paused JVM, every worker
     * busy, the clock jumping forward) and the job's misfire policy applies: skip, or run once now.
     */
    static final long MISFIRE_THRESHOLD_MS = 2_000;

    private static final Logger LOG = LoggerFactory.getLogger("job");
    private static final AtomicLong INSTANCES = new AtomicLong();
    /** Job data key of a run-now fire: the callback for its outcome. */
    private static final String RUN_NOW = "aegis.run-now";

    private final Scheduler quartz;
    private final WorkerPool pool;
    private final JobExecutor executor;
    private final Map<String, ScheduledJob> byId = new ConcurrentHashMap<>();
    private final AtomicLong ids = new AtomicLong();
    private final String hostUuid;

    /** A scheduler whose jobs are not splayed (no host identity to derive offsets from). */
    public JobScheduler(int workers, JobExecutor executor) throws SchedulerException {
        this(workers, executor, null);
    }

    /**
     * @param hostUuid the host's identity, from which (with each job's name) its splay offset is
     *                 derived ({@link Splay}); null: no job is splayed
     */
    public JobScheduler(int workers, JobExecutor executor, String hostUuid) throws SchedulerException {
        this.executor = executor;
        this.hostUuid = hostUuid;
        RAMJobStore store = new RAMJobStore();
        store.setMisfireThreshold(MISFIRE_THRESHOLD_MS);
        String name = "aegis-quartz-" + INSTANCES.incrementAndGet();
        pool = new WorkerPool(workers);
        DirectSchedulerFactory.getInstance().createScheduler(name, name, pool, store);
        quartz = DirectSchedulerFactory.getInstance().getScheduler(name);
        quartz.setJobFactory((bundle, scheduler) -> job(byId.get(bundle.getJobDetail().getKey().getName())));
        quartz.getListenerManager().addTriggerListener(new MisfireListener());
    }

    private Job job(ScheduledJob j) {
        return context -> {
            @SuppressWarnings("unchecked")
            Consumer<ManualRun> manual = (Consumer<ManualRun>) context.getMergedJobDataMap().get(RUN_NOW);
            if (j == null) {
                if (manual != null) {
                    manual.accept(ManualRun.refused("the job was removed by a reload"));
                }
                return; // removed between Quartz picking the trigger and firing it
            }
            try {
                if (manual != null) {
                    manual.accept(executor.runNow(j));
                } else {
                    executor.fire(j, context.getScheduledFireTime().getTime());
                }
            } catch (RuntimeException | Error e) {
                LOG.error("unexpected error running job {}", j.spec().name(), e);
                if (manual != null) {
                    manual.accept(ManualRun.refused("unexpected error in the agent: " + e));
                }
            }
        };
    }

    /**
     * Fires {@code job} once now, as an operator asked (run-now): through Quartz and the worker pool
     * like any fire, so it waits for a free worker and runs under the job's limits. {@code done} is
     * called on the worker with how it ended.
     */
    public void runNow(ScheduledJob job, Consumer<ManualRun> done) throws SchedulerException {
        JobDataMap data = new JobDataMap();
        data.put(RUN_NOW, done);
        quartz.triggerJob(new JobKey(job.id(), job.spec().source().name().toLowerCase()), data);
    }

    public void start() throws SchedulerException {
        quartz.start();
    }

    /**
     * Schedules {@code spec}. {@code previous} is the job's old version when a reload changed it: its
     * state and its running flag carry over, so the new version never overlaps the old one's run.
     */
    public ScheduledJob add(JobSpec spec, ScheduledJob previous, int backoffAfter, Duration backoffMax, Duration failureSummary)
            throws SchedulerException {
        String id = "job-" + ids.incrementAndGet();
        ScheduledJob job = new ScheduledJob(id, spec, previous, backoffAfter, backoffMax, failureSummary);
        if (previous == null) {
            executor.restore(job); // a quarantine from an earlier agent, before the first fire
        }
        byId.put(id, job);
        String group = spec.source().name().toLowerCase();
        JobDetail detail = JobBuilder.newJob(Job.class).withIdentity(id, group).build();
        try {
            CronExpression cron;
            try {
                cron = new CronExpression(spec.cron());
            } catch (ParseException e) {
                // The cron file parser accepted it with the same parser, so this is a bug of ours.
                throw new IllegalStateException("cron expression '" + spec.cron() + "' of job " + spec.name() + ": " + e.getMessage(), e);
            }
            Date now = new Date();
            long offset = hostUuid == null || spec.options().splay().isZero() ? 0
                    : Splay.offsetMillis(hostUuid, spec.name(), spec.options().splay(), cron, now);
            JobTrigger trigger = new JobTrigger(id, group, cron, offset, spec.options().misfire() == JobOptions.Misfire.RUN_ONCE, now,
                    java.time.Clock.systemUTC());
            trigger.setJobKey(detail.getKey());
            quartz.scheduleJob(detail, trigger);
        } catch (SchedulerException | RuntimeException e) {
            byId.remove(id);
            throw e;
        }
        return job;
    }

    /** Unschedules {@code job}; a run in progress finishes. */
    public void remove(ScheduledJob job) throws SchedulerException {
        quartz.deleteJob(new JobKey(job.id(), job.spec().source().name().toLowerCase()));
        byId.remove(job.id());
    }

    /** The next time {@code job} fires, or null if never. */
    public Date nextFire(ScheduledJob job) {
        try {
            Trigger t = quartz.getTrigger(new TriggerKey(job.id(), job.spec().source().name().toLowerCase()));
            return t == null ? null : t.getNextFireTime();
        } catch (SchedulerException e) {
            return null;
        }
    }

    /** How far {@code job}'s fire times are shifted from its cron's ({@link Splay}), in milliseconds. */
    public long splayMillis(ScheduledJob job) {
        try {
            Trigger t = quartz.getTrigger(new TriggerKey(job.id(), job.spec().source().name().toLowerCase()));
            return t instanceof JobTrigger jt ? jt.offsetMillis() : 0;
        } catch (SchedulerException e) {
            return 0;
        }
    }

    /**
     * Longest the scheduler thread may go without coming round its loop, unless it is waiting for a
     * worker: Quartz's idle wait is 30 s, so a thread that has not come round in 60 s is stuck (a
     * lock it cannot get, or frozen).
     */
    static final long TURN_MAX_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(60);

    private static final java.lang.management.ThreadMXBean THREADS = java.lang.management.ManagementFactory.getThreadMXBean();

    /**
     * Why the scheduling machinery is not making progress, or null if it is: the scheduler thread or
     * a worker suspended (Thread.suspend, which a plugin can call on any thread), the scheduler
     * thread not coming round its loop, or a fire that holds its worker past all its limits. Cheap:
     * the thread states come without a stack walk or a safepoint.
     */
    public String stall() {
        Thread scheduler = pool.schedulerThread();
        if (scheduler == null) {
            return null; // not started yet: nothing to judge
        }
        List<Thread> threads = new ArrayList<>(pool.workerThreads());
        threads.add(scheduler);
        long[] ids = threads.stream().mapToLong(Thread::getId).toArray();
        java.lang.management.ThreadInfo[] infos = THREADS.getThreadInfo(ids, 0);
        for (int i = 0; i < infos.length; i++) {
            if (infos[i] != null && infos[i].isSuspended()) {
                return "thread " + infos[i].getThreadName() + " is suspended";
            }
        }
        long quiet = pool.sinceLastTurnNanos();
        if (quiet > TURN_MAX_NANOS) {
            return "the scheduler thread has not come round its loop for " + java.util.concurrent.TimeUnit.NANOSECONDS.toSeconds(quiet)
                    + " s (state " + scheduler.getState() + ")";
        }
        return executor.overdueFire();
    }

    /** Stops firing; with {@code waitForRuns}, returns when running jobs have ended (each within its limits). */
    public void shutdown(boolean waitForRuns) {
        long longest = 0;
        for (ScheduledJob j : byId.values()) {
            longest = Math.max(longest, j.spec().options().timeout().plus(j.spec().options().killGrace()).toMillis());
        }
        pool.shutdownWait(longest + 10_000);
        try {
            quartz.shutdown(waitForRuns);
        } catch (SchedulerException e) {
            LOG.warn("scheduler did not shut down cleanly: {}", e.getMessage());
        }
    }

    @Override
    public void close() {
        shutdown(false);
    }

    private final class MisfireListener extends TriggerListenerSupport {
        @Override
        public String getName() {
            return "aegis-misfires";
        }

        @Override
        public void triggerMisfired(Trigger trigger) {
            ScheduledJob j = byId.get(trigger.getJobKey().getName());
            // A run-now fire has a one-shot trigger of Quartz's own, which fires late rather than never.
            if (j != null && trigger instanceof JobTrigger) {
                // Quartz hands us the trigger as it was before the misfire policy moved it on.
                boolean runNow = trigger.getMisfireInstruction() == CronTrigger.MISFIRE_INSTRUCTION_FIRE_ONCE_NOW;
                // Every trigger here is a JobTrigger (or Quartz's copy of one): its expression is parsed already.
                executor.misfired(j, trigger.getNextFireTime(), ((JobTrigger) trigger).expression(), runNow);
            }
        }
    }
}
