package io.aegisquartz.plugin;

import io.aegisquartz.sample.Status;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;

/**
 * The wall-time and CPU-time budget of one in-JVM run, checkable from inside the plugin's thread.
 *
 * <p>Groovy scripts are compiled with a call to {@link #check()} at the top of every loop body, method
 * and closure, so a {@code while (true) {}} stops at its limit without the script's help. The check is
 * cheap: a thread-local read and {@link System#nanoTime()}; the thread's CPU clock (a system call) is
 * read at most every {@value #CPU_CHECK_MS} ms.
 */
public final class RunBudget {

    static final long CPU_CHECK_MS = 10;
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
    private static final ThreadLocal<RunBudget> CURRENT = new ThreadLocal<>();

    private final long deadlineNanos;
    private final long cpuLimitNanos;
    private volatile Status stopReason;
    private long nextCpuCheck;

    RunBudget(long deadlineNanos, long cpuLimitNanos) {
        this.deadlineNanos = deadlineNanos;
        this.cpuLimitNanos = cpuLimitNanos;
    }

    /** Thrown inside a plugin that ran out of budget. An Error, so {@code catch (Exception e)} lets it pass. */
    public static final class Exceeded extends Error {
        private final Status status;

        Exceeded(Status status) {
            super(status == Status.CPU_LIMIT ? "CPU-time limit reached" : "wall-time limit reached", null, false, false);
            this.status = status;
        }

        public Status status() {
            return status;
        }
    }

    /**
     * Throws {@link Exceeded} if the calling thread's run is past a limit. Called by compiled Groovy
     * plugins; a no-op on threads that are not running a plugin.
     */
    public static void check() {
        RunBudget b = CURRENT.get();
        if (b != null) {
            b.checkNow();
        }
    }

    void enter() {
        CURRENT.set(this);
    }

    void exit() {
        CURRENT.remove();
    }

    private void checkNow() {
        Status s = stopReason;
        if (s != null) {
            throw new Exceeded(s);
        }
        long now = System.nanoTime();
        if (now - deadlineNanos >= 0) {
            stop(Status.TIMEOUT);
            throw new Exceeded(Status.TIMEOUT);
        }
        if (now - nextCpuCheck >= 0) {
            nextCpuCheck = now + CPU_CHECK_MS * 1_000_000L;
            if (THREADS.getCurrentThreadCpuTime() >= cpuLimitNanos) {
                stop(Status.CPU_LIMIT);
                throw new Exceeded(Status.CPU_LIMIT);
            }
        }
    }

    /** Marks the run as stopped; the next {@link #check()} in the plugin thread throws. First reason wins. */
    synchronized void stop(Status reason) {
        if (stopReason == null) {
            stopReason = reason;
        }
    }

    /** The limit that stopped the run, or null while it may go on. */
    public Status stopReason() {
        return stopReason;
    }

    /** Wall time left, never negative. */
    public long remainingNanos() {
        return Math.max(0, deadlineNanos - System.nanoTime());
    }
}
