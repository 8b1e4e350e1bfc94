package io.aegisquartz.plugin;

import io.aegisquartz.sample.Status;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;

/**
 * The wall-time, CPU-time and allocation budget of one in-JVM run, checkable from inside the plugin's
 * thread.
 *
 * <p>Groovy scripts are compiled with a call to {@link #check()} at the top of every loop body, method
 * and closure, so a {@code while (true) {}} stops at its limit without the script's help; every
 * emitted sample is checked too, which is what JAR samplers meet. The check is cheap: a thread-local
 * read and {@link System#nanoTime()}. The thread's allocation counter (a read of a field of the JVM's
 * thread, about 25 ns) is read at most every {@value #ALLOC_CHECK_MICROS} µs and at each emitted
 * sample, and its CPU clock (a system call) at most every {@value #CPU_CHECK_MS} ms: a loop that
 * checks a million times a second pays for a few thousand of those reads.
 *
 * <p>Nothing here assumes it runs inside the agent: the plugin host runs the same checks.
 */
public final class RunBudget {

    static final long CPU_CHECK_MS = 10;
    /**
     * How often a loop reads the allocation counter. At a plausible worst case, a loop filling memory
     * at 2 GB/s, a run overshoots its budget by about 0.5 MB before it is stopped.
     */
    static final long ALLOC_CHECK_MICROS = 250;
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
    private static final com.sun.management.ThreadMXBean ALLOCATION = allocationCounter();
    private static final ThreadLocal<RunBudget> CURRENT = new ThreadLocal<>();

    private final long deadlineNanos;
    private final long cpuLimitNanos;
    private final long memLimitBytes;
    private volatile Status stopReason;
    private long nextCpuCheck;
    private long nextAllocCheck;
    private long allocatedAtStart;

    /** @param memLimitBytes bytes the run's thread may allocate; 0: no allocation budget */
    RunBudget(long deadlineNanos, long cpuLimitNanos, long memLimitBytes) {
        this.deadlineNanos = deadlineNanos;
        this.cpuLimitNanos = cpuLimitNanos;
        this.memLimitBytes = ALLOCATION == null ? 0 : memLimitBytes;
    }

    /** The JVM's per-thread allocation counter, or null where it is missing or cannot be turned on. */
    private static com.sun.management.ThreadMXBean allocationCounter() {
        try {
            if (ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean t && t.isThreadAllocatedMemorySupported()) {
                if (!t.isThreadAllocatedMemoryEnabled()) {
                    t.setThreadAllocatedMemoryEnabled(true);
                }
                return t;
            }
        } catch (UnsupportedOperationException | SecurityException e) {
            // Fall through: runs are then bounded by time and CPU only, as allocationCounted() says.
        }
        return null;
    }

    /** True if this JVM counts each thread's allocation, which the {@code mem} budget needs. */
    public static boolean allocationCounted() {
        return ALLOCATION != null;
    }

    /** Bytes {@code thread} has allocated since it started, or -1 if the JVM cannot tell. */
    static long allocated(Thread thread) {
        return ALLOCATION == null ? -1 : ALLOCATION.getThreadAllocatedBytes(thread.getId());
    }

    /** Bytes the calling thread has allocated since it started, or -1 if the JVM cannot tell. */
    static long allocatedByCurrentThread() {
        return ALLOCATION == null ? -1 : ALLOCATION.getCurrentThreadAllocatedBytes();
    }

    /** Thrown inside a plugin that ran out of budget. An Error, so {@code catch (Exception e)} lets it pass. */
    public static final class Exceeded extends Error {
        private final Status status;

        Exceeded(Status status) {
            super(status == Status.CPU_LIMIT ? "CPU-time limit reached" : status == Status.MEM_LIMIT ? "allocation limit reached"
                    : "wall-time limit reached", null, false, false);
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
            b.checkNow(false);
        }
    }

    /**
     * As {@link #check()}, and reads the allocation counter whatever the time since the last read:
     * called at each emitted sample, the only place where a JAR sampler's code meets the agent.
     */
    public static void checkAtSample() {
        RunBudget b = CURRENT.get();
        if (b != null) {
            b.checkNow(true);
        }
    }

    void enter() {
        CURRENT.set(this);
        allocatedAtStart = memLimitBytes > 0 ? ALLOCATION.getCurrentThreadAllocatedBytes() : 0;
    }

    void exit() {
        CURRENT.remove();
    }

    private void checkNow(boolean readAllocation) {
        Status s = stopReason;
        if (s != null) {
            throw new Exceeded(s);
        }
        long now = System.nanoTime();
        if (now - deadlineNanos >= 0) {
            stop(Status.TIMEOUT);
            throw new Exceeded(Status.TIMEOUT);
        }
        if (memLimitBytes > 0 && (readAllocation || now - nextAllocCheck >= 0)) {
            nextAllocCheck = now + ALLOC_CHECK_MICROS * 1_000L;
            if (ALLOCATION.getCurrentThreadAllocatedBytes() - allocatedAtStart >= memLimitBytes) {
                stop(Status.MEM_LIMIT);
                throw new Exceeded(Status.MEM_LIMIT);
            }
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

    /** The allocation budget in bytes; 0 if there is none. */
    public long memLimitBytes() {
        return memLimitBytes;
    }

    /** Wall time left, never negative. */
    public long remainingNanos() {
        return Math.max(0, deadlineNanos - System.nanoTime());
    }
}
