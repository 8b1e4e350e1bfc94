package io.aegisquartz.plugin;

import io.aegisquartz.sample.Status;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Runs in-JVM plugin code (Groovy scripts, JAR samplers) on a thread of its own, under a wall-time, a
 * CPU-time and an allocation limit, and abandons the thread if it will not stop.
 *
 * <p>For code with the budget checks compiled in (Groovy) the waiting worker never polls: a single
 * thread cannot use more CPU time than wall time passes, so it sleeps until the earlier of the
 * deadline and "start + remaining CPU budget", then reads the thread's CPU clock once and either stops
 * it or sleeps again for the CPU still left; the allocation budget is checked by the plugin thread
 * itself. Code that does not call the agent between two samples (a JAR sampler) is also watched from
 * outside: the worker reads its thread's allocation counter every {@value #ALLOC_WATCH_MS} ms while
 * it runs, and stops it like at the other limits.
 */
public final class InJvmRunner {

    /** Plugins get a predictable stack, independent of the agent's own -Xss. */
    static final long STACK_BYTES = 1 << 20;
    /**
     * How often the worker reads the allocation counter of a run that has no checks compiled in: a
     * wake-up and a read (about 10 µs) per 20 ms of such a run. It cannot prevent an overshoot (a loop
     * can allocate a GB in that time), only stop the run once it is seen; the checks at each sample
     * and the plugin host's own heap do the rest.
     */
    static final long ALLOC_WATCH_MS = 20;

    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    private final AbandonedThreads abandoned;

    /** Plugin code: runs on the plugin thread with the run's budget. */
    public interface Body {
        void run(RunBudget budget) throws Exception;
    }

    /** How the run ended. */
    public enum Ending { COMPLETED, THREW, TIMEOUT, CPU_LIMIT, MEM_LIMIT }

    /**
     * @param ending         how it ended
     * @param error          what it threw (for THREW), else null
     * @param abandoned      true if the thread did not stop within the grace time and was left running
     * @param wallNanos      wall time
     * @param cpuNanos       CPU time of the plugin thread, -1 if unknown
     * @param allocatedBytes bytes the plugin thread allocated, -1 if unknown
     */
    public record Outcome(Ending ending, Throwable error, boolean abandoned, long wallNanos, long cpuNanos, long allocatedBytes) {
    }

    /**
     * The limits of one run.
     *
     * @param mem        bytes the run's thread may allocate; 0: no allocation budget
     * @param watchAlloc read the thread's allocation counter from outside while it runs (for code that
     *                   has no budget checks compiled in)
     */
    public record Limits(Duration timeout, Duration cpu, Duration grace, long mem, boolean watchAlloc) {
    }

    public InJvmRunner(AbandonedThreads abandoned) {
        this.abandoned = abandoned;
    }

    public AbandonedThreads abandoned() {
        return abandoned;
    }

    /** Runs {@code body} to completion or to its time and CPU limits, without an allocation budget. */
    public Outcome run(String threadName, String job, Duration timeout, Duration cpu, Duration grace, Body body)
            throws InterruptedException {
        return run(threadName, job, new Limits(timeout, cpu, grace, 0, false), body);
    }

    /** Runs {@code body} to completion or to its limits. Interrupting the caller stops the plugin too. */
    public Outcome run(String threadName, String job, Limits limits, Body body) throws InterruptedException {
        return run(null, threadName, job, limits, body);
    }

    /**
     * As {@link #run(String, String, Limits, Body)}, with the plugin thread in {@code group} (null: the
     * caller's): the plugin host gives each run a group of its own, so that the threads the plugin
     * starts, which inherit it, are known to be the run's.
     */
    public Outcome run(ThreadGroup group, String threadName, String job, Limits limits, Body body) throws InterruptedException {
        Duration timeout = limits.timeout();
        Duration cpu = limits.cpu();
        long start = System.nanoTime();
        RunBudget budget = new RunBudget(start + timeout.toNanos(), cpu.toNanos(), limits.mem());
        boolean watch = limits.watchAlloc() && budget.memLimitBytes() > 0;
        long[] atEnd = {-1, -1};
        FutureTask<Void> task = new FutureTask<>(() -> {
            budget.enter();
            try {
                body.run(budget);
            } finally {
                budget.exit();
                atEnd[0] = THREADS.getCurrentThreadCpuTime();
                atEnd[1] = RunBudget.allocatedByCurrentThread();
            }
            return null;
        });
        Thread t = new Thread(group, task, threadName, STACK_BYTES);
        t.setDaemon(true);
        t.start();

        Ending limit = null;
        try {
            while (true) {
                long wallLeft = start + timeout.toNanos() - System.nanoTime();
                long used = THREADS.getThreadCpuTime(t.getId());
                if (wallLeft <= 0) {
                    limit = Ending.TIMEOUT;
                    break;
                }
                if (used >= 0 && used >= cpu.toNanos()) {
                    limit = Ending.CPU_LIMIT;
                    break;
                }
                // A thread that ended has no counter any more (-1): its run is over, task.get says how.
                if (watch && RunBudget.allocated(t) >= budget.memLimitBytes()) {
                    limit = Ending.MEM_LIMIT;
                    break;
                }
                long wait = used < 0 ? wallLeft : Math.min(wallLeft, cpu.toNanos() - used);
                if (watch) {
                    wait = Math.min(wait, TimeUnit.MILLISECONDS.toNanos(ALLOC_WATCH_MS));
                }
                try {
                    task.get(wait, TimeUnit.NANOSECONDS);
                    return new Outcome(Ending.COMPLETED, null, false, System.nanoTime() - start, atEnd[0], atEnd[1]);
                } catch (TimeoutException e) {
                    // Loop: recheck which limit, if any, has been reached.
                } catch (ExecutionException e) {
                    return threw(e.getCause(), start, atEnd[0], atEnd[1]);
                }
            }
        } catch (InterruptedException e) {
            budget.stop(Status.TIMEOUT);
            t.interrupt();
            throw e;
        }

        budget.stop(limit == Ending.CPU_LIMIT ? Status.CPU_LIMIT : limit == Ending.MEM_LIMIT ? Status.MEM_LIMIT : Status.TIMEOUT);
        t.interrupt();
        long cpuNow = THREADS.getThreadCpuTime(t.getId());
        long allocNow = RunBudget.allocated(t);
        try {
            task.get(limits.grace().toNanos(), TimeUnit.NANOSECONDS);
        } catch (ExecutionException e) {
            // Expected: the budget check or the interrupt ended it with an exception.
        } catch (TimeoutException e) {
            abandoned.add(t, job);
            return new Outcome(limit, null, true, System.nanoTime() - start, cpuNow, allocNow);
        }
        return new Outcome(limit, null, false, System.nanoTime() - start, atEnd[0] >= 0 ? atEnd[0] : cpuNow,
                atEnd[1] >= 0 ? atEnd[1] : allocNow);
    }

    private static Outcome threw(Throwable cause, long start, long cpu, long allocated) {
        if (cause instanceof RunBudget.Exceeded ex) {
            Ending e = switch (ex.status()) {
                case CPU_LIMIT -> Ending.CPU_LIMIT;
                case MEM_LIMIT -> Ending.MEM_LIMIT;
                default -> Ending.TIMEOUT;
            };
            return new Outcome(e, null, false, System.nanoTime() - start, cpu, allocated);
        }
        return new Outcome(Ending.THREW, cause, false, System.nanoTime() - start, cpu, allocated);
    }
}
