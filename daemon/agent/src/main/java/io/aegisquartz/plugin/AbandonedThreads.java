package io.aegisquartz.plugin;

import java.util.ArrayList;
import java.util.List;

/**
 * Plugin threads that did not stop when told to and were left running.
 *
 * <p>The JVM cannot kill a thread, so a JAR or Groovy plugin stuck in an uninterruptible call keeps
 * its thread. We stop waiting for it, quarantine its job, and count it here. Threads that finish later
 * leave the count. Past a configured bound the agent restarts itself, since that is the only way to
 * get those threads back.
 */
public final class AbandonedThreads {

    /** One abandoned thread and the job it ran. */
    public record Entry(Thread thread, String job, long sinceMillis) {
    }

    private final List<Entry> entries = new ArrayList<>();

    /** Records an abandoned thread; returns how many are still alive, this one included. */
    public synchronized int add(Thread t, String job) {
        entries.add(new Entry(t, job, System.currentTimeMillis()));
        return alive();
    }

    /** How many abandoned threads are still running. */
    public synchronized int alive() {
        entries.removeIf(e -> !e.thread().isAlive());
        return entries.size();
    }
}
