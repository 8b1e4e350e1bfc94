package io.aegisquartz.schedule;

import org.quartz.spi.ThreadPool;

import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Quartz's worker threads, without Quartz's polling.
 *
 * <p>Quartz's own SimpleThreadPool wakes every idle worker twice a second to look for work; on an
 * agent that runs one job a minute those wake-ups are most of its idle CPU. Here idle workers park in
 * a {@link ThreadPoolExecutor} queue and die after five idle minutes, and the scheduler thread waits
 * on a monitor that is notified only when a worker frees up. Public only because Quartz sets its
 * instance name by reflection.
 */
public final class WorkerPool implements ThreadPool {

    private final int size;
    private final ThreadPoolExecutor executor;
    private int busy;
    private boolean shutdown;

    WorkerPool(int size) {
        this.size = size;
        AtomicInteger n = new AtomicInteger();
        // No core threads and a hand-off queue: a thread is created only when no idle one exists, so
        // a host with one job every minute keeps one worker, not workers-many.
        executor = new ThreadPoolExecutor(0, size, 5, TimeUnit.MINUTES, new SynchronousQueue<>(), r -> {
            Thread t = new Thread(null, r, "aegis-worker-" + n.incrementAndGet(), 512 * 1024);
            t.setDaemon(true);
            return t;
        });
    }

    @Override
    public boolean runInThread(Runnable job) {
        synchronized (this) {
            while (busy >= size && !shutdown) {
                try {
                    wait();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return false;
                }
            }
            if (shutdown) {
                return false;
            }
            busy++;
        }
        executor.execute(() -> {
            try {
                job.run();
            } finally {
                synchronized (WorkerPool.this) {
                    busy--;
                    WorkerPool.this.notifyAll();
                }
            }
        });
        return true;
    }

    @Override
    public synchronized int blockForAvailableThreads() {
        while (busy >= size && !shutdown) {
            try {
                wait();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return 0;
            }
        }
        return shutdown ? 0 : size - busy;
    }

    @Override
    public void initialize() {
        // Threads are created on demand.
    }

    @Override
    public void shutdown(boolean waitForJobsToComplete) {
        synchronized (this) {
            shutdown = true;
            notifyAll();
        }
        executor.shutdown();
        if (waitForJobsToComplete) {
            try {
                // Every run ends by its own limits, so this wait is bounded by the longest one.
                while (!executor.awaitTermination(1, TimeUnit.MINUTES)) {
                    Thread.onSpinWait();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public int getPoolSize() {
        return size;
    }

    @Override
    public void setInstanceId(String id) {
        // Not needed: threads are named by this pool.
    }

    @Override
    public void setInstanceName(String name) {
        // Not needed: threads are named by this pool.
    }

    /** Runs in progress. */
    synchronized int busy() {
        return busy;
    }
}
