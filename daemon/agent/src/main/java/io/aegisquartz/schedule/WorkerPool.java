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
    /** Quartz's scheduler thread, seen when it first asks for a worker; for the liveness check. */
    private volatile Thread schedulerThread;
    /** When the scheduler thread last came round its loop (System.nanoTime()), and whether it is waiting for a free worker. */
    private volatile long lastTurnNanos = System.nanoTime();
    private volatile boolean waitingForWorker;
    private final java.util.Set<Thread> workers = java.util.concurrent.ConcurrentHashMap.newKeySet();

    WorkerPool(int size) {
        this.size = size;
        AtomicInteger n = new AtomicInteger();
        // No core threads and a hand-off queue: a thread is created only when no idle one exists, so
        // a host with one job every minute keeps one worker, not workers-many. The executor itself is
        // unbounded because 'busy' already bounds concurrency: a finishing worker decrements 'busy'
        // a moment before it is back in the queue, and a bounded executor would reject the job handed
        // over in that moment.
        executor = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 5, TimeUnit.MINUTES, new SynchronousQueue<>(), r -> {
            Runnable tracked = () -> {
                workers.add(Thread.currentThread());
                try {
                    r.run();
                } finally {
                    workers.remove(Thread.currentThread());
                }
            };
            Thread t = new Thread(null, tracked, "aegis-worker-" + n.incrementAndGet(), 512 * 1024);
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

    /**
     * Quartz's scheduler thread calls this at the top of every turn of its loop, which it comes round
     * at least every 30 s (its idle wait) when nothing is due: so it is also where the liveness check
     * learns that the scheduler thread is going round, and which thread that is.
     */
    @Override
    public synchronized int blockForAvailableThreads() {
        schedulerThread = Thread.currentThread();
        lastTurnNanos = System.nanoTime();
        try {
            while (busy >= size && !shutdown) {
                waitingForWorker = true;
                try {
                    wait();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return 0;
                }
            }
        } finally {
            waitingForWorker = false;
            lastTurnNanos = System.nanoTime();
        }
        return shutdown ? 0 : size - busy;
    }

    /** The scheduler thread, or null before its first turn. */
    Thread schedulerThread() {
        return schedulerThread;
    }

    /** Nanoseconds since the scheduler thread last came round its loop; 0 while it waits for a worker to free up. */
    long sinceLastTurnNanos() {
        return waitingForWorker ? 0 : System.nanoTime() - lastTurnNanos;
    }

    /** The worker threads alive now. */
    java.util.List<Thread> workerThreads() {
        return java.util.List.copyOf(workers);
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
