package io.aegisquartz.plugin.host;

import io.aegisquartz.api.ProcFiles;
import io.aegisquartz.config.PluginHostConfig;
import io.aegisquartz.config.Units;
import io.aegisquartz.log.LogText;
import io.aegisquartz.plugin.ChildJvm;
import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Status;
import jdk.net.ExtendedSocketOptions;
import jdk.net.UnixDomainPrincipal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * The agent's side of one plugin host, from its start (or connection) to its end: sends plugins and
 * runs, reads and checks everything the host sends, pings it while runs are in flight, and ends it
 * when it breaks a limit, the protocol or its liveness. A new host is a new connection.
 *
 * <p>Nothing the host says is taken on trust beyond the runs it concerns: every message is checked
 * against the protocol and the state of the run it names, samples are validated and capped as in the
 * agent, times are clamped, and the agent enforces each run's deadline and the host's liveness with
 * its own clock. A host that breaks any of it is killed.
 *
 * <p>When a host ends with runs in flight, the run known to have caused it (from the agent's own
 * checks, or the host's last words) is reported with its status; the others are run again once on the
 * next host. Without a known cause, runs that never started are innocent and run again; a run that
 * had started is blamed if it is the only one, else each is run again alone, so that a second end
 * names its cause (docs/PLUGIN-HOST.md, "When a host ends").
 *
 * <p>Threads: one reads the host's messages and, for a child host, one reads its standard error;
 * both block in read and cost no wake-ups. Workers waiting for runs do the pinging.
 */
final class HostConnection {

    private static final Logger LOG = LoggerFactory.getLogger("plugin-host");
    private static final Logger PLUGIN = LoggerFactory.getLogger("plugin");

    static final Duration START_TIMEOUT = Duration.ofSeconds(30);
    /** Past timeout + kill_grace, how long the agent gives the host to report a run before it kills the host. */
    static final long MARGIN_NANOS = TimeUnit.SECONDS.toNanos(1);
    /**
     * More for an executable's run: the host's runner may take a few seconds past timeout + kill_grace
     * to kill what is left and close pipes held by escaped processes, and its report says more than the
     * agent's deadline can. The host's own watchdog acts later still (HostSession).
     */
    static final long EXEC_MARGIN_NANOS = TimeUnit.SECONDS.toNanos(5);
    /** Log lines shown per run: the 20 a run may write (RunContext) and the note that more were dropped. */
    static final int LOG_LINES_SHOWN = 21;
    /** Log messages per run past which the host is flooding, not logging. */
    static final int LOG_LINES_MAX = 100;
    static final long STDERR_MAX = 1 << 20;
    /** Threads the host may have; more is a plugin leaking them. */
    static final int MAX_THREADS = 256;
    /** A host that used more than this share of one core while no run was in flight has a thread left spinning. */
    static final double IDLE_CPU_SHARE = 0.5;
    static final long IDLE_CHECK_MIN_NANOS = TimeUnit.SECONDS.toNanos(1);
    private static final long NANOS_PER_TICK = 10_000_000L;

    final int generation;
    private final PluginHostConfig config;
    private final Consumer<HostConnection> onEnd;
    private final Process process;
    private final SocketChannel channel;
    private final InputStream in;
    private final OutputStream out;
    private final ReentrantLock writing = new ReentrantLock();
    private volatile long writingSince;
    private final long startedNanos = System.nanoTime();
    private final CompletableFuture<Long> ready = new CompletableFuture<>();
    private final Map<Long, CompletableFuture<HostProtocol.Loaded>> loads = new ConcurrentHashMap<>();
    private final Set<Long> loaded = ConcurrentHashMap.newKeySet();
    private final StringBuilder stderrTail = new StringBuilder();
    private volatile long pid = -1;
    private volatile long heapCap;
    private volatile boolean closing;

    // Guarded by this.
    private final Map<Long, HostRun> runs = new HashMap<>();
    private long nextRunId = 1;
    private HostDeath death;
    private long pingSeq;
    private long pingOutstandingSeq;
    private long pingOutstandingSince;
    private long idleSinceNanos = System.nanoTime();
    private long idleCpuNanos = -1;
    private HostProtocol.Why endingWhy = HostProtocol.Why.NONE;
    private long endingRun;

    private HostConnection(int generation, PluginHostConfig config, Consumer<HostConnection> onEnd, Process process, SocketChannel channel)
            throws IOException {
        this.generation = generation;
        this.config = config;
        this.onEnd = onEnd;
        this.process = process;
        this.channel = channel;
        this.in = new BufferedInputStream(process != null ? process.getInputStream() : ChannelStreams.in(channel), 1 << 16);
        this.out = new BufferedOutputStream(process != null ? process.getOutputStream() : ChannelStreams.out(channel), 1 << 16);
    }

    /**
     * Starts a host (or connects to one) and waits until it is ready.
     *
     * @throws IOException if it cannot be started or reached, or does not answer within {@link #START_TIMEOUT}
     */
    static HostConnection open(int generation, PluginHostConfig config, Consumer<HostConnection> onEnd) throws IOException {
        HostConnection c;
        if (config.socket() == null) {
            Process p = ChildJvm.builder(ChildJvm.LONG_LIVED, List.of("-Xms8m", "-Xmx" + (config.heapMax() >> 20) + "m"),
                            PluginHostMain.class.getName(), List.of())
                    .directory(new File(System.getProperty("java.io.tmpdir"))).start();
            c = new HostConnection(generation, config, onEnd, p, null);
            c.pid = p.pid();
            c.thread(c::readStderr, "aegis-host-stderr");
        } else {
            SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
            try {
                ch.connect(UnixDomainSocketAddress.of(config.socket()));
                checkPeer(ch, config);
            } catch (IOException e) {
                ch.close();
                throw e;
            }
            c = new HostConnection(generation, config, onEnd, null, ch);
        }
        c.thread(c::readLoop, "aegis-host-reader");
        try {
            c.send(HostProtocol.hello(config.liveness().toMillis()));
            c.ready.get(START_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            c.die(HostDeath.closed("did not answer within " + Units.format(START_TIMEOUT) + " of its start"));
            throw new IOException("the plugin host did not answer within " + Units.format(START_TIMEOUT) + c.stderrNote());
        } catch (ExecutionException e) {
            throw new IOException(e.getCause().getMessage() + c.stderrNote());
        } catch (InterruptedException e) {
            c.die(HostDeath.closed("was stopped while starting"));
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while the plugin host started");
        } catch (IOException e) {
            c.die(HostDeath.closed("could not be sent the handshake: " + e.getMessage()));
            throw e;
        }
        LOG.info("plugin host started: pid {}, {}, heap cap {}, in {} ms", c.pid, config.socket() == null ? "a child of the agent"
                        : "connected through " + config.socket(), Units.formatBytes(c.heapCap),
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - c.startedNanos));
        return c;
    }

    /**
     * A socket's listener must be systemd (socket activation, as root) or the agent's own user: no
     * other local user can pose as the plugin host and receive the plugins and their arguments.
     */
    private static void checkPeer(SocketChannel ch, PluginHostConfig config) throws IOException {
        UnixDomainPrincipal peer = ch.getOption(ExtendedSocketOptions.SO_PEERCRED);
        String user = peer.user().getName();
        if (!user.equals("root") && !user.equals(System.getProperty("user.name"))) {
            throw new IOException(config.socket() + " is served by user " + user + ", not by root (systemd) or " + System.getProperty("user.name")
                    + "; refusing to send plugins there");
        }
    }

    private void thread(Runnable r, String name) {
        Thread t = new Thread(null, () -> {
            try {
                r.run();
            } catch (Throwable e) {
                // A bug of ours: keep its trace, and do not leave runs waiting on a host nobody reads.
                LOG.error("plugin host (pid {}): {} failed", pid, Thread.currentThread().getName(), e);
                die(HostDeath.unexplained(Status.ERROR, "could not be read by the agent (" + e + ") and was killed"));
            }
        }, name + "-" + generation, 256 * 1024);
        t.setDaemon(true);
        t.start();
    }

    long pid() {
        return pid;
    }

    /** True if the agent ended this host on purpose (no job needed it, or the agent stops). */
    synchronized boolean endedOnPurpose() {
        return death != null && death.expected();
    }

    boolean alive() {
        synchronized (this) {
            return death == null;
        }
    }

    // ---------------------------------------------------------------- plugins

    /**
     * Loads plugin {@code id} into this host unless it is there already.
     *
     * @param frame makes the LOAD message (only when it is needed)
     * @return the host's answer (its samplers, or why it cannot load it), or null if it was loaded before
     * @throws IOException if the host ended meanwhile, or the plugin could not be read
     */
    HostProtocol.Loaded load(long id, FrameSource frame) throws IOException, InterruptedException {
        if (loaded.contains(id)) {
            return null;
        }
        CompletableFuture<HostProtocol.Loaded> mine = new CompletableFuture<>();
        CompletableFuture<HostProtocol.Loaded> f = loads.putIfAbsent(id, mine);
        if (f == null) {
            f = mine;
            if (!alive()) {
                throw new IOException("the plugin host has ended");
            }
            try {
                send(frame.get());
            } catch (IOException e) {
                loads.remove(id, mine);
                mine.completeExceptionally(e);
                throw e;
            }
        }
        try {
            return f.get(START_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw new IOException(e.getCause().getMessage());
        } catch (TimeoutException e) {
            // No run is in flight to ping for: a load is the one request the host could sit on unseen.
            die(HostDeath.unexplained(Status.KILLED, "did not answer a load within " + Units.format(START_TIMEOUT) + " and was killed"));
            throw new IOException("the plugin host did not answer a load within " + Units.format(START_TIMEOUT));
        }
    }

    /** Makes a LOAD message; reading the plugin may fail. */
    interface FrameSource {
        Frame get() throws IOException;
    }

    void unload(long id) {
        if (loaded.remove(id)) {
            loads.remove(id);
            try {
                send(HostProtocol.unload(id));
            } catch (IOException e) {
                // The host is ending; it takes the plugin with it.
            }
        }
    }

    /** Ends this host on purpose (no job needs it, or the agent stops); runs in flight get an error. */
    void close(String why) {
        closing = true;
        die(HostDeath.closed(why));
    }

    // ---------------------------------------------------------------- runs

    /**
     * Runs {@code job} in this host and waits for the end: its result, or the host's end.
     *
     * @param pluginId a plugin already {@link #load loaded} here
     */
    HostRun run(long pluginId, io.aegisquartz.config.JobSpec job) throws InterruptedException {
        return run(job, false, id -> HostProtocol.run(new HostProtocol.Run(id, pluginId, job.key(), job.name(), job.pluginRef(), job.args(),
                job.options().timeout().toMillis(), job.options().cpu().toMillis(), job.options().killGrace().toMillis(),
                job.options().outputMax(), job.options().maxSamples(), job.options().maxBytes(), job.options().mem(), job.options().sampler())));
    }

    /**
     * Runs {@code job}'s executable in this host (EXEC) and waits for the end: its outcome, or the host's end.
     *
     * @param pluginId an executable already {@link #load loaded} here
     * @param env      the environment the agent gives it (the host sets HOME to where it runs it)
     */
    HostRun exec(long pluginId, io.aegisquartz.config.JobSpec job, Map<String, String> env) throws InterruptedException {
        io.aegisquartz.config.JobOptions o = job.options();
        return run(job, true, id -> HostProtocol.exec(new HostProtocol.Exec(id, pluginId, job.key(), job.name(), job.args(), env,
                o.timeout().toMillis(), o.cpu().toMillis(), o.killGrace().toMillis(), o.outputMax(), o.memoryMax(), o.pidsMax())));
    }

    private HostRun run(io.aegisquartz.config.JobSpec job, boolean exec, java.util.function.LongFunction<Frame> request) throws InterruptedException {
        HostRun r;
        boolean idleBurn;
        synchronized (this) {
            long cpu = hostCpuNanos();
            idleBurn = runs.isEmpty() && death == null && spunWhileIdle(cpu);
            r = new HostRun(nextRunId++, job, cpu, exec);
            if (death != null) {
                r.death = death;
                r.retry = true;
                r.finish();
                return r;
            }
            runs.put(r.id, r);
        }
        if (idleBurn) {
            die(HostDeath.unexplained(Status.ERROR, "used more than half a core while no plugin ran in it (a thread a plugin left running)"
                    + " and was killed"));
            return r;
        }
        threads();
        try {
            send(request.apply(r.id));
        } catch (IOException e) {
            // The host is gone: its reader reports how, and the run (never started) is run again.
        }
        long deadline = r.sentNanos + job.options().timeout().toNanos() + job.options().killGrace().toNanos() + MARGIN_NANOS
                + (exec ? EXEC_MARGIN_NANOS : 0);
        long step = Math.max(1, config.liveness().toNanos() / 4);
        try {
            while (!r.await(Math.max(1, Math.min(step, deadline - System.nanoTime())))) {
                long now = System.nanoTime();
                HostDeath d = now - deadline >= 0 ? overtime(r) : liveness(now);
                if (d != null) {
                    die(d);
                }
            }
        } catch (InterruptedException e) {
            // The agent is stopping: this run will not be waited for; the host goes with the agent.
            close("was stopped with the agent");
            throw e;
        }
        return r;
    }

    /** The run is past timeout + kill_grace + margin without a result: the host did not stop it. */
    private HostDeath overtime(HostRun r) {
        long cpu = r.hostCpuAtSend < 0 ? -1 : hostCpuNanos() - r.hostCpuAtSend;
        String limits = Units.format(r.job.options().timeout()) + " wall-time limit and " + Units.format(r.job.options().killGrace()) + " kill_grace";
        if (cpu >= r.job.options().cpu().toNanos()) {
            return HostDeath.blaming(r.id, Status.CPU_LIMIT, "cpu_limit: the run used more than its " + Units.format(r.job.options().cpu())
                            + " CPU-time limit and did not stop within its " + limits + "; the plugin host was killed and restarted to stop it",
                    "was killed: job " + r.job.name() + "'s run went past its CPU-time limit and did not stop");
        }
        return HostDeath.blaming(r.id, Status.TIMEOUT, "timeout: the run did not end within its " + limits
                        + "; the plugin host was killed and restarted to stop it",
                "was killed: job " + r.job.name() + "'s run did not end within its limits");
    }

    /** Sends a ping if none is outstanding; the host's death if it has not answered one, or read, within the liveness. */
    private HostDeath liveness(long now) throws InterruptedException {
        long limit = config.liveness().toNanos();
        long seq;
        synchronized (this) {
            if (death != null) {
                return null;
            }
            long since = writingSince;
            if (since != 0 && now - since > limit) {
                return frozen("stopped reading what the agent sends");
            }
            if (pingOutstandingSince != 0) {
                return now - pingOutstandingSince > limit ? frozen("stopped answering") : null;
            }
            seq = ++pingSeq;
            pingOutstandingSeq = seq;
            pingOutstandingSince = now;
        }
        try {
            send(HostProtocol.ping(seq));
        } catch (IOException e) {
            // Its reader sees the end.
        }
        return null;
    }

    private HostDeath frozen(String how) {
        return HostDeath.unexplained(Status.KILLED, how + " for " + Units.format(config.liveness())
                + " while runs were in flight (its threads suspended or deadlocked) and was killed");
    }

    /** Checked when a run is sent to an idle host: did it burn CPU with no run in flight? */
    private boolean spunWhileIdle(long cpuNow) {
        long idle = System.nanoTime() - idleSinceNanos;
        return idleCpuNanos >= 0 && cpuNow >= 0 && idle >= IDLE_CHECK_MIN_NANOS
                && cpuNow - idleCpuNanos > IDLE_CPU_SHARE * idle + TimeUnit.MILLISECONDS.toNanos(200);
    }

    /** Kills a host with more threads than any honest set of runs needs (a plugin leaking them). */
    private void threads() {
        if (process == null) {
            return;
        }
        String[] tasks = new File("/proc/" + pid + "/task").list();
        if (tasks != null && tasks.length > MAX_THREADS) {
            die(HostDeath.unexplained(Status.ERROR, "had " + tasks.length + " threads (at most " + MAX_THREADS
                    + "; plugins left them running) and was killed"));
        }
    }

    /** CPU time of a child host (its threads, and the processes it started and reaped), or -1 (a host of systemd's). */
    long hostCpuNanos() {
        if (process == null) {
            return -1;
        }
        String stat = ProcFiles.read("/proc/" + pid + "/stat");
        if (stat == null) {
            return -1;
        }
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).trim().split(" ");
        return (Long.parseLong(f[11]) + Long.parseLong(f[12]) + Long.parseLong(f[13]) + Long.parseLong(f[14])) * NANOS_PER_TICK;
    }

    // ---------------------------------------------------------------- reading

    private void readLoop() {
        try {
            HostProtocol.Ready r = HostProtocol.readReady(Frame.read(in, HostProtocol.MAX_FROM_HOST));
            if (process != null && r.pid() != process.pid()) {
                throw new ProtocolException("says its pid is " + r.pid() + "; it is " + process.pid());
            }
            pid = r.pid();
            // Ours to set when the agent started it; else the host's word, for messages only.
            heapCap = process != null ? config.heapMax() : r.maxHeap();
            ready.complete(r.pid());
            while (true) {
                Frame f = Frame.read(in, HostProtocol.MAX_FROM_HOST);
                if (f == null) {
                    ended();
                    return;
                }
                handle(f);
            }
        } catch (ProtocolException e) {
            ready.completeExceptionally(new IOException("the plugin host broke the protocol: " + e.getMessage()));
            die(HostDeath.unexplained(Status.ERROR, "sent a message the protocol does not allow (" + LogText.escape(e.getMessage())
                    + ") and was killed"));
        } catch (IOException | RuntimeException e) {
            ended();
        }
    }

    private void handle(Frame f) throws ProtocolException {
        switch (f.type()) {
            case HostProtocol.LOADED -> {
                HostProtocol.Loaded l = HostProtocol.readLoaded(f);
                CompletableFuture<HostProtocol.Loaded> waiting = loads.get(l.pluginId());
                if (waiting == null || waiting.isDone()) {
                    throw new ProtocolException("a load result for plugin " + l.pluginId() + ", which was not being loaded");
                }
                if (l.ok()) {
                    loaded.add(l.pluginId());
                } else {
                    loads.remove(l.pluginId());
                }
                waiting.complete(l);
            }
            case HostProtocol.STARTED -> {
                long id = f.u32();
                f.end();
                synchronized (this) {
                    inFlight(id, HostRun.State.SENT).state = HostRun.State.STARTED;
                }
            }
            case HostProtocol.SAMPLE -> {
                Map.Entry<Long, Measurement> s = HostProtocol.readSample(f);
                HostRun r;
                synchronized (this) {
                    r = inFlight(s.getKey(), HostRun.State.STARTED, false);
                    if (++r.samples > r.job.options().maxSamples() + 1) {
                        throw new ProtocolException("more samples for run " + r.id + " than its cap of " + r.job.options().maxSamples());
                    }
                }
                Measurement m = s.getValue();
                long now = System.currentTimeMillis();
                // The host's clock is the agent's, but its word is not: a time outside the run is replaced by now.
                r.collected.add(m.timeMillis() >= r.sentMillis - 1000 && m.timeMillis() <= now + 1000 ? m
                        : new Measurement(now, m.metric(), m.status(), m.message(), m.values(), m.units(), m.tags()));
            }
            case HostProtocol.LOG -> {
                long id = f.u32();
                int level = f.u8();
                String text = f.str(HostProtocol.MAX_TEXT, "log text");
                f.end();
                if (level < 1 || level > 2) {
                    throw new ProtocolException("log level " + level);
                }
                HostRun r;
                boolean show;
                synchronized (this) {
                    r = inFlight(id, HostRun.State.STARTED, false);
                    if (++r.logs > LOG_LINES_MAX) {
                        throw new ProtocolException("more than " + LOG_LINES_MAX + " log lines in run " + id);
                    }
                    show = r.logs <= LOG_LINES_SHOWN;
                }
                if (show && level == 2) {
                    PLUGIN.warn("job {}: {}", r.job.name(), LogText.escape(text));
                } else if (show) {
                    PLUGIN.info("job {}: {}", r.job.name(), LogText.escape(text));
                }
            }
            case HostProtocol.RESULT -> result(HostProtocol.readResult(f));
            case HostProtocol.EXEC_OUTPUT -> {
                Map.Entry<Long, byte[]> chunk = HostProtocol.readExecOutput(f);
                synchronized (this) {
                    HostRun r = inFlight(chunk.getKey(), HostRun.State.STARTED, true);
                    if (r.stdout.size() + (long) chunk.getValue().length > r.job.options().outputMax()) {
                        throw new ProtocolException("more standard output for run " + r.id + " than its output_max of "
                                + r.job.options().outputMax() + " bytes");
                    }
                    r.stdout.writeBytes(chunk.getValue());
                }
            }
            case HostProtocol.EXEC_RESULT -> execResult(HostProtocol.readExecResult(f, io.aegisquartz.plugin.exec.ExecOutcome.Ending.values().length));
            case HostProtocol.PONG -> {
                long seq = f.i64();
                f.end();
                synchronized (this) {
                    if (seq > pingSeq) {
                        throw new ProtocolException("an answer to ping " + seq + ", which was never sent");
                    }
                    if (seq == pingOutstandingSeq) {
                        pingOutstandingSince = 0;
                    }
                }
            }
            case HostProtocol.ENDING -> {
                long id = f.u32();
                HostProtocol.Why why = HostProtocol.readEndingWhy(f);
                f.end();
                synchronized (this) {
                    HostRun r = runs.get(id);
                    endingWhy = why;
                    // Only a run that has started can be named; anything else is noise from a plugin.
                    endingRun = r != null && r.state == HostRun.State.STARTED ? id : 0;
                }
            }
            default -> throw new ProtocolException("message type " + f.type());
        }
    }

    /** Run {@code id}, which must be in flight in {@code state}. */
    private HostRun inFlight(long id, HostRun.State state) throws ProtocolException {
        HostRun r = runs.get(id);
        if (r == null || r.state != state) {
            throw new ProtocolException("a message for run " + id + ", which is " + (r == null ? "not in flight" : r.state.name().toLowerCase()));
        }
        return r;
    }

    /** As {@link #inFlight(long, HostRun.State)}, and of this kind: an executable's run or an in-JVM plugin's. */
    private HostRun inFlight(long id, HostRun.State state, boolean exec) throws ProtocolException {
        HostRun r = inFlight(id, state);
        if (r.exec != exec) {
            throw new ProtocolException("a message for run " + id + " that only a run of " + (exec ? "an executable" : "a Groovy or JAR plugin")
                    + " may have; it is " + (r.exec ? "an executable's" : "a plugin's"));
        }
        return r;
    }

    /**
     * An executable's outcome. Only its form is checked here; what it means (an exit code with a
     * status, CPU at most the wall time) is the client's, as for a run in the agent.
     */
    private void execResult(HostProtocol.ExecResult res) throws ProtocolException {
        HostRun r;
        synchronized (this) {
            r = inFlight(res.runId(), HostRun.State.STARTED, true);
            io.aegisquartz.plugin.exec.ExecOutcome.Ending ending = io.aegisquartz.plugin.exec.ExecOutcome.Ending.values()[res.ending()];
            if (ending == io.aegisquartz.plugin.exec.ExecOutcome.Ending.EXITED && res.exitCode() < 0) {
                throw new ProtocolException("run " + r.id + " exited without an exit code");
            }
            r.execResult = res;
            r.state = HostRun.State.DONE;
            runs.remove(r.id);
            if (runs.isEmpty()) {
                idleSinceNanos = System.nanoTime();
                idleCpuNanos = hostCpuNanos();
            }
        }
        r.finish();
    }

    private void result(HostProtocol.Result res) throws ProtocolException {
        HostRun r;
        HostDeath kill = null;
        synchronized (this) {
            r = inFlight(res.runId(), HostRun.State.STARTED, false);
            r.result = res;
            r.state = HostRun.State.DONE;
            runs.remove(r.id);
            String grace = Units.format(r.job.options().killGrace());
            if (res.outOfMemory()) {
                r.note = "; the plugin host ran out of memory (heap cap " + Units.formatBytes(heapCap) + ") and was restarted";
                kill = HostDeath.blaming(r.id, Status.ERROR, null, "ran out of memory in job " + r.job.name() + "'s run");
            } else if (res.abandoned()) {
                r.note = "; its thread ignored the interrupt for " + grace + ", so the plugin host was killed and restarted to stop it";
                kill = HostDeath.blaming(r.id, Status.ERROR, null, "was killed: job " + r.job.name() + "'s thread would not stop");
            } else if (res.threadsLeft() > 0) {
                r.note = "; the run left " + res.threadsLeft() + " thread(s) running after it ended ("
                        + LogText.escape(res.threads() == null ? "" : res.threads()) + "), so the plugin host was killed and restarted to stop them";
                kill = HostDeath.blaming(r.id, Status.ERROR, null, "was killed: job " + r.job.name() + "'s run left threads running");
            }
            if (runs.isEmpty() && kill == null) {
                idleSinceNanos = System.nanoTime();
                idleCpuNanos = hostCpuNanos();
            }
        }
        r.finish();
        if (kill != null) {
            die(kill);
        }
    }

    /** The host's output ended: it exited, halted, crashed or closed the connection. Says how, as far as the agent can tell. */
    private void ended() {
        Integer code = null;
        if (process != null) {
            try {
                if (process.waitFor(2, TimeUnit.SECONDS)) {
                    code = process.exitValue();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (closing) {
            die(HostDeath.closed("stopped"));
            return;
        }
        HostProtocol.Why why;
        long run;
        synchronized (this) {
            why = endingWhy;
            run = endingRun;
        }
        String exit = code == null ? "" : " (exit code " + code + ")";
        HostDeath d;
        if (why == HostProtocol.Why.OUT_OF_MEMORY) {
            String what = "ran out of memory (heap cap " + Units.formatBytes(heapCap) + ")";
            d = run != 0 ? HostDeath.blaming(run, Status.ERROR, "out of memory: the plugin host " + what + " during this run and was restarted", what)
                    : HostDeath.unexplained(Status.ERROR, what);
        } else if (why == HostProtocol.Why.EXIT_CALLED) {
            String what = "exited" + exit + ": a plugin called System.exit";
            d = run != 0 ? HostDeath.blaming(run, Status.ERROR, "the plugin called System.exit: the plugin host exited" + exit + " and was restarted", what)
                    : HostDeath.unexplained(Status.ERROR, what);
        } else if (code != null && code > 128) {
            d = HostDeath.unexplained(Status.KILLED, "was killed by signal " + (code - 128) + " (not by the agent)");
        } else if (code != null && code == HostSession.EXIT_STUCK) {
            d = HostDeath.unexplained(Status.TIMEOUT, "stopped itself" + exit + ": a run did not end within its limits");
        } else if (code != null) {
            d = HostDeath.unexplained(Status.ERROR, "ended" + exit + " without running its shutdown hooks (Runtime.halt, or a crash)");
        } else {
            d = HostDeath.unexplained(Status.ERROR, "closed its connection");
        }
        die(d);
    }

    private void readStderr() {
        byte[] buf = new byte[4096];
        long total = 0;
        try (InputStream err = process.getErrorStream()) {
            int n;
            while ((n = err.read(buf)) > 0) {
                total += n;
                synchronized (stderrTail) {
                    stderrTail.append(new String(buf, 0, n, StandardCharsets.UTF_8));
                    if (stderrTail.length() > 2048) {
                        stderrTail.delete(0, stderrTail.length() - 2048);
                    }
                }
                if (total > STDERR_MAX) {
                    die(HostDeath.unexplained(Status.ERROR, "wrote more than " + Units.formatBytes(STDERR_MAX)
                            + " to its standard error and was killed"));
                    return;
                }
            }
        } catch (IOException e) {
            // The host ended; its reader says how.
        }
    }

    private String stderrNote() {
        String tail;
        synchronized (stderrTail) {
            tail = stderrTail.toString().strip();
        }
        if (tail.isEmpty()) {
            return "";
        }
        String last = tail.substring(tail.lastIndexOf('\n') + 1);
        return "; its last words: " + LogText.escape(last);
    }

    // ---------------------------------------------------------------- writing

    void send(Frame f) throws IOException {
        writing.lock();
        writingSince = System.nanoTime();
        try {
            f.writeTo(out);
        } finally {
            writingSince = 0;
            writing.unlock();
        }
    }

    // ---------------------------------------------------------------- the end

    /**
     * Ends this host for {@code d} (the first reason wins): kills it, decides for each run in flight
     * whether it is reported or run again, and wakes their workers.
     */
    void die(HostDeath d) {
        List<HostRun> inFlight;
        synchronized (this) {
            if (death != null) {
                return;
            }
            death = d;
            inFlight = new ArrayList<>(runs.values());
            runs.clear();
            long started = inFlight.stream().filter(r -> r.state == HostRun.State.STARTED && r.id != d.culprit()).count();
            for (HostRun r : inFlight) {
                r.death = d;
                if (r.id == d.culprit() || d.expected()) {
                    r.retry = false;
                } else if (d.culprit() != 0 || r.state == HostRun.State.SENT) {
                    // Innocent: the culprit is known, or none of its code had run yet.
                    r.retry = true;
                } else if (started == 1) {
                    r.retry = false; // the only run that could have done it
                } else {
                    r.retry = true;
                    r.retryAlone = true;
                }
            }
        }
        try {
            kill();
            IOException gone = new IOException("the plugin host " + d.what());
            ready.completeExceptionally(gone);
            loads.values().forEach(f -> f.completeExceptionally(gone));
            log(d, inFlight);
        } finally {
            // Whatever went wrong above, no worker may be left waiting for a host that is gone.
            inFlight.forEach(HostRun::finish);
            onEnd.accept(this);
        }
    }

    private void kill() {
        if (process != null) {
            List<ProcessHandle> started = process.descendants().toList();
            process.destroyForcibly();
            started.forEach(ProcessHandle::destroyForcibly);
        } else {
            try {
                channel.close();
            } catch (IOException e) {
                // Closed either way.
            }
        }
        try {
            out.close();
        } catch (IOException e) {
            // The host is gone.
        }
    }

    private void log(HostDeath d, List<HostRun> inFlight) {
        String host = "plugin host" + (pid > 0 ? " (pid " + pid + ")" : "");
        if (d.expected()) {
            LOG.info("{} {}", host, d.what());
            return;
        }
        List<String> runsNote = new ArrayList<>();
        for (HostRun r : inFlight) {
            runsNote.add("job " + r.job.name() + (r.retry ? (r.retryAlone ? ": run again alone" : ": run again") : ": reported as " + d.status().wire()));
        }
        LOG.error("{} {}{}{}", host, d.what(), stderrNote(), runsNote.isEmpty() ? "" : "; in flight: " + String.join(", ", runsNote));
    }
}
