package io.aegisquartz.governor;

import io.aegisquartz.api.ProcFiles;

import java.util.Map;

/**
 * The agent's own CPU time, resident memory and threads, as the kernel counts them.
 *
 * @param cpuNanos CPU time of the agent's threads plus the children it has waited for (plugin
 *                 processes), so an executable plugin's CPU counts against the agent as it does in
 *                 the service's cgroup
 * @param rssBytes resident set size
 * @param threads  threads of the agent's process
 */
public record SelfUsage(long cpuNanos, long rssBytes, long threads) {

    /** /proc reports times in USER_HZ, which is 100 on every Linux architecture that exports it. */
    private static final long NANOS_PER_TICK = 10_000_000L;

    /** Null if /proc/self cannot be read. */
    public static SelfUsage read() {
        String stat = ProcFiles.read("/proc/self/stat");
        Map<String, Long> status = ProcFiles.keyValues("/proc/self/status");
        Long rssKb = status.get("VmRSS");
        if (stat == null || rssKb == null) {
            return null;
        }
        // The command name may contain spaces and parentheses: fields are counted from the last ')'.
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).trim().split(" ");
        // After ')': state(3) ppid ... utime is field 14, i.e. index 11 here; stime, cutime, cstime follow.
        long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]) + Long.parseLong(f[13]) + Long.parseLong(f[14]);
        return new SelfUsage(ticks * NANOS_PER_TICK, rssKb * 1024, status.getOrDefault("Threads", 0L));
    }
}
