package io.aegisquartz.plugin;

import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The few shared threads plugin runs need besides the workers: one timer that fires limits, and a
 * small pool that drains executables' output pipes.
 *
 * <p>The timer thread parks until the next deadline, so an idle agent has no wake-ups here; pool
 * threads exist only while runs need them and die after a minute idle.
 */
public final class RunnerThreads implements AutoCloseable {

    /** Pipe readers one owner (a job) may hold at once: two commands' stdout and stderr. */
    public static final int READERS_PER_OWNER = 4;

    private final ScheduledThreadPoolExecutor timer;
    private final ThreadPoolExecutor io;
    private final java.util.concurrent.Semaphore readers;
    private final java.util.concurrent.ConcurrentHashMap<Object, Integer> byOwner = new java.util.concurrent.ConcurrentHashMap<>();

    /** @param maxIo most pipe readers at once, all owners together (two per running executable) */
    public RunnerThreads(int maxIo) {
        this(maxIo, null);
    }

    /**
     * @param maxIo most pipe readers at once (two per running executable)
     * @param group where the threads go; null: the creating thread's group. The plugin host gives its
     *              own, so that a pipe reader started for a run's exec() is not counted as a thread
     *              the run left behind
     */
    public RunnerThreads(int maxIo, ThreadGroup group) {
        this.readers = new java.util.concurrent.Semaphore(maxIo);
        timer = new ScheduledThreadPoolExecutor(1, daemonThreads(group, "aegis-timer"));
        timer.setRemoveOnCancelPolicy(true);
        timer.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
        // A hand-off queue bounded by a count of our own, not by the executor: a reader that just
        // finished is briefly neither running nor waiting, and a bounded executor would reject then.
        io = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 60, TimeUnit.SECONDS, new SynchronousQueue<>(), daemonThreads(group, "aegis-pipe"));
    }

    /** Fires kill stages at run deadlines. */
    public ScheduledThreadPoolExecutor timer() {
        return timer;
    }

    /**
     * Reserves {@code n} pipe readers for {@code owner} (a job; null: no owner cap): false if that
     * owner already holds {@link #READERS_PER_OWNER}, or all owners together {@code maxIo}. Runs close
     * their pipes when they end, so readers come back with the run; the caps only bound how many
     * commands run at once, per job and in all.
     */
    public boolean reserve(Object owner, int n) {
        if (owner != null) {
            boolean[] ok = {false};
            byOwner.compute(owner, (k, held) -> {
                int h = held == null ? 0 : held;
                ok[0] = h + n <= READERS_PER_OWNER;
                return ok[0] ? h + n : held;
            });
            if (!ok[0]) {
                return false;
            }
        }
        if (!readers.tryAcquire(n)) {
            if (owner != null) {
                release(owner, n, false);
            }
            return false;
        }
        return true;
    }

    /** Gives back readers taken by {@link #reserve}. */
    public void release(Object owner, int n) {
        release(owner, n, true);
    }

    private void release(Object owner, int n, boolean global) {
        if (owner != null) {
            byOwner.computeIfPresent(owner, (k, held) -> held - n <= 0 ? null : held - n);
        }
        if (global) {
            readers.release(n);
        }
    }

    /** Runs a pipe reader on a pool thread; the caller has reserved it. */
    public java.util.concurrent.Future<?> read(Runnable reader) {
        return io.submit(reader);
    }

    @Override
    public void close() {
        timer.shutdownNow();
        io.shutdownNow();
    }

    static ThreadFactory daemonThreads(ThreadGroup group, String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            // Small stacks: these threads only copy bytes and fire timers.
            Thread t = new Thread(group, r, prefix + "-" + n.incrementAndGet(), 256 * 1024);
            t.setDaemon(true);
            return t;
        };
    }
}
