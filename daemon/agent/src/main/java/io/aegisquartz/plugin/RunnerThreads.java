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

    private final ScheduledThreadPoolExecutor timer;
    private final ThreadPoolExecutor io;
    private final java.util.concurrent.Semaphore readers;

    /** @param maxIo most pipe readers at once (two per running executable) */
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
     * Starts a pipe reader; null if {@code maxIo} readers are already running (stuck plugins whose
     * escaped children hold their pipes open), in which case the caller refuses the run.
     */
    public java.util.concurrent.Future<?> read(Runnable reader) {
        if (!readers.tryAcquire()) {
            return null;
        }
        try {
            return io.submit(() -> {
                try {
                    reader.run();
                } finally {
                    readers.release();
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            readers.release();
            return null;
        }
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
