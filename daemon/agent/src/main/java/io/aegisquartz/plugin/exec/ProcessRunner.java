package io.aegisquartz.plugin.exec;

import io.aegisquartz.config.Units;
import io.aegisquartz.plugin.RunnerThreads;
import io.aegisquartz.plugin.exec.ExecOutcome.Ending;

import java.io.ByteArrayOutputStream;
import io.aegisquartz.config.RunAs;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs a command in its own process session under a wall-time and a CPU-time limit, and makes sure
 * nothing it started outlives it.
 *
 * <p>The command is started as {@code setsid /bin/sh -c WRAPPER ...}: setsid makes the shell the
 * leader of a new session (and process group), the shell sets RLIMIT_CPU and RLIMIT_CORE, runs the
 * command as its child, then reports the command's exit code and CPU time on stderr and SIGKILLs its
 * own process group, so background children a plugin forgot die with it.
 *
 * <p>At the wall-time limit every process in the session gets SIGTERM, and SIGKILL after the grace
 * time. Killing by session rather than by the direct child is what defeats the trap where a timed-out
 * {@code echo $(sleep 10) | awk} kept its pipe open for 10 more seconds: the grandchild holding the
 * pipe is in the session too, so the pipe closes when the limit fires.
 */
public final class ProcessRunner {

    /** Exit code the wrapper uses when it cannot set the CPU limit. */
    static final int WRAPPER_FAILED = 125;

    private static final String MARKER = "@aegis-exit ";
    private static final String WRAPPER = String.join("\n",
            "ulimit -c 0 2>/dev/null",
            // Soft first: lowering the hard limit below the current soft one fails with EINVAL.
            "ulimit -S -t \"$1\" && ulimit -H -t \"$2\" || { echo 'aegis-quartz: cannot set RLIMIT_CPU' >&2; exit " + WRAPPER_FAILED + "; }",
            "shift 2",
            "\"$@\"",
            "rc=$?",
            "printf '\\n" + MARKER + "%d\\n' \"$rc\" >&2",
            // 'times' must run in this shell, not in a pipeline's subshell, to see the child's CPU time.
            "times >&2",
            "kill -s KILL 0");
    private static final Pattern TIMES = Pattern.compile("(\\d+)m([0-9.]+)s\\s+(\\d+)m([0-9.]+)s");
    private static final int STDERR_TAIL = 16 * 1024;

    /** Sessions of runs in progress in this JVM; killed if the JVM exits under them. */
    private static final java.util.Set<ProcessTree> LIVE = java.util.concurrent.ConcurrentHashMap.newKeySet();

    static {
        // Plugins run in sessions of their own, so nothing else would end them when this JVM exits
        // (run-plugin interrupted, an agent exiting on OutOfMemoryError): do it on the way out.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> LIVE.forEach(ProcessTree::killAll), "aegis-plugin-reaper"));
    }

    private final RunnerThreads threads;
    private final String setsid;
    private final String setpriv;
    /** Ambient capabilities (the packaged service's CAP_SYS_PTRACE...) are for the agent, never for its plugins. */
    private final boolean dropCapabilities;

    public ProcessRunner(RunnerThreads threads) {
        this.threads = threads;
        this.setsid = find("setsid");
        this.setpriv = find("setpriv");
        this.dropCapabilities = RunAs.agentHasAmbientCapabilities();
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
        long cpuSoft = Math.max(1, (spec.cpu().toMillis() + 999) / 1000);
        List<String> argv = new ArrayList<>(spec.command().size() + 8);
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
                return notStarted("setpriv not found in /usr/bin or /bin (install util-linux); cannot run as user "
                        + (spec.user() == null ? "(agent's, without capabilities)" : spec.user().name()));
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

        ProcessBuilder pb = new ProcessBuilder(argv)
                .directory(spec.workDir().toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.environment().clear();
        pb.environment().putAll(spec.env());

        long start = System.nanoTime();
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            return notStarted("cannot start: " + e.getMessage());
        }
        Stopper stopper = new Stopper(new ProcessTree(p.pid()));
        LIVE.add(stopper.tree);
        CappedBuffer out = new CappedBuffer(spec.outputMax());
        TailBuffer err = new TailBuffer(STDERR_TAIL);
        Future<?> outReader = threads.read(() -> drain(p.getInputStream(), out));
        Future<?> errReader = outReader == null ? null : threads.read(() -> drain(p.getErrorStream(), err));
        if (errReader == null) {
            stopper.tree.killAll();
            LIVE.remove(stopper.tree);
            if (outReader != null) {
                outReader.cancel(true);
            }
            return notStarted("too many plugin output pipes open at once (stuck plugins?); run refused");
        }
        long timeoutNanos = spec.timeout().toNanos();
        long graceNanos = spec.grace().toNanos();
        ScheduledFuture<?> term = threads.timer().schedule(stopper::terminate, timeoutNanos, TimeUnit.NANOSECONDS);
        ScheduledFuture<?> kill = threads.timer().schedule(stopper::kill, timeoutNanos + graceNanos, TimeUnit.NANOSECONDS);
        boolean pipeHeld = false;
        try {
            // Bounded: the kill stage ends the wrapper at timeout + grace at the latest.
            p.waitFor();
            // The wrapper killed its group on the way out, so the pipes close now unless a process left
            // the group (setpgid) or the session (setsid). Give them a grace period, then hunt by session.
            long pipeWait = Math.max(graceNanos, TimeUnit.MILLISECONDS.toNanos(200));
            if (!awaitBoth(outReader, errReader, pipeWait)) {
                stopper.tree.killAll();
                pipeHeld = !awaitBoth(outReader, errReader, pipeWait);
            }
            if (stopper.terminated) {
                // Pipes can close before every process has gone (one that ignores SIGTERM and does
                // not hold our output): do not return until the session is empty.
                stopper.reap(graceNanos);
            }
        } catch (InterruptedException e) {
            stopper.kill();
            throw e;
        } finally {
            term.cancel(false);
            kill.cancel(false);
            stopper.finish();
            LIVE.remove(stopper.tree);
        }
        long wall = System.nanoTime() - start;
        return outcome(spec, p.exitValue(), stopper, out, err, wall, pipeHeld);
    }

    private ExecOutcome outcome(ExecSpec spec, int wrapperExit, Stopper stopper, CappedBuffer out, TailBuffer err,
                                long wall, boolean pipeHeld) {
        String stderr = err.text();
        int marker = stderr.lastIndexOf(MARKER);
        int rc = -1;
        long cpu = -1;
        String pluginStderr = stderr;
        if (marker >= 0) {
            int eol = stderr.indexOf('\n', marker);
            String rcText = stderr.substring(marker + MARKER.length(), eol < 0 ? stderr.length() : eol).strip();
            try {
                rc = Integer.parseInt(rcText);
            } catch (NumberFormatException ignored) {
                rc = -1;
            }
            Matcher m = TIMES.matcher(stderr.substring(eol < 0 ? stderr.length() : eol));
            // The first pair is the shell's own time, the second its children's: the command's.
            if (m.find() && m.find()) {
                cpu = seconds(m.group(1), m.group(2)) + seconds(m.group(3), m.group(4));
            }
            // Drop the newline the wrapper put before the marker.
            pluginStderr = stderr.substring(0, marker > 0 && stderr.charAt(marker - 1) == '\n' ? marker - 1 : marker);
        }
        if (cpu < 0 && stopper.cpuAtStop >= 0) {
            cpu = stopper.cpuAtStop;
        }
        byte[] stdout = out.bytes();
        boolean truncated = out.truncated();
        String held = pipeHeld ? "; a process outside the plugin's session still holds its output pipe (output may be incomplete)" : "";
        long cpuHardNanos = TimeUnit.SECONDS.toNanos(Math.max(1, (spec.cpu().toMillis() + 999) / 1000) + 1);

        if (stopper.terminated) {
            return new ExecOutcome(Ending.TIMEOUT, -1, "timeout: stopped at the " + Units.format(spec.timeout())
                    + " wall-time limit; SIGTERM to " + stopper.signalled + " process(es)"
                    + (stopper.killed ? ", then SIGKILL" : "") + held, stdout, truncated, pluginStderr, wall, cpu);
        }
        if (marker < 0) {
            if (wrapperExit == WRAPPER_FAILED) {
                return new ExecOutcome(Ending.NOT_STARTED, -1, lastLine(stderr), stdout, truncated, stderr, wall, cpu);
            }
            return new ExecOutcome(Ending.KILLED, -1, "killed from outside the agent (" + describeExit(wrapperExit) + ")" + held,
                    stdout, truncated, pluginStderr, wall, cpu);
        }
        if (rc == 128 + 24 || (rc == 128 + 9 && cpu >= cpuHardNanos - TimeUnit.MILLISECONDS.toNanos(50))) {
            return new ExecOutcome(Ending.CPU_LIMIT, rc, "cpu_limit: stopped by RLIMIT_CPU at "
                    + Units.format(spec.cpu()) + " of CPU time (" + describeExit(rc) + ")" + held,
                    stdout, truncated, pluginStderr, wall, cpu);
        }
        if (rc > 128 && rc <= 128 + 64) {
            return new ExecOutcome(Ending.KILLED, rc, "killed: " + describeExit(rc) + held, stdout, truncated, pluginStderr, wall, cpu);
        }
        return new ExecOutcome(Ending.EXITED, rc, pipeHeld ? held.substring(2) : null, stdout, truncated, pluginStderr, wall, cpu);
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

    private static void drain(InputStream in, Sink sink) {
        byte[] buf = new byte[8192];
        try (in) {
            int n;
            while ((n = in.read(buf)) > 0) {
                sink.accept(buf, n);
            }
        } catch (IOException e) {
            // The stream was closed under us: the run is over either way.
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

    private static String lastLine(String s) {
        String t = s.strip();
        int nl = t.lastIndexOf('\n');
        return nl < 0 ? t : t.substring(nl + 1);
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
        final ProcessTree tree;
        volatile boolean terminated;
        volatile boolean killed;
        volatile long cpuAtStop = -1;
        volatile int signalled;
        volatile long termSentAt;
        private boolean finished;

        Stopper(ProcessTree tree) {
            this.tree = tree;
        }

        synchronized void terminate() {
            if (finished || terminated) {
                return;
            }
            terminated = true;
            termSentAt = System.nanoTime();
            List<Long> members = tree.members();
            cpuAtStop = tree.cpuNanos(members);
            signalled = tree.signalAll(false);
        }

        synchronized void kill() {
            if (finished) {
                return;
            }
            if (!tree.members().isEmpty()) {
                killed = true;
                tree.killAll();
            }
        }

        /**
         * After SIGTERM: waits until the grace time since it was sent has passed or the session is
         * empty, then SIGKILLs whatever is left. Polls /proc, but only on this rare path.
         */
        void reap(long graceNanos) throws InterruptedException {
            long deadline = termSentAt + graceNanos;
            while (!tree.members().isEmpty() && System.nanoTime() - deadline < 0) {
                Thread.sleep(20);
            }
            synchronized (this) {
                if (!tree.members().isEmpty()) {
                    killed = true;
                    tree.killAll();
                }
            }
        }

        synchronized void finish() {
            finished = true;
        }
    }

    private interface Sink {
        void accept(byte[] buf, int n);
    }

    /** Keeps the first {@code max} bytes and counts the rest. */
    private static final class CappedBuffer implements Sink {
        private final long max;
        private final ByteArrayOutputStream kept = new ByteArrayOutputStream(1024);
        private long dropped;

        CappedBuffer(long max) {
            this.max = max;
        }

        @Override
        public synchronized void accept(byte[] buf, int n) {
            int room = (int) Math.min(n, Math.max(0, max - kept.size()));
            kept.write(buf, 0, room);
            dropped += n - room;
        }

        synchronized byte[] bytes() {
            return kept.toByteArray();
        }

        synchronized boolean truncated() {
            return dropped > 0;
        }
    }

    /** Keeps the last {@code max} bytes: the end of stderr says why a command failed. */
    private static final class TailBuffer implements Sink {
        private final byte[] ring;
        private long total;

        TailBuffer(int max) {
            ring = new byte[max];
        }

        @Override
        public synchronized void accept(byte[] buf, int n) {
            for (int i = 0; i < n; i++) {
                ring[(int) (total++ % ring.length)] = buf[i];
            }
        }

        synchronized String text() {
            int len = (int) Math.min(total, ring.length);
            byte[] outBytes = new byte[len];
            long first = total - len;
            for (int i = 0; i < len; i++) {
                outBytes[i] = ring[(int) ((first + i) % ring.length)];
            }
            return new String(outBytes, StandardCharsets.UTF_8);
        }
    }
}
