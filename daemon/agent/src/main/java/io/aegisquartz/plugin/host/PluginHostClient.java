package io.aegisquartz.plugin.host;

import io.aegisquartz.config.JobSpec;
import io.aegisquartz.config.PluginHostConfig;
import io.aegisquartz.config.Units;
import io.aegisquartz.plugin.InJvmPlugin;
import io.aegisquartz.plugin.InJvmRunner;
import io.aegisquartz.plugin.PluginException;
import io.aegisquartz.plugin.PluginKind;
import io.aegisquartz.plugin.RunResult;
import io.aegisquartz.plugin.RunResultBuilder;
import io.aegisquartz.plugin.exec.ExecOutcome;
import io.aegisquartz.plugin.exec.ExecPlugin;
import io.aegisquartz.plugin.groovy.CompiledScripts;
import io.aegisquartz.sample.Status;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The agent's plugin host: one host JVM at a time, shared by every job whose plugin runs there,
 * started when a plugin first needs it and again after it ends, and stopped when no plugin needs it
 * (an agent without such jobs has no host at all). docs/PLUGIN-HOST.md.
 *
 * <p>A run in flight when its host ends for a reason it did not cause is run again once, on the next
 * host; one that may have caused it (the agent cannot tell which of several) is run again alone, with
 * no other run in that host, so that if it ends the host again it is the one reported.
 */
public final class PluginHostClient implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger("plugin-host");
    /** After a host failed to start, runs fail at once for this long rather than each waiting for a start of its own. */
    static final long START_RETRY_NANOS = TimeUnit.SECONDS.toNanos(10);

    private final PluginHostConfig config;
    /** Runs hold it shared; a run that must be alone in its host holds it exclusively. Fair, so that it gets its turn. */
    private final ReentrantReadWriteLock alone = new ReentrantReadWriteLock(true);
    private final Object starting = new Object();
    private final AtomicLong ids = new AtomicLong();
    private final Map<Long, HostPlugin> plugins = new ConcurrentHashMap<>();
    /** Jobs whose last run in the host cost the host its life: they run alone. */
    private final java.util.Set<String> harmful = ConcurrentHashMap.newKeySet();
    private volatile HostConnection current;
    private int generation;
    private long failedAt;
    private String failure;
    private volatile boolean closed;
    private final java.util.concurrent.atomic.AtomicBoolean restarting = new java.util.concurrent.atomic.AtomicBoolean();
    private final java.util.concurrent.atomic.LongAdder externalRunCpu = new java.util.concurrent.atomic.LongAdder();

    public PluginHostClient(PluginHostConfig config) {
        this.config = config;
    }

    public PluginHostConfig config() {
        return config;
    }

    /** A Groovy script, compiled by the agent, to run in the host; loaded there now, which starts the host if need be. */
    public HostPlugin groovy(Path file, CompiledScripts.Entry classes) throws PluginException {
        long total = classes.classes().values().stream().mapToLong(b -> b.length).sum();
        if (total > HostProtocol.MAX_PLUGIN_BYTES) {
            throw tooBig(file, total);
        }
        long id = ids.incrementAndGet();
        return load(new HostPlugin(this, id, file, PluginKind.GROOVY, () -> HostProtocol.groovy(id, file.toString(), classes.mainClass(), classes.classes())));
    }

    /** A JAR to run in the host, read from {@code file} whenever a host needs it; loaded now. */
    public HostPlugin jar(Path file) throws PluginException {
        checkSendable(file);
        long id = ids.incrementAndGet();
        return load(new HostPlugin(this, id, file, PluginKind.JAR, () -> HostProtocol.jar(id, file.toString(), Files.readAllBytes(file))));
    }

    /**
     * An executable to run in the host (the exec host): in place if {@code copy} is false, else the host
     * is sent its bytes (a file its user cannot read) and runs its own copy. Loaded now.
     */
    public HostPlugin executable(Path file, boolean copy) throws PluginException {
        if (copy) {
            checkSendable(file);
        }
        long id = ids.incrementAndGet();
        return load(new HostPlugin(this, id, file, PluginKind.EXEC,
                () -> HostProtocol.executable(id, file.toString(), copy ? Files.readAllBytes(file) : null)));
    }

    /** A file whose bytes the host will be sent: readable by the agent, and within the protocol's cap. */
    private static void checkSendable(Path file) throws PluginException {
        long size;
        try {
            size = Files.size(file);
        } catch (IOException e) {
            throw new PluginException("cannot read " + file + ": " + e.getMessage(), "check that the agent's user can read it");
        }
        if (size > HostProtocol.MAX_PLUGIN_BYTES) {
            throw tooBig(file, size);
        }
    }

    private static PluginException tooBig(Path file, long bytes) {
        return new PluginException(file + " is " + Units.formatBytes(bytes) + "; the plugin host takes plugins of up to "
                + Units.formatBytes(HostProtocol.MAX_PLUGIN_BYTES), "make it smaller, or run it in the agent with isolation=inproc");
    }

    private HostPlugin load(HostPlugin p) throws PluginException {
        plugins.put(p.id, p);
        try {
            loadedIn(p);
            return p;
        } catch (PluginException | RuntimeException e) {
            plugins.remove(p.id);
            throw e;
        } catch (InterruptedException e) {
            plugins.remove(p.id);
            Thread.currentThread().interrupt();
            throw new PluginException("interrupted while the plugin host loaded " + p.file, null);
        }
    }

    /** The current host, with {@code p} loaded in it (a host that ends meanwhile is replaced once). */
    private HostConnection loadedIn(HostPlugin p) throws PluginException, InterruptedException {
        IOException last = null;
        for (int attempt = 0; attempt < 2; attempt++) {
            HostConnection c;
            try {
                c = connection();
            } catch (IOException e) {
                throw new PluginException("the plugin host cannot start: " + e.getMessage(),
                        "see the agent's log; or run the plugin in the agent with isolation=inproc");
            }
            try {
                HostProtocol.Loaded l = c.load(p.id, p.load);
                if (l != null && !l.ok()) {
                    throw new PluginException(l.message(), l.fix());
                }
                if (l != null) {
                    p.samplers = l.samplers();
                }
                return c;
            } catch (IOException e) {
                last = e;
            }
        }
        throw new PluginException(p.file + " could not be loaded in the plugin host: " + last.getMessage(), null);
    }

    /** How an attempt went: a result, or the run lost with a host that ended for a reason it did not cause. */
    private record Attempt(RunResult result, HostRun lost, boolean harmedHost) {
    }

    /**
     * Runs {@code job} in the host: once, and once more if the host ended under it for a reason it did
     * not cause. A job whose last run cost the host its life runs alone until a run of it does not, so
     * that its next fire cannot take other jobs' runs with it.
     */
    RunResult run(HostPlugin p, JobSpec job) throws InterruptedException {
        Attempt a = attempt(p, job, harmful.contains(job.key()));
        if (a.result() == null) {
            HostRun lost = a.lost();
            LOG.warn("job {}: the plugin host {} while its run was in flight; running it again{}", job.name(), lost.death.what(),
                    lost.retryAlone ? ", alone in the new host" : "");
            a = attempt(p, job, lost.retryAlone || harmful.contains(job.key()));
            if (a.result() == null) {
                a = new Attempt(failed(a.lost(), "the plugin host " + a.lost().death.what() + " while this run was in flight, twice"), null, false);
            }
        }
        if (a.harmedHost()) {
            harmful.add(job.key());
        } else {
            harmful.remove(job.key());
        }
        return a.result();
    }

    private Attempt attempt(HostPlugin p, JobSpec job, boolean exclusive) throws InterruptedException {
        Lock lock = exclusive ? alone.writeLock() : alone.readLock();
        lock.lockInterruptibly();
        try {
            HostConnection c;
            try {
                c = loadedIn(p);
            } catch (PluginException e) {
                return new Attempt(RunResultBuilder.notRun(job.defaultMetric(), Status.ERROR, "plugin cannot be loaded: " + e.getMessage()
                        + (e.fix() == null ? "" : " (fix: " + e.fix() + ")")), null, false);
            }
            boolean exec = p.kind() == PluginKind.EXEC;
            HostRun r = exec ? c.exec(p.id, job, ExecPlugin.environment(job, p.file.getParent())) : c.run(p.id, job);
            if (p.closed) {
                c.unload(p.id);
            }
            if (r.answered()) {
                return new Attempt(exec ? execResult(c, r) : result(c, r), null, !r.note.isEmpty());
            }
            if (r.retry) {
                return new Attempt(null, r, false);
            }
            boolean blamed = r.death.culprit() == r.id || !r.death.expected() && r.death.culprit() == 0;
            return new Attempt(failed(r, blamed ? r.death.message() : "the plugin host " + r.death.what() + " while this run was in flight"),
                    null, blamed);
        } finally {
            lock.unlock();
        }
    }

    /** The result the host reported, with the times the agent can vouch for. */
    private RunResult result(HostConnection c, HostRun r) {
        HostProtocol.Result res = r.result;
        long wall = System.nanoTime() - r.sentNanos;
        long cpu = res.cpuNanos() < 0 ? -1 : Math.min(res.cpuNanos(), wall);
        long hostCpu = c.hostCpuNanos();
        if (cpu >= 0 && r.hostCpuAtSend >= 0 && hostCpu >= 0) {
            cpu = Math.min(cpu, hostCpu - r.hostCpuAtSend);
        }
        countExternal(c, cpu);
        if (res.truncated()) {
            r.collected.markTruncated();
        }
        InJvmRunner.Ending ending = InJvmRunner.Ending.valueOf(res.ending().name());
        String error = res.error() == null ? "error in the plugin host" : HostProtocol.cut(res.error(), 3000);
        String note = r.note;
        if (ending == InJvmRunner.Ending.COMPLETED && !note.isEmpty()) {
            // It completed, but what it left behind cost the host its life: the run is not a success.
            ending = InJvmRunner.Ending.THREW;
            error = note.substring(2);
            note = "";
        }
        return InJvmPlugin.result(r.job, r.collected, ending, error, wall, cpu, res.allocatedBytes(), false, note);
    }

    /**
     * An executable's outcome as the host's runner observed it, turned into samples by the agent's own
     * code. The wall time is at most what the agent's own clock saw, and the CPU time at most that wall
     * time on every core (a run's processes may use several at once).
     */
    private RunResult execResult(HostConnection c, HostRun r) {
        HostProtocol.ExecResult res = r.execResult;
        long wall = Math.min(res.wallNanos(), System.nanoTime() - r.sentNanos);
        long cpu = res.cpuNanos() < 0 ? -1 : Math.min(res.cpuNanos(), wall * Runtime.getRuntime().availableProcessors());
        countExternal(c, cpu);
        byte[] out = r.stdout.toByteArray();
        ExecOutcome o = new ExecOutcome(ExecOutcome.Ending.values()[res.ending()], res.exitCode(), res.detail(),
                out, res.truncated(), res.stderr(), wall, cpu);
        return ExecPlugin.toResult(r.job, o);
    }

    private static RunResult failed(HostRun r, String message) {
        return new RunResultBuilder(r.collected, r.job.defaultMetric()).time(System.nanoTime() - r.sentNanos, -1)
                .failed(r.death.status(), message);
    }

    private HostConnection connection() throws IOException {
        HostConnection c = current;
        if (c != null && c.alive()) {
            return c;
        }
        synchronized (starting) {
            c = current;
            if (c != null && c.alive()) {
                return c;
            }
            if (closed) {
                throw new IOException("the agent is stopping");
            }
            if (failure != null && System.nanoTime() - failedAt < START_RETRY_NANOS) {
                throw new IOException(failure + " (at most one try every " + TimeUnit.NANOSECONDS.toSeconds(START_RETRY_NANOS) + " s)");
            }
            try {
                c = HostConnection.open(++generation, config, this::ended);
                failure = null;
            } catch (IOException e) {
                failure = e.getMessage();
                failedAt = System.nanoTime();
                LOG.error("the plugin host cannot start: {}", failure);
                throw e;
            }
            current = c;
            return c;
        }
    }

    /**
     * A host ended. Unless on purpose, the next one starts now and is sent the plugins, so that the next
     * runs find it warm (its JVM started, Groovy set up) rather than waiting for it. A host that cannot
     * start is tried at most once every {@link #START_RETRY_NANOS}; one that keeps being ended by a
     * plugin is limited by that job's backoff.
     */
    private void ended(HostConnection c) {
        if (current == c) {
            current = null;
        }
        if (closed || plugins.isEmpty() || c.endedOnPurpose() || !restarting.compareAndSet(false, true)) {
            return;
        }
        Thread t = new Thread(() -> {
            try {
                for (HostPlugin p : plugins.values()) {
                    loadedIn(p);
                }
            } catch (PluginException | RuntimeException e) {
                // The runs that need the plugin say why, with their job's name.
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                restarting.set(false);
            }
        }, "aegis-host-restart");
        t.setDaemon(true);
        t.start();
    }

    /** Forgets {@code p}; the host stops when no plugin is left in it. */
    void unload(HostPlugin p) {
        plugins.remove(p.id);
        HostConnection c = current;
        if (c == null) {
            return;
        }
        c.unload(p.id);
        if (plugins.isEmpty()) {
            synchronized (starting) {
                if (plugins.isEmpty() && current == c) {
                    c.close("stopped: no job runs a plugin in it any more");
                }
            }
        }
    }

    /** The running host's process id, or -1 (none, or one of systemd's). */
    public long pid() {
        HostConnection c = current;
        return c == null || c.hostCpuNanos() < 0 ? -1 : c.pid();
    }

    /**
     * A run's CPU in a host systemd started (whose process the agent cannot read, and whose CPU never
     * reaches the agent's own figure), as the host reported it, bounded by what the agent saw.
     */
    private void countExternal(HostConnection c, long runCpuNanos) {
        if (runCpuNanos > 0 && c.hostCpuNanos() < 0) {
            externalRunCpu.add(runCpuNanos);
        }
    }

    /**
     * CPU time of the runs done in hosts systemd started, cumulative: what the governor adds to the
     * agent's own figure for them (their hosts' own overhead is their units' to cap).
     */
    public long externalRunCpuNanos() {
        return externalRunCpu.sum();
    }

    /** CPU time of the running host, if the agent started it (ended ones count in the agent's own, as reaped children). */
    public long cpuNanos() {
        HostConnection c = current;
        return c == null ? 0 : Math.max(0, c.hostCpuNanos());
    }

    @Override
    public void close() {
        closed = true;
        synchronized (starting) {
            HostConnection c = current;
            if (c != null) {
                c.close("stopped with the agent");
            }
        }
    }
}
