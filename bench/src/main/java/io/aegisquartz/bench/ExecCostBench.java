package io.aegisquartz.bench;

import io.aegisquartz.plugin.RunnerThreads;
import io.aegisquartz.plugin.exec.ExecOutcome;
import io.aegisquartz.plugin.exec.ExecSpec;
import io.aegisquartz.plugin.exec.ProcessRunner;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * What running executables costs the agent. First, per run of a trivial plugin ({@code true}), by
 * isolation: a bare fork and exec (the floor), a cgroup per run, the session fallback. Then what a
 * plugin's huge standard error costs the agent, before and after, in the same run: the agent's
 * CPU (the whole JVM, measured around each run) per GiB the plugin offered on stderr, beside the
 * plugin's own CPU.
 *
 * <ul>
 *   <li>before: the runner until this change, reproduced here: every byte read and the last 16 KiB
 *       kept, one byte at a time;</li>
 *   <li>after, dies: {@link ProcessRunner}; the plugin ({@code head -c N /dev/zero >&2}) gets SIGPIPE
 *       once the agent has read its budget;</li>
 *   <li>after, keeps trying: the same with SIGPIPE ignored, writing in 8 MiB pieces that each fail
 *       with EPIPE: the plugin burns its own CPU, the agent none.</li>
 * </ul>
 */
public final class ExecCostBench {

    private static final String USAGE = """
            usage: bench/exec-cost [--per-run N] [--gib N] [--runs N]
              --per-run N  runs of 'true' per isolation mode, after as many warm-up runs (default 300)
              --gib N      GiB the plugin writes on stderr per run (default 2)
              --runs N     stderr runs of each kind, after one warm-up run (default 3)""";

    private ExecCostBench() {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> o = Bench.options(args, USAGE, "per-run", "gib", "runs");
        int perRun = Integer.parseInt(o.getOrDefault("per-run", "300"));
        long gib = Long.parseLong(o.getOrDefault("gib", "2"));
        int runs = Integer.parseInt(o.getOrDefault("runs", "3"));
        long bytes = gib << 30;
        Path dir = Files.createTempDirectory("aegis-bench-stderr");
        Bench.printEnvironment(dir);
        String dies = "exec head -c " + bytes + " /dev/zero >&2";
        String tries = "trap '' PIPE; i=0; while [ $i -lt " + (bytes >> 23) + " ]; do head -c 8388608 /dev/zero >&2 2>/dev/null; i=$((i+1)); done";
        try (RunnerThreads threads = new RunnerThreads(8)) {
            ProcessRunner runner = new ProcessRunner(threads);
            System.out.println("isolation: " + runner.isolation());
            perRun(threads, runner, dir, perRun);
            System.out.printf("%-28s %14s %14s %16s %12s%n", "kind", "agent CPU ms", "plugin CPU ms", "agent ms per GiB", "agent/plugin");
            for (int i = 0; i <= runs; i++) {
                boolean warm = i > 0;
                report("before (read it all)", warm, gib, before(dies, dir));
                report("after, plugin dies", warm, gib, after(runner, dies, dir));
                report("after, plugin keeps trying", warm, gib, after(runner, tries, dir));
            }
        } finally {
            Bench.deleteTree(dir);
        }
    }

    /** Agent CPU and wall time per run of 'true': bare ProcessBuilder, the runner with cgroups (if any), with sessions. */
    private static void perRun(RunnerThreads threads, ProcessRunner cgroups, Path dir, int n) throws Exception {
        ProcessRunner sessions = new ProcessRunner(threads, io.aegisquartz.plugin.exec.CgroupRuns.none("bench"));
        System.out.printf("%-28s %16s %16s%n", "per run of 'true'", "agent CPU ms", "wall ms");
        for (String kind : List.of("bare fork+exec", "cgroup per run", "session", "exec host")) {
            if (kind.equals("exec host")) {
                execHost(dir, n);
                continue;
            }
            if (kind.equals("cgroup per run") && cgroups.isolation().startsWith("no cgroup")) {
                continue;
            }
            for (int pass = 0; pass < 2; pass++) {
                long c0 = Bench.processCpuNanos();
                long w0 = System.nanoTime();
                for (int i = 0; i < n; i++) {
                    switch (kind) {
                        case "bare fork+exec" -> new ProcessBuilder("/bin/true").directory(dir.toFile()).start().waitFor();
                        case "cgroup per run" -> cgroups.run(trueSpec(dir));
                        default -> sessions.run(trueSpec(dir));
                    }
                }
                if (pass == 1) {
                    System.out.printf("%-28s %16.2f %16.2f%n", kind, (Bench.processCpuNanos() - c0) / 1e6 / n,
                            (System.nanoTime() - w0) / 1e6 / n);
                }
            }
        }
    }

    /**
     * The same runs through the exec host (#17 item 7), here a child of this JVM over pipes (under the
     * packaged service systemd starts it, as another user, on a socket: the same code on both sides).
     * The agent's CPU and wall per run, and the host's own CPU per run (its JVM, and the runs' processes
     * it reaped).
     */
    private static void execHost(Path dir, int n) throws Exception {
        io.aegisquartz.config.JobOptions options = io.aegisquartz.config.AgentSettings.defaults(dir, dir.resolve("conf")).defaultJobOptions();
        Path plugin = Path.of("/bin/true");
        io.aegisquartz.config.JobSpec job = new io.aegisquartz.config.JobSpec(io.aegisquartz.config.JobSource.USER, dir.resolve("cron"), 1, "true",
                "true", "* * * * * ?", "true", plugin, 1, List.of(), options);
        try (io.aegisquartz.plugin.host.PluginHostClient client = new io.aegisquartz.plugin.host.PluginHostClient(
                new io.aegisquartz.config.PluginHostConfig(32 << 20, Duration.ofSeconds(2), null))) {
            io.aegisquartz.plugin.host.HostPlugin p = client.executable(plugin, false);
            for (int pass = 0; pass < 2; pass++) {
                long h0 = ownCpuNanos(client.pid());
                long c0 = Bench.processCpuNanos();
                long w0 = System.nanoTime();
                for (int i = 0; i < n; i++) {
                    p.run(job, new io.aegisquartz.plugin.JobMemory());
                }
                if (pass == 1) {
                    double agent = (Bench.processCpuNanos() - c0) / 1e6 / n;
                    double host = (ownCpuNanos(client.pid()) - h0) / 1e6 / n;
                    System.out.printf("%-28s %16.2f %16.2f   (+ the host JVM's own %.2f = %.2f ms per run)%n", "exec host", agent,
                            (System.nanoTime() - w0) / 1e6 / n, host, agent + host);
                }
            }
            System.out.printf("%-28s %16s   (the exec host's PSS after the runs: %.1f MB, heap cap %d MiB as in its unit)%n", "", "",
                    pssKb(client.pid()) / 1024.0, 32);
            p.close();
        }
    }

    /** Proportional set size of process {@code pid} in KiB (smaps_rollup), or -1. */
    private static long pssKb(long pid) throws java.io.IOException {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/smaps_rollup"))) {
            if (line.startsWith("Pss:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }

    /** CPU of process {@code pid} itself (utime + stime, without its reaped children). */
    private static long ownCpuNanos(long pid) throws java.io.IOException {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * 10_000_000L;
    }

        private static ExecSpec trueSpec(Path dir) {
        return new ExecSpec(List.of("/bin/true"), dir, Map.of("PATH", "/usr/bin:/bin"), Duration.ofSeconds(30),
                Duration.ofSeconds(10), Duration.ofMillis(200), 1 << 20);
    }

    private static void report(String kind, boolean print, long gib, long[] cpu) {
        if (print) {
            System.out.printf("%-28s %14.1f %14.1f %16.1f %12.3f%n", kind, cpu[0] / 1e6, cpu[1] / 1e6, cpu[0] / 1e6 / gib,
                    cpu[1] > 0 ? (double) cpu[0] / cpu[1] : Double.NaN);
        }
    }

    /** {agent CPU, plugin CPU} of one run through the runner. */
    private static long[] after(ProcessRunner runner, String script, Path dir) throws InterruptedException {
        long t0 = Bench.processCpuNanos();
        ExecOutcome out = runner.run(new ExecSpec(List.of("/bin/sh", "-c", script), dir, Map.of("PATH", "/usr/bin:/bin"),
                Duration.ofMinutes(5), Duration.ofMinutes(5), Duration.ofSeconds(2), 1 << 20));
        return new long[] {Bench.processCpuNanos() - t0, out.cpuNanos()};
    }

    /** {agent CPU, plugin CPU} of the same plugin read as the runner did before: every byte, kept in a ring one at a time. */
    private static long[] before(String script, Path dir) throws Exception {
        long t0 = Bench.processCpuNanos();
        long c0 = childrenCpuNanos();
        Process p = new ProcessBuilder("/bin/sh", "-c", script).directory(dir.toFile())
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        byte[] ring = new byte[16 * 1024];
        long total = 0;
        byte[] buf = new byte[8192];
        try (InputStream in = p.getErrorStream()) {
            int n;
            while ((n = in.read(buf)) > 0) {
                for (int i = 0; i < n; i++) {
                    ring[(int) (total++ % ring.length)] = buf[i];
                }
            }
        }
        p.waitFor();
        long agent = Bench.processCpuNanos() - t0;
        return new long[] {agent, childrenCpuNanos() - c0};
    }

    /** CPU of this JVM's reaped children (cutime + cstime of /proc/self/stat): here, the plugin and its children. */
    private static long childrenCpuNanos() throws java.io.IOException {
        String stat = Files.readString(Path.of("/proc/self/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        // f[0] is field 3; cutime and cstime are fields 16 and 17, in 10 ms ticks.
        return (Long.parseLong(f[13]) + Long.parseLong(f[14])) * 10_000_000L;
    }
}
