package io.aegisquartz.plugin.exec;

import io.aegisquartz.config.RunAs;
import io.aegisquartz.config.Units;
import io.aegisquartz.plugin.RunnerThreads;
import io.aegisquartz.plugin.exec.ExecOutcome.Ending;

import java.io.Closeable;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs a command under a wall-time and a CPU-time limit, in a cgroup of its own where the host gives
 * the agent one ({@link CgroupRuns}) and in a process session of its own always, and makes sure nothing
 * it started outlives it.
 *
 * <p>The command is started as {@code setsid /bin/sh -c WRAPPER ...}. The wrapper first waits for one
 * line on its standard input: meanwhile the agent opens the wrapper's output pipes for itself (as
 * {@link FileChannel}s, see {@link PipeReader}) and moves the wrapper into the run's cgroup, so the
 * plugin starts inside it. The wrapper then turns its standard input into the run's <em>status
 * channel</em>: it opens a writer of that pipe as fd 3 (which only the agent reads now), sets
 * RLIMIT_CPU and RLIMIT_CORE, runs the command with fd 3 closed, and writes the command's exit status
 * and {@code times} to fd 3. Nothing the plugin prints can pass for that report: stdout and stderr
 * are the plugin's, fd 3 is not. If the wrapper dies before reporting (the plugin killed it), the run
 * is reported as killed and everything left of it is killed.
 *
 * <p>After the wrapper exits, every process of the run is killed: with {@code cgroup.kill} (setsid
 * and double forks included), else by scanning the session. CPU time comes from the cgroup's
 * {@code cpu.stat} (exact for the whole tree), else from the wrapper's {@code times} (the command and
 * the children it reaped), else from the session's processes still alive. At the wall-time limit every
 * process of the run gets SIGTERM, and SIGKILL after the grace time.
 *
 * <p>Output: standard output is kept up to {@code outputMax} bytes, standard error's first and last
 * few KiB up to {@link #STDERR_READ_MAX}; past either the agent closes that pipe, so the plugin gets
 * SIGPIPE instead of the agent reading and dropping what it writes. A pipe still held after the run by
 * a process that escaped it (possible only without a cgroup) is closed on the agent's side, so its
 * reader is free again and the run reports it.
 *
 * <p>Plain Java on top of {@link RunnerThreads}: nothing here knows the agent, so a process other than
 * the agent can run executables the same way.
 */
public final class ProcessRunner {

    /** Exit code of the wrapper when it could not set up the run (the command never started). */
    static final int WRAPPER_FAILED = 125;
    /** Bytes of standard error read per run at most; the first {@link #STDERR_HEAD} and last {@link #STDERR_TAIL} are kept. */
    public static final int STDERR_READ_MAX = 1 << 20;
    static final int STDERR_HEAD = 4 * 1024;
    static final int STDERR_TAIL = 16 * 1024;

    private static final String WRAPPER = String.join("\n",
            "read -r _ || exit " + WRAPPER_FAILED,
            "command exec 3>/proc/self/fd/0 0</dev/null || exit " + WRAPPER_FAILED,
            "ulimit -c 0 2>/dev/null",
            // Soft first: lowering the hard limit below the current soft one fails with EINVAL.
            "ulimit -S -t \"$1\" && ulimit -H -t \"$2\" || { echo 'e cannot set RLIMIT_CPU' >&3; exit " + WRAPPER_FAILED + "; }",
            "shift 2",
            "\"$@\" 3>&-",
            "echo \"x $?\" >&3",
            // 'times' must run in this shell, not in a subshell, to see the command's CPU time.
            "times >&3",
            // The plugin's process group at once; the agent then kills the rest of the run.
            "kill -s KILL 0");
    private static final Pattern TIMES = Pattern.compile("(\\d+)m([0-9.]+)s\\s+(\\d+)m([0-9.]+)s");

    /** Runs in progress in this JVM; killed if the JVM exits under them. */
    private static final java.util.Set<RunScope> LIVE = java.util.concurrent.ConcurrentHashMap.newKeySet();

    static {
        // Plugins run in sessions (and cgroups) of their own, so nothing else would end them when this
        // JVM exits (run-plugin interrupted, an agent exiting on OutOfMemoryError): do it on the way out.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> LIVE.forEach(s -> {
            s.kill();
            s.close();
        }), "aegis-plugin-reaper"));
    }

    private final RunnerThreads threads;
    private final Supplier<CgroupRuns> cgroupSource;
    private volatile CgroupRuns cgroups;
    private final String setsid;
    private final String setpriv;
    /** Ambient capabilities (the packaged service's CAP_SYS_PTRACE...) are for the agent, never for its plugins. */
    private final boolean dropCapabilities;

    /** A runner that gives each run a cgroup where this host lets the agent ({@link CgroupRuns#detect()}, at first use). */
    public ProcessRunner(RunnerThreads threads) {
        this(threads, CgroupRuns::detect);
    }

    /** A runner whose runs get cgroups from {@code cgroups} ({@link CgroupRuns#none} for sessions only). */
    public ProcessRunner(RunnerThreads threads, CgroupRuns cgroups) {
        this(threads, () -> cgroups);
    }

    private ProcessRunner(RunnerThreads threads, Supplier<CgroupRuns> cgroups) {
        this.threads = threads;
        this.cgroupSource = cgroups;
        this.setsid = find("setsid");
        this.setpriv = find("setpriv");
        this.dropCapabilities = RunAs.agentHasAmbientCapabilities();
    }

    /** How runs are isolated on this host, for the log at start (finds out if not done yet). */
    public String isolation() {
        return cgroups().describe();
    }

    private CgroupRuns cgroups() {
        CgroupRuns c = cgroups;
        if (c == null) {
            synchronized (this) {
                c = cgroups;
                if (c == null) {
                    c = cgroupSource.get();
                    cgroups = c;
                }
            }
        }
        return c;
    }

    /** Null if this host can run plugins; otherwise what is missing. */
    public String environmentProblem() {
        if (setsid == null) {
            return "setsid not found in /usr/bin or /bin (install util-linux); executables cannot be isolated";
        }
        if (!Files.isExecutable(Path.of("/bin/sh"))) {
            return "/bin/sh not found; executables cannot be run";
        }
        if (dropCapabilities && setpriv == null) {
            return "setpriv not found in /usr/bin or /bin (install util-linux); the agent holds ambient capabilities "
                    + "and will not pass them to plugins";
        }
        return null;
    }

    /** Runs {@code spec} to its end or its limits. Interrupting the caller kills the command. */
    public ExecOutcome run(ExecSpec spec) throws InterruptedException {
        String problem = environmentProblem();
        if (problem != null) {
            return notStarted(problem);
        }
        List<String> argv = argv(spec);
        if (argv == null) {
            return notStarted("setpriv not found in /usr/bin or /bin (install util-linux); cannot run as user "
                    + (spec.user() == null ? "(agent's, without capabilities)" : spec.user().name()));
        }
        if (!threads.reserve(spec.owner(), 2)) {
            return notStarted(spec.owner() == null ? "too many plugin output pipes open at once; run refused"
                    : "this job already runs " + RunnerThreads.READERS_PER_OWNER / 2 + " commands at once; run refused");
        }
        try {
            return start(spec, argv);
        } finally {
            threads.release(spec.owner(), 2);
        }
    }

    private List<String> argv(ExecSpec spec) {
        long cpuSoft = Math.max(1, (spec.cpu().toMillis() + 999) / 1000);
        List<String> argv = new ArrayList<>(spec.command().size() + 12);
        argv.add(setsid);
        argv.add("/bin/sh");
        argv.add("-c");
        argv.add(WRAPPER);
        argv.add("aegis-run");
        argv.add(Long.toString(cpuSoft));
        // One extra second between SIGXCPU and SIGKILL lets a plugin that handles SIGXCPU say so.
        argv.add(Long.toString(cpuSoft + 1));
        if (spec.user() != null || dropCapabilities) {
            if (setpriv == null) {
                return null;
            }
            // After the wrapper's setrlimit (limits survive the switch), so the plugin cannot raise them back.
            argv.add(setpriv);
            // Switching to the agent's own account would only fail (setgroups needs CAP_SETGID) and change nothing.
            if (spec.user() != null && spec.user().uid() != io.aegisquartz.config.StrictModes.ownUid()) {
                argv.add("--reuid=" + spec.user().uid());
                argv.add("--regid=" + spec.user().gid());
                argv.add("--init-groups");
            }
            argv.add("--inh-caps=-all");
            argv.add("--ambient-caps=-all");
            argv.add("--");
        }
        argv.addAll(spec.command());
        return argv;
    }

    private ExecOutcome start(ExecSpec spec, List<String> argv) throws InterruptedException {
        CgroupRuns cgroups = cgroups();
        RunCgroup cgroup = null;
        String cgroupProblem = null;
        if (cgroups.available()) {
            try {
                cgroup = cgroups.open(spec.memoryMax(), spec.pidsMax());
            } catch (IOException e) {
                cgroupProblem = "no cgroup for this run (" + e + "), tracked by its session";
            }
        }
        ProcessBuilder pb = new ProcessBuilder(argv).directory(spec.workDir().toFile());
        pb.environment().clear();
        pb.environment().putAll(spec.env());

        long start = System.nanoTime();
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            if (cgroup != null) {
                cgroup.close();
            }
            return notStarted("cannot start: " + e.getMessage());
        }
        Pipes pipes = new Pipes();
        String attachProblem = attach(p, pipes);
        if (attachProblem != null) {
            p.destroyForcibly();
            pipes.close();
            if (cgroup != null) {
                cgroup.close();
            }
            p.waitFor();
            return notStarted(attachProblem);
        }
        if (cgroup != null) {
            try {
                cgroup.join(p.pid());
            } catch (IOException e) {
                cgroupProblem = "could not move the run into its cgroup " + cgroup.dir() + " (" + e.getMessage()
                        + "), tracked by its session";
                cgroup.close();
                cgroup = null;
            }
        }
        RunScope scope = cgroup != null ? cgroup : new ProcessTree(p.pid());
        LIVE.add(scope);
        Stopper stopper = new Stopper(scope);
        ScheduledFuture<?> term = null;
        ScheduledFuture<?> kill = null;
        boolean swept = false;
        try {
            OutputBuffer out = new OutputBuffer(spec.outputMax());
            StderrBuffer err = new StderrBuffer(STDERR_HEAD, STDERR_TAIL, STDERR_READ_MAX);
            PipeReader outReader = new PipeReader(pipes.out, out);
            PipeReader errReader = new PipeReader(pipes.err, err);
            Future<?> outDone;
            Future<?> errDone;
            try {
                outDone = threads.read(outReader);
                errDone = threads.read(errReader);
            } catch (RejectedExecutionException e) {
                p.destroyForcibly();
                return notStarted("the agent is stopping; run refused");
            }
            go(p);
            long timeoutNanos = spec.timeout().toNanos();
            long graceNanos = spec.grace().toNanos();
            term = threads.timer().schedule(stopper::terminate, timeoutNanos, TimeUnit.NANOSECONDS);
            kill = threads.timer().schedule(stopper::kill, timeoutNanos + graceNanos, TimeUnit.NANOSECONDS);

            // Bounded: the kill stage ends the wrapper at timeout + grace at the latest.
            p.waitFor();
            WrapperReport report = WrapperReport.read(pipes.status);
            // Without a cgroup, a process that outlived the wrapper's report is counted only while it lives.
            long cpuSeen = report == null && !scope.exactCpu() ? scope.cpuNanos() : -1;
            if (stopper.terminated) {
                // SIGTERMed: the run's processes get their grace time, then SIGKILL.
                stopper.reap(graceNanos);
            } else {
                // The sweep: whatever the run left behind dies now.
                scope.kill();
            }
            swept = true;
            long cpu = scope.exactCpu() ? scope.cpuNanos()
                    : report != null && report.cpuNanos >= 0 ? report.cpuNanos : Math.max(cpuSeen, stopper.cpuAtStop);
            // Everything of the run is dead, so its pipes close now unless a process escaped it and holds one.
            long pipeWait = Math.max(graceNanos, TimeUnit.MILLISECONDS.toNanos(200));
            boolean held = !awaitBoth(outDone, errDone, pipeWait);
            if (held) {
                outReader.close();
                errReader.close();
                awaitBoth(outDone, errDone, TimeUnit.SECONDS.toNanos(1));
            }
            long wall = System.nanoTime() - start;
            Run run = new Run(spec, p.exitValue(), report, stopper, scope, cgroup != null, out, err, held, wall, cpu, cgroupProblem);
            return run.outcome();
        } catch (InterruptedException e) {
            stopper.kill();
            throw e;
        } finally {
            if (term != null) {
                term.cancel(false);
                kill.cancel(false);
            }
            stopper.finish();
            pipes.close();
            if (!swept) {
                scope.kill();
            }
            scope.close();
            LIVE.remove(scope);
        }
    }

    /**
     * While the wrapper waits on its standard input: opens its output pipes and the status channel
     * for the agent (as new read ends, through /proc) and drops the JDK's own read ends. Null if all
     * went well, else why the run cannot start.
     */
    private static String attach(Process p, Pipes pipes) {
        Path fds = Path.of("/proc", Long.toString(p.pid()), "fd");
        try {
            pipes.status = new FileInputStream(fds.resolve("0").toFile());
            pipes.out = FileChannel.open(fds.resolve("1"), StandardOpenOption.READ);
            pipes.err = FileChannel.open(fds.resolve("2"), StandardOpenOption.READ);
        } catch (IOException e) {
            return "cannot open the run's pipes through " + fds + ": " + e.getMessage();
        } finally {
            closeQuietly(p.getInputStream());
            closeQuietly(p.getErrorStream());
        }
        return null;
    }

    /** Lets the wrapper go on; if it died meanwhile, its missing report says so. */
    private static void go(Process p) {
        try (OutputStream in = p.getOutputStream()) {
            in.write('\n');
        } catch (IOException e) {
            // The wrapper is gone already.
        }
    }

    /** What the wrapper wrote on the status channel, read after it exited (so without blocking). */
    private record WrapperReport(int exitCode, String setupError, long cpuNanos) {

        static WrapperReport read(FileInputStream status) {
            String text;
            try {
                // Not readNBytes: FileInputStream's asks the file for its position, which a pipe has none of.
                byte[] b = new byte[4096];
                int n = 0;
                while (n < b.length && status.available() > 0) {
                    int r = status.read(b, n, Math.min(status.available(), b.length - n));
                    if (r < 0) {
                        break;
                    }
                    n += r;
                }
                text = new String(b, 0, n, StandardCharsets.US_ASCII);
            } catch (IOException e) {
                return null;
            }
            if (text.startsWith("e ")) {
                int eol = text.indexOf('\n');
                return new WrapperReport(-1, text.substring(2, eol < 0 ? text.length() : eol), -1);
            }
            if (!text.startsWith("x ")) {
                return null;
            }
            int eol = text.indexOf('\n');
            if (eol < 0) {
                return null;
            }
            int rc;
            try {
                rc = Integer.parseInt(text.substring(2, eol).strip());
            } catch (NumberFormatException e) {
                return null;
            }
            long cpu = -1;
            Matcher m = TIMES.matcher(text.substring(eol));
            // The first pair is the shell's own time, the second its children's: the command's.
            if (m.find() && m.find()) {
                cpu = seconds(m.group(1), m.group(2)) + seconds(m.group(3), m.group(4));
            }
            return new WrapperReport(rc, null, cpu);
        }
    }

    /** One finished run, turned into its outcome. */
    private record Run(ExecSpec spec, int wrapperExit, WrapperReport report, Stopper stopper, RunScope scope, boolean cgroup,
                       OutputBuffer out, StderrBuffer err, boolean held, long wall, long cpu, String cgroupProblem) {

        ExecOutcome outcome() {
            String stderr = err.text();
            byte[] stdout = out.bytes();
            boolean truncated = out.truncated();
            List<String> notes = new ArrayList<>(3);
            if (held) {
                notes.add(cgroup ? "a process that left the run's cgroup still held its output pipe after the run: the agent closed its end"
                        : "a process that left the plugin's session (setsid) still held its output pipe after the plugin exited: "
                        + "the agent closed its end (that process gets SIGPIPE if it writes again) and did not kill it");
            }
            String limits = scope.limitNotes();
            if (!limits.isEmpty()) {
                notes.add(limits);
            }
            if (cgroupProblem != null) {
                notes.add(cgroupProblem);
            }
            String tail = notes.isEmpty() ? "" : "; " + String.join("; ", notes);

            if (stopper.terminated) {
                return new ExecOutcome(Ending.TIMEOUT, -1, "timeout: stopped at the " + Units.format(spec.timeout())
                        + " wall-time limit; SIGTERM to " + stopper.signalled + " process(es)"
                        + (stopper.killed ? ", then SIGKILL" : "") + tail, stdout, truncated, stderr, wall, cpu);
            }
            if (report == null) {
                if (wrapperExit == WRAPPER_FAILED) {
                    return new ExecOutcome(Ending.NOT_STARTED, -1, "the agent's wrapper could not set up the run (exit code "
                            + WRAPPER_FAILED + ")" + hint(stderr), stdout, truncated, stderr, wall, cpu);
                }
                return new ExecOutcome(Ending.KILLED, -1, "killed: the agent's wrapper process ended (" + describeExit(wrapperExit)
                        + ") before the plugin did, so its exit status is unknown (the plugin, or something outside the agent, "
                        + "killed it); everything left in its " + (cgroup ? "cgroup" : "session") + " was killed" + tail,
                        stdout, truncated, stderr, wall, cpu);
            }
            if (report.setupError != null) {
                return new ExecOutcome(Ending.NOT_STARTED, -1, "aegis-quartz: " + report.setupError, stdout, truncated, stderr, wall, cpu);
            }
            int rc = report.exitCode;
            long cpuHardNanos = TimeUnit.SECONDS.toNanos(Math.max(1, (spec.cpu().toMillis() + 999) / 1000) + 1);
            if (rc == 128 + 9 && scope.oomKilled()) {
                return new ExecOutcome(Ending.KILLED, rc, "killed: " + describeExit(rc) + tail, stdout, truncated, stderr, wall, cpu);
            }
            if (rc == 128 + 24 || (rc == 128 + 9 && cpu >= cpuHardNanos - TimeUnit.MILLISECONDS.toNanos(50))) {
                return new ExecOutcome(Ending.CPU_LIMIT, rc, "cpu_limit: stopped by RLIMIT_CPU at "
                        + Units.format(spec.cpu()) + " of CPU time (" + describeExit(rc) + ")" + tail,
                        stdout, truncated, stderr, wall, cpu);
            }
            if (rc == 128 + 13 && (truncated || err.cut())) {
                String what = truncated ? "its standard output passed output_max (" + Units.formatBytes(spec.outputMax()) + ")"
                        : "its standard error passed " + Units.formatBytes(STDERR_READ_MAX);
                return new ExecOutcome(Ending.KILLED, rc, "killed: " + describeExit(rc) + ": " + what
                        + " and the agent closed the pipe" + tail, stdout, truncated, stderr, wall, cpu);
            }
            if (rc > 128 && rc <= 128 + 64) {
                return new ExecOutcome(Ending.KILLED, rc, "killed: " + describeExit(rc) + tail, stdout, truncated, stderr, wall, cpu);
            }
            return new ExecOutcome(Ending.EXITED, rc, notes.isEmpty() ? null : String.join("; ", notes),
                    stdout, truncated, stderr, wall, cpu);
        }

        private static String hint(String stderr) {
            String t = stderr.strip();
            int nl = t.lastIndexOf('\n');
            return t.isEmpty() ? "" : ": " + (nl < 0 ? t : t.substring(nl + 1));
        }
    }

    /** The agent's ends of a run's pipes. */
    private static final class Pipes implements Closeable {
        FileInputStream status;
        FileChannel out;
        FileChannel err;

        @Override
        public void close() {
            closeQuietly(status);
            closeQuietly(out);
            closeQuietly(err);
        }
    }

    private static void closeQuietly(Closeable c) {
        if (c != null) {
            try {
                c.close();
            } catch (IOException e) {
                // Nothing left to release.
            }
        }
    }

    private static boolean awaitBoth(Future<?> a, Future<?> b, long nanos) throws InterruptedException {
        long deadline = System.nanoTime() + nanos;
        return await(a, nanos) && await(b, Math.max(0, deadline - System.nanoTime()));
    }

    private static boolean await(Future<?> f, long nanos) throws InterruptedException {
        try {
            f.get(nanos, TimeUnit.NANOSECONDS);
            return true;
        } catch (TimeoutException e) {
            return false;
        } catch (ExecutionException e) {
            return true;
        }
    }

    private static long seconds(String minutes, String secs) {
        return TimeUnit.MINUTES.toNanos(Long.parseLong(minutes)) + Math.round(Double.parseDouble(secs) * 1e9);
    }

    static String describeExit(int code) {
        if (code > 128 && code <= 128 + 64) {
            int sig = code - 128;
            return "signal " + sig + signalName(sig);
        }
        return "exit code " + code;
    }

    private static String signalName(int sig) {
        return switch (sig) {
            case 1 -> " (SIGHUP)";
            case 2 -> " (SIGINT)";
            case 3 -> " (SIGQUIT)";
            case 4 -> " (SIGILL)";
            case 6 -> " (SIGABRT)";
            case 7 -> " (SIGBUS)";
            case 8 -> " (SIGFPE)";
            case 9 -> " (SIGKILL)";
            case 11 -> " (SIGSEGV)";
            case 13 -> " (SIGPIPE)";
            case 15 -> " (SIGTERM)";
            case 24 -> " (SIGXCPU)";
            case 25 -> " (SIGXFSZ)";
            default -> "";
        };
    }

    private static ExecOutcome notStarted(String why) {
        return new ExecOutcome(Ending.NOT_STARTED, -1, why, new byte[0], false, "", 0, -1);
    }

    private static String find(String tool) {
        for (String p : new String[] {"/usr/bin/" + tool, "/bin/" + tool}) {
            if (Files.isExecutable(Path.of(p))) {
                return p;
            }
        }
        return null;
    }

    /** Fires the limit stages, at most once each, and never after the run has finished. */
    private static final class Stopper {
        final RunScope scope;
        volatile boolean terminated;
        volatile boolean killed;
        volatile long cpuAtStop = -1;
        volatile int signalled;
        volatile long termSentAt;
        private boolean finished;

        Stopper(RunScope scope) {
            this.scope = scope;
        }

        synchronized void terminate() {
            if (finished || terminated) {
                return;
            }
            terminated = true;
            termSentAt = System.nanoTime();
            cpuAtStop = scope.cpuNanos();
            signalled = scope.terminate();
        }

        synchronized void kill() {
            if (finished) {
                return;
            }
            if (!scope.isEmpty()) {
                killed = true;
                scope.kill();
            }
        }

        /**
         * After SIGTERM: waits until the grace time since it was sent has passed or the run is empty,
         * then SIGKILLs whatever is left. Polls, but only on this rare path.
         */
        void reap(long graceNanos) throws InterruptedException {
            long deadline = termSentAt + graceNanos;
            while (!scope.isEmpty() && System.nanoTime() - deadline < 0) {
                Thread.sleep(20);
            }
            synchronized (this) {
                if (!scope.isEmpty()) {
                    killed = true;
                    scope.kill();
                }
            }
        }

        synchronized void finish() {
            finished = true;
        }
    }
}
