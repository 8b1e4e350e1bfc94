package io.aegisquartz.plugin.exec;

import io.aegisquartz.api.ProcFiles;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The processes of one plugin run: every process whose session id is the run's session leader.
 *
 * <p>A session (not the parent/child tree) is what we track because children are re-parented to init
 * when their parent dies, but keep their session; only a process that calls setsid() itself escapes.
 * The kernel does not reuse a pid while it still names a live session, so a leader pid found here
 * cannot point at an unrelated process. Scanning /proc is not free (about 2 ms of CPU with 115
 * processes, bench/exec-cost): it happens once after a run ends, and when a run must be stopped.
 */
final class ProcessTree implements RunScope {

    /** Clock ticks per second for /proc/PID/stat times; 100 on every Linux we support. */
    private static final long TICK_NANOS = 10_000_000L;

    private final long sessionId;

    ProcessTree(long sessionId) {
        this.sessionId = sessionId;
    }

    /** Pids of live processes in the session, leader first if still alive. */
    List<Long> members() {
        List<Long> out = new ArrayList<>();
        try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"))) {
            for (Path p : procs) {
                String name = p.getFileName().toString();
                if (name.isEmpty() || !Character.isDigit(name.charAt(0))) {
                    continue;
                }
                long[] f = statFields(name);
                // Zombies are already dead; they only wait for their parent to reap them.
                if (f != null && f[SESSION] == sessionId && f[STATE] != 'Z') {
                    long pid = Long.parseLong(name);
                    if (pid == sessionId) {
                        out.add(0, pid);
                    } else {
                        out.add(pid);
                    }
                }
            }
        } catch (IOException e) {
            // /proc unreadable: nothing we can find, nothing we can kill by scan.
        }
        return out;
    }

    @Override
    public int terminate() {
        return signalAll(false);
    }

    @Override
    public boolean kill() {
        return killAll();
    }

    @Override
    public boolean isEmpty() {
        return members().isEmpty();
    }

    /** CPU of the live members and of the children they reaped: not of members that already exited. */
    @Override
    public long cpuNanos() {
        return cpuNanos(members());
    }

    @Override
    public boolean exactCpu() {
        return false;
    }

    /** CPU used so far by the live members and the children they already reaped. */
    long cpuNanos(List<Long> pids) {
        long ticks = 0;
        for (long pid : pids) {
            long[] f = statFields(Long.toString(pid));
            if (f != null && f[SESSION] == sessionId) {
                ticks += f[UTIME] + f[STIME] + f[CUTIME] + f[CSTIME];
            }
        }
        return ticks * TICK_NANOS;
    }

    /** Sends SIGTERM ({@code force=false}) or SIGKILL to every live member; returns how many were signalled. */
    int signalAll(boolean force) {
        int n = 0;
        for (long pid : members()) {
            Optional<ProcessHandle> h = ProcessHandle.of(pid);
            if (h.isPresent()) {
                // ProcessHandle checks the start time too, so a recycled pid is never signalled.
                boolean sent = force ? h.get().destroyForcibly() : h.get().destroy();
                if (sent) {
                    n++;
                }
            }
        }
        return n;
    }

    /**
     * SIGKILL until no member is left alive (a fork loop can add members while we kill, and a killed
     * process takes a moment to die); true if none remain. Bounded at about a second.
     */
    boolean killAll() {
        List<Long> left = members();
        for (int round = 0; round < 100 && !left.isEmpty(); round++) {
            for (long pid : left) {
                // ProcessHandle checks the start time too, so a recycled pid is never signalled.
                ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
            }
            java.util.concurrent.locks.LockSupport.parkNanos(round == 0 ? 1_000_000L : 10_000_000L);
            left = members();
        }
        return left.isEmpty();
    }

    private static final int SESSION = 0;
    private static final int UTIME = 1;
    private static final int STIME = 2;
    private static final int CUTIME = 3;
    private static final int CSTIME = 4;
    private static final int STATE = 5;

    /** session, utime, stime, cutime, cstime, state (as a char) of /proc/PID/stat; null if gone. */
    private static long[] statFields(String pid) {
        String stat = ProcFiles.read("/proc/" + pid + "/stat");
        if (stat == null) {
            return null;
        }
        // The command name is in parentheses and may itself contain spaces and ')'.
        int close = stat.lastIndexOf(')');
        if (close < 0) {
            return null;
        }
        String[] f = stat.substring(close + 2).split(" ");
        // After ')': state(3) ppid(4) pgrp(5) session(6) tty(7) tpgid(8) flags(9) minflt(10) cminflt(11)
        // majflt(12) cmajflt(13) utime(14) stime(15) cutime(16) cstime(17); f[0] is field 3.
        if (f.length < 15) {
            return null;
        }
        try {
            return new long[] {Long.parseLong(f[3]), Long.parseLong(f[11]), Long.parseLong(f[12]),
                    Long.parseLong(f[13]), Long.parseLong(f[14]), f[0].isEmpty() ? '?' : f[0].charAt(0)};
        } catch (NumberFormatException e) {
            return null;
        }
    }
}
