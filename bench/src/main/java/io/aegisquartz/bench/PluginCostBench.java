package io.aegisquartz.bench;

import io.aegisquartz.config.AgentSettings;
import io.aegisquartz.config.ConfigProblem;
import io.aegisquartz.config.CronFile;
import io.aegisquartz.config.CronFileParser;
import io.aegisquartz.config.JobSource;
import io.aegisquartz.config.JobSpec;
import io.aegisquartz.plugin.JobMemory;
import io.aegisquartz.plugin.Plugin;
import io.aegisquartz.plugin.catalog.PluginCatalog;
import io.aegisquartz.plugin.RunResult;
import io.aegisquartz.plugin.RunnerThreads;
import io.aegisquartz.sample.Measurement;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * CPU time of one warm run of every job in the default cron file, measured the way the agent reports
 * it in each sample's {@code cpu_ms}: the plugin thread's CPU clock for Groovy and JAR plugins, the
 * process and its children for executables.
 *
 * <p>The jobs are read from conf/aegis_quartz.conf.default with the agent's own parser, so a plugin
 * added there is measured without a change here. For the plugins that only read /proc, a peer is
 * measured in the same run: a shell loop that forks {@code cat} on the same /proc files, which is the
 * least a collector that forks a command per run pays.
 */
public final class PluginCostBench {

    private static final String USAGE = """
            usage: bench/plugin-cost [--conf FILE] [--runs N] [--warmup N] [--interval-ms MS] [--peer-runs N] [--only REGEX] [--hold-connections N] [--compare-mem on]
              --conf         the cron file whose jobs are measured (default: conf/aegis_quartz.conf.default)
              --runs         measured runs per job (default 50)
              --warmup       unmeasured runs first, for the JIT and the plugin's state (default 20)
              --interval-ms  pause between two runs of a job (default 100)
              --peer-runs    iterations of each peer's shell loop (default 500)
              --only         measure only the jobs whose name matches (default: all)
              --hold-connections  keep N loopback TCP connections open while measuring (2N sockets in
                             /proc/net/tcp; needs 2N file descriptors; default 0)
              --compare-mem on  each measured run is paired with one of the same job with mem=0 (no
                             allocation budget, so no allocation checks), alternating, and the two
                             CPU means are compared: the cost of the allocation checks""";

    private static final String SAMPLER_FILES = "/proc/loadavg /proc/stat /proc/meminfo /proc/self/mountinfo /proc/diskstats /proc/net/dev";
    private static final String TCP_FILES = "/proc/net/tcp /proc/net/tcp6";

    /** The /proc files a job's plugin reads, for `cat` to read too; null if it has no such peer. */
    static String catPeer(JobSpec job) {
        String file = job.pluginPath().getFileName().toString();
        List<String> a = job.args();
        if (file.equals("net_snmp.groovy")) {
            return "/proc/net/snmp /proc/net/netstat /proc/net/snmp6";
        }
        if (!file.equals("sampler.groovy")) {
            return null;
        }
        int only = a.indexOf("--only");
        int skip = a.indexOf("--skip");
        if (only >= 0 && only + 1 < a.size() && a.get(only + 1).equals("tcp")) {
            return TCP_FILES;
        }
        if (skip >= 0 && skip + 1 < a.size() && Arrays.asList(a.get(skip + 1).split(",")).contains("tcp")) {
            return SAMPLER_FILES;
        }
        return only < 0 && skip < 0 ? SAMPLER_FILES + " " + TCP_FILES : null;
    }

    private PluginCostBench() {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> o = Bench.options(args, USAGE, "conf", "runs", "warmup", "interval-ms", "peer-runs", "only", "hold-connections",
                "compare-mem");
        Path root = Paths.get("").toAbsolutePath();
        int runs = Integer.parseInt(o.getOrDefault("runs", "50"));
        int warmup = Integer.parseInt(o.getOrDefault("warmup", "20"));
        long intervalMs = Long.parseLong(o.getOrDefault("interval-ms", "100"));
        int peerRuns = Integer.parseInt(o.getOrDefault("peer-runs", "500"));
        Pattern only = Pattern.compile(o.getOrDefault("only", ""));
        int hold = Integer.parseInt(o.getOrDefault("hold-connections", "0"));
        List<SocketChannel> held = new ArrayList<>();
        ServerSocketChannel server = null;
        if (hold > 0) {
            server = ServerSocketChannel.open(StandardProtocolFamily.INET);
            server.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0), 1024);
            for (int i = 0; i < hold; i++) {
                SocketChannel c = SocketChannel.open(StandardProtocolFamily.INET);
                c.connect(server.getLocalAddress());
                held.add(c);
                held.add(server.accept());
            }
        }
        try {
            measure(o, root, runs, warmup, intervalMs, peerRuns, only);
        } finally {
            for (SocketChannel c : held) {
                c.close();
            }
            if (server != null) {
                server.close();
            }
        }
    }

    private static void measure(Map<String, String> o, Path root, int runs, int warmup, long intervalMs, int peerRuns, Pattern only)
            throws Exception {
        Path conf = Paths.get(o.getOrDefault("conf", "conf/aegis_quartz.conf.default")).toAbsolutePath();

        AgentSettings settings = AgentSettings.defaults(root, root.resolve("conf"));
        CronFile cron = new CronFileParser(settings, new Date())
                .parse(JobSource.DEFAULT, conf, Files.readString(conf, StandardCharsets.UTF_8));
        for (ConfigProblem p : cron.problems()) {
            System.out.println("skipped, the line has a problem: " + p);
        }
        Bench.printEnvironment(root);
        System.out.printf("sockets: %d lines in /proc/net/tcp, %d in /proc/net/tcp6%n", lines("/proc/net/tcp"), lines("/proc/net/tcp6"));
        System.out.printf("jobs from %s; %d warm-up run(s), then %d measured, %d ms apart%n%n", root.relativize(conf), warmup, runs, intervalMs);
        System.out.printf("%-44s %8s %8s %8s %8s %8s %8s %9s  %s%n", "job", "cpu mean", "p50", "p95", "max", "wall mean", "samples",
                "alloc KiB", "status");

        boolean compareMem = "on".equals(o.get("compare-mem"));
        Map<String, double[]> memCost = new LinkedHashMap<>();
        Map<String, Double> means = new LinkedHashMap<>();
        Map<String, String> peers = new LinkedHashMap<>();
        try (RunnerThreads threads = new RunnerThreads(4); PluginCatalog catalog = PluginCatalog.create(threads, settings)) {
            for (JobSpec job : cron.jobs()) {
                if (!only.matcher(job.name()).find()) {
                    continue;
                }
                Plugin plugin = catalog.check(job);
                JobMemory memory = new JobMemory();
                for (int i = 0; i < warmup; i++) {
                    plugin.run(job, memory);
                    TimeUnit.MILLISECONDS.sleep(intervalMs);
                }
                long[] cpu = new long[runs];
                long wall = 0;
                int samples = 0;
                long allocated = 0;
                long[] cpuOff = new long[runs];
                JobSpec off = new JobSpec(job.source(), job.file(), job.line(), job.key(), job.name(), job.cron(), job.pluginRef(),
                        job.pluginPath(), job.pluginColumn(), job.args(), job.options().withMem(0));
                Map<String, Integer> outcomes = new TreeMap<>();
                for (int i = 0; i < runs; i++) {
                    // With --compare-mem, the run without allocation checks goes first in odd pairs, so neither
                    // variant always follows the other (a run leaves caches warm for the next).
                    if (compareMem && i % 2 == 1) {
                        cpuOff[i] = plugin.run(off, memory).cpuNanos();
                        TimeUnit.MILLISECONDS.sleep(intervalMs);
                    }
                    RunResult r = plugin.run(job, memory);
                    cpu[i] = r.cpuNanos();
                    wall += r.wallNanos();
                    samples += r.measurements().size();
                    allocated += Math.max(0, r.allocatedBytes());
                    outcomes.merge(r.outcome().name().toLowerCase() + worst(r), 1, Integer::sum);
                    TimeUnit.MILLISECONDS.sleep(intervalMs);
                    if (compareMem && i % 2 == 0) {
                        cpuOff[i] = plugin.run(off, memory).cpuNanos();
                        TimeUnit.MILLISECONDS.sleep(intervalMs);
                    }
                }
                if (compareMem) {
                    memCost.put(job.name(), new double[] {Arrays.stream(cpu).average().orElse(-1) / 1e6,
                            Arrays.stream(cpuOff).average().orElse(-1) / 1e6, allocated / (double) runs, job.options().mem()});
                }
                Arrays.sort(cpu);
                double mean = Arrays.stream(cpu).average().orElse(-1) / 1e6;
                means.put(job.name(), mean);
                String peerFiles = catPeer(job);
                if (peerFiles != null) {
                    peers.put(job.name(), peerFiles);
                }
                System.out.printf("%-44s %8.3f %8.3f %8.3f %8.3f %9.3f %8.1f %9.0f  %s%n", abbreviate(job.name(), 44), mean,
                        percentile(cpu, 50), percentile(cpu, 95), cpu[runs - 1] / 1e6, wall / 1e6 / runs, samples / (double) runs,
                        allocated / 1024.0 / runs, outcomes);
            }
        }
        System.out.println("(CPU and wall time in ms per run; samples per run; bytes the plugin thread allocated per run, in KiB)");
        if (compareMem) {
            System.out.println();
            System.out.println("allocation checks: the job's mem budget against mem=0 (no checks), runs alternating, CPU ms per run");
            System.out.printf("%-44s %10s %10s %8s %12s %12s%n", "job", "with", "without", "ratio", "alloc KiB", "budget KiB");
            memCost.forEach((name, v) -> System.out.printf("%-44s %10.3f %10.3f %8.3f %12.0f %12.0f%n", abbreviate(name, 44), v[0], v[1],
                    v[0] / v[1], v[2] / 1024, v[3] / 1024));
        }

        System.out.println();
        System.out.println("peers: a bash loop forking `cat` on the plugin's /proc inputs; the children's CPU per iteration");
        for (Map.Entry<String, Double> e : means.entrySet()) {
            String files = peers.get(e.getKey());
            if (files == null) {
                continue;
            }
            double peer = catPeerMillis(files, peerRuns);
            if (peer < 0) {
                System.out.println(e.getKey() + ": no bash to run the peer; skipped");
                continue;
            }
            System.out.printf("%-18s cat %s%n%-18s   %.3f ms per cat; plugin / peer = %.2f%n", e.getKey(), files, "", peer, e.getValue() / peer);
        }
    }

    private static long lines(String file) throws IOException {
        Path p = Path.of(file);
        if (!Files.exists(p)) {
            return 0;
        }
        try (var s = Files.lines(p)) {
            return s.count() - 1;
        }
    }

    /** The worst sample status, when it differs from the run's outcome (a plugin reporting unknown, say). */
    private static String worst(RunResult r) {
        String out = "";
        for (Measurement m : r.measurements()) {
            if (!m.status().name().equals("OK")) {
                out = "/" + m.status().name().toLowerCase();
            }
        }
        return out;
    }

    private static double percentile(long[] sorted, int p) {
        int i = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))] / 1e6;
    }

    private static String abbreviate(String s, int n) {
        return s.length() <= n ? s : s.substring(0, n - 3) + "...";
    }

    private static final Pattern TIMES = Pattern.compile("(\\d+)m([\\d.]+)s\\s+(\\d+)m([\\d.]+)s");

    /**
     * CPU ms per iteration of {@code for i in 1..n; do cat FILES >/dev/null; done}, from bash's `times`
     * (getrusage of the reaped children, microsecond accounting): the fork and exec of cat and its reads.
     */
    private static double catPeerMillis(String files, int n) throws IOException, InterruptedException {
        if (!Files.isExecutable(Path.of("/bin/bash"))) {
            return -1;
        }
        String script = "for ((i = 0; i < " + n + "; i++)); do cat " + files + " > /dev/null; done; times";
        Process p = new ProcessBuilder("/bin/bash", "-c", script).redirectErrorStream(true).start();
        try {
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(5, TimeUnit.MINUTES) || p.exitValue() != 0) {
                throw new IOException("peer failed: " + out);
            }
            // times prints the shell's own user/sys, then its children's.
            String[] lines = out.strip().split("\n");
            Matcher m = TIMES.matcher(lines[lines.length - 1]);
            if (!m.find()) {
                throw new IOException("cannot read `times` output: " + out);
            }
            double seconds = Long.parseLong(m.group(1)) * 60 + Double.parseDouble(m.group(2))
                    + Long.parseLong(m.group(3)) * 60 + Double.parseDouble(m.group(4));
            return seconds * 1000 / n;
        } finally {
            p.destroyForcibly();
        }
    }
}
