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
 * Runs in-JVM plugin code (Groovy scripts, JAR samplers) on a thread of its own, under a wall-time and
 * a CPU-time limit, and abandons the thread if it will not stop.
 *
 * <p>The waiting worker never polls: a single thread cannot use more CPU time than wall time passes,
 * so it sleeps until the earlier of the deadline and "start + remaining CPU budget", then reads the
 * thread's CPU clock once and either stops it or sleeps again for the CPU still left.
 */
public final class InJvmRunner {

    /** Plugins get a predictable stack, independent of the agent's own -Xss. */
    static final long STACK_BYTES = 1 << 20;

    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    private final AbandonedThreads abandoned;

    /** Plugin code: runs on the plugin thread with the run's budget. */
    public interface Body {
        void run(RunBudget budget) throws Exception;
    }

    /** How the run ended. */
    public enum Ending { COMPLETED, THREW, TIMEOUT, CPU_LIMIT }

    /**
     * @param ending    how it ended
     * @param error     what it threw (for THREW), else null
     * @param abandoned true if the thread did not stop within the grace time and was left running
     * @param wallNanos wall time
     * @param cpuNanos  CPU time of the plugin thread, -1 if unknown
     */
    public record Outcome(Ending ending, Throwable error, boolean abandoned, long wallNanos, long cpuNanos) {
    }

    public InJvmRunner(AbandonedThreads abandoned) {
        this.abandoned = abandoned;
    }

    public AbandonedThreads abandoned() {
        return abandoned;
    }

    /** Runs {@code body} to completion or to its limits. Interrupting the caller stops the plugin too. */
    public Outcome run(String threadName, String job, Duration timeout, Duration cpu, Duration grace, Body body)
            throws InterruptedException {
        return run(null, threadName, job, timeout, cpu, grace, body);
    }

    /**
     * As {@link #run(String, String, Duration, Duration, Duration, Body)}, with the plugin thread in
     * {@code group} (null: the caller's): the plugin host gives each run a group of its own, so that the
     * threads the plugin starts, which inherit it, are known to be the run's.
     */
    public Outcome run(ThreadGroup group, String threadName, String job, Duration timeout, Duration cpu, Duration grace, Body body)
            throws InterruptedException {
        long start = System.nanoTime();
        RunBudget budget = new RunBudget(start + timeout.toNanos(), cpu.toNanos());
        long[] cpuAtEnd = {-1};
        FutureTask<Void> task = new FutureTask<>(() -> {
            budget.enter();
            try {
                body.run(budget);
            } finally {
                budget.exit();
                cpuAtEnd[0] = THREADS.getCurrentThreadCpuTime();
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
                long wait = used < 0 ? wallLeft : Math.min(wallLeft, cpu.toNanos() - used);
                try {
                    task.get(wait, TimeUnit.NANOSECONDS);
                    return new Outcome(Ending.COMPLETED, null, false, System.nanoTime() - start, cpuAtEnd[0]);
                } catch (TimeoutException e) {
                    // Loop: recheck which limit, if any, has been reached.
                } catch (ExecutionException e) {
                    return threw(e.getCause(), start, cpuAtEnd[0]);
                }
            }
        } catch (InterruptedException e) {
            budget.stop(Status.TIMEOUT);
            t.interrupt();
            throw e;
        }

        budget.stop(limit == Ending.CPU_LIMIT ? Status.CPU_LIMIT : Status.TIMEOUT);
        t.interrupt();
        long cpuNow = THREADS.getThreadCpuTime(t.getId());
        try {
            task.get(grace.toNanos(), TimeUnit.NANOSECONDS);
        } catch (ExecutionException e) {
            // Expected: the budget check or the interrupt ended it with an exception.
        } catch (TimeoutException e) {
            abandoned.add(t, job);
            return new Outcome(limit, null, true, System.nanoTime() - start, cpuNow);
        }
        return new Outcome(limit, null, false, System.nanoTime() - start, cpuAtEnd[0] >= 0 ? cpuAtEnd[0] : cpuNow);
    }

    private static Outcome threw(Throwable cause, long start, long cpu) {
        if (cause instanceof RunBudget.Exceeded ex) {
            Ending e = ex.status() == Status.CPU_LIMIT ? Ending.CPU_LIMIT : Ending.TIMEOUT;
            return new Outcome(e, null, false, System.nanoTime() - start, cpu);
        }
        return new Outcome(Ending.THREW, cause, false, System.nanoTime() - start, cpu);
    }
}
