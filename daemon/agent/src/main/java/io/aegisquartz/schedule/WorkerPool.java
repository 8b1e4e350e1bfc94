package io.aegisquartz.schedule;

import org.quartz.spi.ThreadPool;

import java.util.concurrent.RejectedExecutionException;
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
    private volatile long shutdownWaitMillis = TimeUnit.MINUTES.toMillis(5);

    WorkerPool(int size) {
        this.size = size;
        AtomicInteger n = new AtomicInteger();
        // No core threads and a hand-off queue: a thread is created only when no idle one exists, so
        // a host with one job every minute keeps one worker, not workers-many. The executor itself is
        // unbounded because 'busy' already bounds concurrency: a finishing worker decrements 'busy'
        // a moment before it is back in the queue, and a bounded executor would reject the job handed
        // over in that moment.
        executor = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 5, TimeUnit.MINUTES, new SynchronousQueue<>(), r -> {
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
        try {
            executor.execute(() -> {
                try {
                    job.run();
                } finally {
                    release();
                }
            });
        } catch (RejectedExecutionException e) {
            release(); // only after shutdown
            return false;
        }
        return true;
    }

    private synchronized void release() {
        busy--;
        notifyAll();
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
                // Every run ends by its own limits; a worker stuck beyond them (a plugin compiling
                // forever) must not hold the agent's exit hostage.
                if (!executor.awaitTermination(shutdownWaitMillis, TimeUnit.MILLISECONDS)) {
                    org.slf4j.LoggerFactory.getLogger("agent").warn("{} job(s) still running {} s after the stop request; "
                            + "stopping without them", busy(), shutdownWaitMillis / 1000);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** How long a stop waits for running jobs: the longest job limit plus its grace, and a margin. */
    void shutdownWait(long millis) {
        this.shutdownWaitMillis = millis;
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
