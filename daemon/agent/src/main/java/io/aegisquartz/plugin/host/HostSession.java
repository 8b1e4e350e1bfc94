package io.aegisquartz.plugin.host;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import io.aegisquartz.config.JobOptions;
import io.aegisquartz.config.JobSource;
import io.aegisquartz.config.JobSpec;
import io.aegisquartz.plugin.AbandonedThreads;
import io.aegisquartz.plugin.InJvmPlugin;
import io.aegisquartz.plugin.InJvmRunner;
import io.aegisquartz.plugin.JobMemory;
import io.aegisquartz.plugin.MeasurementCollector;
import io.aegisquartz.plugin.PluginException;
import io.aegisquartz.plugin.PrefixClassLoader;
import io.aegisquartz.plugin.RunnerThreads;
import io.aegisquartz.plugin.exec.CgroupRuns;
import io.aegisquartz.plugin.exec.ExecOutcome;
import io.aegisquartz.plugin.exec.ExecSpec;
import io.aegisquartz.plugin.exec.ProcessRunner;
import io.aegisquartz.plugin.groovy.CompiledScripts;
import io.aegisquartz.plugin.groovy.GroovyPlugin;
import io.aegisquartz.plugin.groovy.GroovyRuntime;
import io.aegisquartz.plugin.jar.JarPlugin;
import io.aegisquartz.sample.Measurement;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The plugin host's side of the protocol (docs/PLUGIN-HOST.md): loads the plugins the agent sends,
 * runs them under their limits exactly as the agent would in its own JVM, and reports what they
 * emitted and how each run ended, including what the agent cannot see from outside: which run called
 * System.exit, ran out of memory or left threads behind.
 *
 * <p>Each run gets a thread group of its own, so that threads a plugin starts are attributed to its
 * run (they inherit the group) and found if they outlive it. Nothing here is trusted by the agent: a
 * plugin can tamper with any of it; the agent checks what it is told and enforces its own limits.
 */
final class HostSession {

    /** Exit codes of a host that ends itself; the agent's log shows them. */
    static final int EXIT_AGENT_GONE = 0;
    static final int EXIT_BAD_AGENT = 2;
    static final int EXIT_OUT_OF_MEMORY = 3;
    static final int EXIT_STUCK = 70;
    static final int EXIT_DEAF = 71;

    /** How much later than the agent the host stops a run that will not end: the agent should act first, it knows more. */
    static final long MARGIN_NANOS = TimeUnit.SECONDS.toNanos(2);

    /** One run in flight. */
    record RunState(long id, String jobName, ThreadGroup group, long startNanos, long hardDeadlineNanos) {
    }

    private final OutputStream out;
    private final ReentrantLock writing = new ReentrantLock();
    private final PrintStream stderr;
    private final Path heartbeat;
    private final ThreadGroup runsGroup = new ThreadGroup("aegis-runs");
    private final ThreadGroup hostGroup = new ThreadGroup("aegis-host");
    private final RunnerThreads threads = new RunnerThreads(16, hostGroup);
    /** The threads that start runs and wait for them, kept for the next run: a run costs one new thread, its plugin's, as in the agent. */
    private final java.util.concurrent.ExecutorService waiters = new java.util.concurrent.ThreadPoolExecutor(0, Integer.MAX_VALUE, 60,
            TimeUnit.SECONDS, new java.util.concurrent.SynchronousQueue<>(), r -> {
                Thread t = new Thread(hostGroup, r, "aegis-run", 256 * 1024);
                t.setDaemon(true);
                return t;
            });
    /**
     * For a plugin's exec(): sessions only. The host's cgroup is the agent's (a child) or its unit's, not
     * the host's to divide; the processes end with the host's cgroup or are killed with it.
     */
    private final ProcessRunner processes = new ProcessRunner(threads, CgroupRuns.none("in the plugin host, exec() runs are tracked by their session"));
    /**
     * For executables the agent sends (EXEC): the agent's own runner, with a cgroup per run where this
     * host's cgroup is delegated to it (the exec host's unit has Delegate=yes), found at the first run.
     */
    private final ProcessRunner executableRunner = new ProcessRunner(threads);
    private final InJvmRunner runner = new InJvmRunner(new AbandonedThreads());
    /**
     * The parent of every Groovy script's class loader: the JDK, the plugin API and what a compiled
     * script links to (Groovy's runtime, its base class, the budget check woven into it), nothing else
     * of the agent's code, as for JARs.
     */
    private final ClassLoader scriptParent = new PrefixClassLoader("aegis-script-api", HostSession.class.getClassLoader(),
            List.of("io.aegisquartz.api.", "groovy.", "org.codehaus.groovy.", "org.apache.groovy.", "io.aegisquartz.plugin.groovy.AegisScript",
                    "io.aegisquartz.plugin.RunBudget"),
            "plugins in the plugin host see only the JDK, Groovy and io.aegisquartz.api.*");
    private final Map<Long, InJvmPlugin> plugins = new ConcurrentHashMap<>();
    /** Executables by plugin id: where each runs (in place, or the host's own copy). */
    private final Map<Long, Path> executables = new ConcurrentHashMap<>();
    /** Only the reading thread starts runs, so no lock: whether the first EXEC has said how runs are isolated. */
    private boolean isolationSaid;
    private final Map<String, JobMemory> memories = new ConcurrentHashMap<>();
    private final Map<Long, RunState> runs = new ConcurrentHashMap<>();
    private final Map<ThreadGroup, RunState> byGroup = new ConcurrentHashMap<>();
    private volatile GroovyRuntime.Warmup groovy;
    private HostWatchdog watchdog;

    HostSession(OutputStream out, Path heartbeat, PrintStream stderr) {
        this.out = out;
        this.heartbeat = heartbeat;
        this.stderr = stderr;
    }

    /** Serves the agent on {@code in} until it closes; never returns normally (the host halts). */
    void serve(InputStream in) throws IOException {
        long liveness = HostProtocol.readHello(Frame.read(in, HostProtocol.MAX_TO_HOST));
        forwardPluginLogs();
        Runtime.getRuntime().addShutdownHook(new Thread(this::exitCalled, "aegis-host-exit"));
        Thread.setDefaultUncaughtExceptionHandler(this::uncaught);
        watchdog = new HostWatchdog(this, TimeUnit.MILLISECONDS.toNanos(Math.max(1, liveness)), heartbeat);
        watchdog.start();
        send(HostProtocol.ready(ProcessHandle.current().pid(), Runtime.getRuntime().maxMemory()));
        while (true) {
            Frame f = Frame.read(in, HostProtocol.MAX_TO_HOST);
            if (f == null) {
                halt(EXIT_AGENT_GONE, null);
            }
            switch (f.type()) {
                case HostProtocol.LOAD -> load(HostProtocol.readLoad(f));
                case HostProtocol.UNLOAD -> {
                    long id = f.u32();
                    f.end();
                    unload(id);
                }
                case HostProtocol.RUN -> start(HostProtocol.readRun(f));
                case HostProtocol.EXEC -> startExec(HostProtocol.readExec(f));
                case HostProtocol.PING -> {
                    long seq = f.i64();
                    f.end();
                    watchdog.pinged();
                    send(HostProtocol.pong(seq));
                }
                default -> throw new ProtocolException("message type " + f.type());
            }
        }
    }

    Collection<RunState> runs() {
        return runs.values();
    }

    // ---------------------------------------------------------------- plugins

    private void load(HostProtocol.Load l) {
        Path file = Path.of(l.file());
        if (l.kind() == HostProtocol.KIND_EXEC) {
            loadExecutable(l, file);
            return;
        }
        try {
            InJvmPlugin p;
            List<String> samplers;
            if (l.kind() == HostProtocol.KIND_GROOVY) {
                if (groovy == null) {
                    groovy = GroovyRuntime.warmUp();
                }
                p = GroovyPlugin.define(file, new CompiledScripts.Entry(l.mainClass(), l.classes()), scriptParent, runner, processes);
                samplers = List.of();
            } else {
                JarPlugin jar = JarPlugin.open(file, MemoryJarLoader.of("plugin " + file.getFileName(), l.jar(), JarPlugin.apiOnlyParent()),
                        runner, processes);
                p = jar;
                samplers = jar.samplerClasses();
            }
            plugins.put(l.pluginId(), p);
            send(HostProtocol.loaded(l.pluginId(), samplers));
        } catch (PluginException e) {
            send(HostProtocol.loadFailed(l.pluginId(), e.getMessage(), e.fix()));
        } catch (IOException e) {
            send(HostProtocol.loadFailed(l.pluginId(), file + " cannot be read as a JAR: " + e.getMessage(), "check that it is a JAR (zip) file"));
        } catch (RuntimeException | LinkageError e) {
            send(HostProtocol.loadFailed(l.pluginId(), "cannot load " + file + " in the plugin host: " + e, null));
        }
    }

    /**
     * An executable runs where it is, or, when the agent sent its bytes (a file this host's user cannot
     * read), from a copy in a directory of the host's own temporary directory that only its user can enter.
     */
    private void loadExecutable(HostProtocol.Load l, Path file) {
        if (l.jar() == null) {
            executables.put(l.pluginId(), file);
            send(HostProtocol.loaded(l.pluginId(), List.of()));
            return;
        }
        try {
            Path dir = Files.createTempDirectory("aegis-exec-" + l.pluginId() + "-",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            Path copy = dir.resolve(file.getFileName().toString());
            Files.write(copy, l.jar());
            Files.setPosixFilePermissions(copy, PosixFilePermissions.fromString("r-x------"));
            Path old = executables.put(l.pluginId(), copy);
            if (old != null && !old.equals(copy)) {
                deleteCopy(old);
            }
            send(HostProtocol.loaded(l.pluginId(), List.of()));
        } catch (IOException | RuntimeException e) {
            send(HostProtocol.loadFailed(l.pluginId(), "the exec host cannot copy " + file + ": " + e.getMessage(),
                    "check the space in the exec host's temporary directory"));
        }
    }

    private static void deleteCopy(Path copy) {
        if (copy.getParent() != null && copy.getParent().getFileName().toString().startsWith("aegis-exec-")) {
            try {
                Files.deleteIfExists(copy);
                Files.deleteIfExists(copy.getParent());
            } catch (IOException e) {
                // The host's private temporary directory goes with its unit.
            }
        }
    }

    private void unload(long id) {
        Path exe = executables.remove(id);
        if (exe != null) {
            deleteCopy(exe);
        }
        InJvmPlugin p = plugins.remove(id);
        memories.keySet().removeIf(k -> k.endsWith("\u0000" + id));
        if (p instanceof AutoCloseable c) {
            try {
                c.close();
            } catch (Exception e) {
                // Only file handles and class loaders; dropped with the plugin either way.
            }
        }
    }

    // ---------------------------------------------------------------- runs

    private void start(HostProtocol.Run r) throws ProtocolException {
        InJvmPlugin p = plugins.get(r.pluginId());
        if (p == null) {
            throw new ProtocolException("a run of plugin " + r.pluginId() + ", which was never loaded");
        }
        ThreadGroup g = new ThreadGroup(runsGroup, "run-" + r.runId());
        long now = System.nanoTime();
        long limit = TimeUnit.MILLISECONDS.toNanos(r.timeoutMillis() + r.graceMillis());
        RunState st = new RunState(r.runId(), r.jobName(), g, now, now + limit + MARGIN_NANOS);
        runs.put(r.runId(), st);
        byGroup.put(g, st);
        waiters.execute(() -> execute(r, p, st));
        watchdog.wake();
    }

    private void startExec(HostProtocol.Exec e) throws ProtocolException {
        Path file = executables.get(e.pluginId());
        if (file == null) {
            throw new ProtocolException("a run of executable " + e.pluginId() + ", which was never loaded");
        }
        if (!isolationSaid) {
            // Once, for the journal under the packaged service: what runs get in this host (cgroup or session).
            isolationSaid = true;
            stderr.println("aegis-quartz exec host: executables: " + executableRunner.isolation());
            stderr.flush();
        }
        ThreadGroup g = new ThreadGroup(runsGroup, "run-" + e.runId());
        long now = System.nanoTime();
        long limit = TimeUnit.MILLISECONDS.toNanos(e.timeoutMillis() + e.graceMillis());
        // The runner stops the run at its limits; the watchdog's deadline is a backstop, after the agent's (HostConnection.EXEC_MARGIN_NANOS).
        RunState st = new RunState(e.runId(), e.jobName(), g, now, now + limit + MARGIN_NANOS + HostConnection.EXEC_MARGIN_NANOS);
        runs.put(e.runId(), st);
        byGroup.put(g, st);
        waiters.execute(() -> executeExec(e, file, st));
        watchdog.wake();
    }

    /** Runs an executable as the agent would, then sends its standard output in chunks and the outcome. */
    private void executeExec(HostProtocol.Exec e, Path file, RunState st) {
        try {
            send(HostProtocol.started(e.runId()));
            List<String> command = new ArrayList<>(e.args().size() + 1);
            command.add(file.toString());
            command.addAll(e.args());
            Path dir = file.getParent() != null && Files.isExecutable(file.getParent()) ? file.getParent()
                    : Path.of(System.getProperty("java.io.tmpdir"));
            Map<String, String> env = new LinkedHashMap<>(e.env());
            // The agent's HOME is the plugin's folder there, which this host may not be able to enter.
            env.put("HOME", dir.toString());
            ExecSpec spec = new ExecSpec(command, dir, env, Duration.ofMillis(e.timeoutMillis()),
                    Duration.ofMillis(e.cpuMillis()), Duration.ofMillis(e.graceMillis()), e.outputMax(), null, e.memoryMax(), e.pidsMax(), e.jobKey());
            ExecOutcome o = executableRunner.run(spec);
            byte[] out = o.stdout();
            List<Frame> frames = new ArrayList<>(out.length / HostProtocol.MAX_OUTPUT_CHUNK + 2);
            for (int off = 0; off < out.length; off += HostProtocol.MAX_OUTPUT_CHUNK) {
                frames.add(HostProtocol.execOutput(e.runId(), out, off, Math.min(HostProtocol.MAX_OUTPUT_CHUNK, out.length - off)));
            }
            frames.add(HostProtocol.execResult(new HostProtocol.ExecResult(e.runId(), o.ending().ordinal(), o.exitCode(), o.detail(), o.truncated(),
                    o.stderr(), o.wallNanos(), o.cpuNanos())));
            send(frames);
        } catch (InterruptedException ie) {
            // Only the host's own end interrupts a run thread.
        } finally {
            runs.remove(st.id());
            byGroup.remove(st.group());
        }
    }

    private void execute(HostProtocol.Run r, InJvmPlugin p, RunState st) {
        try {
            if (p instanceof GroovyPlugin && groovy != null) {
                groovy.await();
            }
            // Before any of the plugin's code runs: a run the agent never saw start cannot be what broke the host.
            send(HostProtocol.started(r.runId()));
            JobSpec job = spec(r, p);
            MeasurementCollector collected = new MeasurementCollector(r.maxSamples(), r.maxBytes());
            InJvmRunner.Outcome o = p.execute(st.group(), job, memories.computeIfAbsent(r.jobKey() + "\u0000" + r.pluginId(), k -> new JobMemory()),
                    collected);
            String error = o.ending() == InJvmRunner.Ending.THREW ? p.describe(o.error()) : null;
            List<Measurement> measurements = collected.finish(job.defaultMetric());
            List<Thread> left = leftBehind(st.group(), o.abandoned() ? "plugin " + job.name() : null, r.graceMillis());
            boolean truncated = collected.truncated();
            List<Frame> frames = new ArrayList<>(measurements.size() + 1);
            for (Measurement m : measurements) {
                Frame f = HostProtocol.sample(r.runId(), m);
                if (f == null) {
                    truncated = true;
                } else {
                    frames.add(f);
                }
            }
            frames.add(HostProtocol.result(new HostProtocol.Result(r.runId(), HostProtocol.Ending.valueOf(o.ending().name()), error, o.abandoned(),
                    o.wallNanos(), o.cpuNanos(), o.allocatedBytes(), truncated, left.size(), describe(left), o.error() instanceof OutOfMemoryError)));
            send(frames);
        } catch (InterruptedException e) {
            // Only the host's own end interrupts a run thread.
        } finally {
            runs.remove(st.id());
            byGroup.remove(st.group());
        }
    }

    /** The job as the plugin sees it. Its folder is the plugin's, where the host may enter it, else the host's temp dir (exec()'s working directory). */
    private static JobSpec spec(HostProtocol.Run r, InJvmPlugin p) {
        JobOptions options = new JobOptions(Duration.ofMillis(r.timeoutMillis()), Duration.ofMillis(r.cpuMillis()), Duration.ofMillis(r.graceMillis()),
                r.outputMax(), r.maxSamples(), JobOptions.Overlap.SKIP, JobOptions.Misfire.SKIP, r.sampler(), null, 0, 0, r.mem(), r.maxBytes(), Duration.ZERO,
                JobOptions.Isolation.HOST);
        Path file = p.file();
        Path dir = file.getParent();
        Path seen = dir != null && Files.isExecutable(dir) ? file : Path.of(System.getProperty("java.io.tmpdir")).resolve(file.getFileName());
        return new JobSpec(JobSource.USER, Path.of("(agent)"), 0, r.jobKey(), r.jobName(), "* * * * * ?", r.pluginRef(), seen, 1, r.args(), options);
    }

    /**
     * Threads of the run's group still alive once the run has ended, other than this one and an
     * abandoned plugin thread (reported as such): each gets up to the kill grace in all to finish.
     */
    private static List<Thread> leftBehind(ThreadGroup g, String abandonedName, long graceMillis) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(graceMillis);
        while (true) {
            Thread[] all = new Thread[g.activeCount() + 8];
            int n = g.enumerate(all, true);
            List<Thread> alive = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                Thread t = all[i];
                if (t != Thread.currentThread() && t.isAlive() && !(abandonedName != null && t.getName().equals(abandonedName))) {
                    alive.add(t);
                }
            }
            long left = end - System.nanoTime();
            if (alive.isEmpty() || left <= 0) {
                return alive;
            }
            alive.get(0).join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
        }
    }

    private static String describe(List<Thread> threads) {
        if (threads.isEmpty()) {
            return null;
        }
        List<String> names = new ArrayList<>();
        for (Thread t : threads.subList(0, Math.min(5, threads.size()))) {
            names.add("'" + t.getName() + "' (" + t.getState().name().toLowerCase() + ")");
        }
        return String.join(", ", names) + (threads.size() > 5 ? " and " + (threads.size() - 5) + " more" : "");
    }

    /** The run whose thread group {@code t} is in, or null (a thread of the host's own). */
    RunState runOf(Thread t) {
        for (ThreadGroup g = t.getThreadGroup(); g != null; g = g.getParent()) {
            RunState st = byGroup.get(g);
            if (st != null) {
                return st;
            }
        }
        return null;
    }

    // ---------------------------------------------------------------- the host's own end

    /** Shutdown hook: if a plugin called System.exit (or Runtime.exit), tell the agent which run did. */
    private void exitCalled() {
        RunState culprit = null;
        for (Map.Entry<Thread, StackTraceElement[]> e : Thread.getAllStackTraces().entrySet()) {
            for (StackTraceElement frame : e.getValue()) {
                if (frame.getClassName().equals("java.lang.Shutdown") && frame.getMethodName().equals("exit")) {
                    culprit = runOf(e.getKey());
                }
            }
        }
        trySend(HostProtocol.ending(culprit == null ? 0 : culprit.id(), HostProtocol.Why.EXIT_CALLED));
    }

    /** Out of memory outside a run's own handling: say in which run, if any, then end at once. */
    private void uncaught(Thread t, Throwable e) {
        if (e instanceof OutOfMemoryError) {
            RunState st = runOf(t);
            trySend(HostProtocol.ending(st == null ? 0 : st.id(), HostProtocol.Why.OUT_OF_MEMORY));
            halt(EXIT_OUT_OF_MEMORY, "out of memory in thread '" + t.getName() + "'");
        }
        stderr.println("uncaught in thread '" + t.getName() + "': " + e);
    }

    /** Ends the host now, without shutdown hooks, after one line on standard error. */
    void halt(int code, String why) {
        if (why != null) {
            stderr.println("aegis-quartz plugin host: " + why + "; ending (exit code " + code + ")");
            stderr.flush();
        }
        Runtime.getRuntime().halt(code);
    }

    // ---------------------------------------------------------------- writing to the agent

    /** Sends one message; if the agent is gone, there is nothing left to do but end. */
    void send(Frame f) {
        send(List.of(f));
    }

    /** Sends messages in one write where they fit (a run's samples and result); they are not interleaved with others. */
    void send(List<Frame> frames) {
        writing.lock();
        try {
            for (Frame f : frames) {
                f.writeTo(out, false);
            }
            out.flush();
        } catch (IOException e) {
            halt(EXIT_AGENT_GONE, null);
        } finally {
            writing.unlock();
        }
    }

    /** Sends one message unless the channel stays busy for a second (its writer may be a suspended thread). */
    private void trySend(Frame f) {
        try {
            if (writing.tryLock(1, TimeUnit.SECONDS)) {
                try {
                    f.writeTo(out);
                } finally {
                    writing.unlock();
                }
            }
        } catch (IOException | InterruptedException e) {
            // The host is ending either way.
        }
    }

    /**
     * Plugins log through the "plugin" logger (RunContext); here those lines go to the agent, tagged
     * with the run whose thread wrote them. Everything else stays at warnings on standard error.
     */
    private void forwardPluginLogs() {
        LoggerContext ctx = (LoggerContext) LoggerFactory.getILoggerFactory();
        AppenderBase<ILoggingEvent> toAgent = new AppenderBase<>() {
            @Override
            protected void append(ILoggingEvent e) {
                RunState st = runOf(Thread.currentThread());
                if (st != null) {
                    String text = e.getFormattedMessage();
                    String prefix = "job " + st.jobName() + ": ";
                    send(HostProtocol.log(st.id(), e.getLevel().isGreaterOrEqual(Level.WARN), text.startsWith(prefix)
                            ? text.substring(prefix.length()) : text));
                }
            }
        };
        toAgent.setContext(ctx);
        toAgent.start();
        ch.qos.logback.classic.Logger plugin = ctx.getLogger("plugin");
        plugin.setLevel(Level.INFO);
        plugin.setAdditive(false);
        plugin.addAppender(toAgent);
    }
}
