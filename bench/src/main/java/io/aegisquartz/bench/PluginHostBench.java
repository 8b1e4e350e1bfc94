package io.aegisquartz.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.aegisquartz.config.AgentSettings;
import io.aegisquartz.config.JobOptions;
import io.aegisquartz.config.JobSource;
import io.aegisquartz.config.JobSpec;
import io.aegisquartz.plugin.JobMemory;
import io.aegisquartz.plugin.Plugin;
import io.aegisquartz.plugin.catalog.PluginCatalog;
import io.aegisquartz.plugin.RunnerThreads;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.time.LocalTime;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The plugin host's cost, beside the same jobs run in the agent, in the same run.
 *
 * <p>Two agents start from the launcher (so with its JVM options and class-data archive), each with
 * five user Groovy jobs firing every 10 s: one runs them in the plugin host (the default), the other
 * with {@code isolation=inproc}. After the warm-up, both are measured over the same window: PSS, RSS
 * and anonymous memory of each process tree (launcher, agent, host), CPU time of each tree, and the
 * run duration the agent records for each run (for a run in the host: from sending it to the result,
 * so the protocol's cost is in it). Then, in the first agent, a plugin calls System.exit in the host
 * several times beside a healthy job firing every second, and the time from each exit's sample to
 * the healthy job's next sample is taken.
 */
public final class PluginHostBench {

    private static final String USAGE = """
            usage: bench/plugin-host [--runs N] [--warmup S] [--seconds S] [--exits N]

              --runs N      back-to-back runs of one plugin, warm, in a host and in this JVM (default 1000)
              --warmup S    seconds after both agents started before measuring (default 60)
              --seconds S   the measured window (default 300)
              --exits N     System.exit trials in the host (default 5)
            Needs a build (mvn -B -q -DskipTests package). See docs/BENCHMARKS.md, "Plugin host".""";

    private static final Path REPO = Path.of("").toAbsolutePath();
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long TICK_NANOS = 10_000_000L;
    private static final String JOB = """
            def f = new File('/proc/loadavg').text.split(/\\s+/)
            emit('load', [load1: f[0] as double, load5: f[1] as double, load15: f[2] as double])
            """;

    private PluginHostBench() {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> o = Bench.options(args, USAGE, "warmup", "seconds", "exits", "runs");
        int warmup = Integer.parseInt(o.getOrDefault("warmup", "60"));
        int seconds = Integer.parseInt(o.getOrDefault("seconds", "300"));
        int exits = Integer.parseInt(o.getOrDefault("exits", "5"));
        int runs = Integer.parseInt(o.getOrDefault("runs", "1000"));
        Path work = Files.createTempDirectory("aegis-plugin-host-bench");
        List<Process> started = new ArrayList<>();
        try {
            perRun(work.resolve("per-run"), runs);
            Path hostHome = home(work.resolve("host"), "");
            Path inHome = home(work.resolve("inproc"), "isolation=inproc ");
            // One at a time: the first start after a build makes the class-data archive both then map.
            Process host = launch(hostHome, started);
            awaitLog(hostHome, "started with");
            Process inproc = launch(inHome, started);
            awaitLog(inHome, "started with");
            System.out.printf(Locale.ROOT, "both agents started; warming up for %d s, then measuring for %d s%n", warmup, seconds);
            Thread.sleep(warmup * 1000L);

            Usage h0 = Usage.of(host.toHandle());
            Usage i0 = Usage.of(inproc.toHandle());
            long from = System.currentTimeMillis();
            List<Usage> hostMem = new ArrayList<>();
            List<Usage> inMem = new ArrayList<>();
            for (int t = 0; t < seconds; t += 10) {
                Thread.sleep(Math.min(10, seconds - t) * 1000L);
                hostMem.add(Usage.of(host.toHandle()));
                inMem.add(Usage.of(inproc.toHandle()));
            }
            long to = System.currentTimeMillis();
            Usage h1 = Usage.of(host.toHandle());
            Usage i1 = Usage.of(inproc.toHandle());

            double hostCpu = (h1.cpuNanos - h0.cpuNanos) / 1e9 / ((to - from) / 1e3) * 100;
            double inCpu = (i1.cpuNanos - i0.cpuNanos) / 1e9 / ((to - from) / 1e3) * 100;
            Usage hm = Usage.median(hostMem);
            Usage im = Usage.median(inMem);
            List<Double> hostRuns = durations(hostHome, from, to);
            List<Double> inRuns = durations(inHome, from, to);

            System.out.println();
            Bench.printEnvironment(work);
            System.out.printf(Locale.ROOT, "load average at the end: %s%n", Files.readString(Path.of("/proc/loadavg")).strip());
            System.out.printf(Locale.ROOT, "window: %d s, 5 user Groovy jobs every 10 s in each agent%n%n", (to - from) / 1000);
            System.out.println("| | plugin host | in the agent | host - agent | host / agent |");
            System.out.println("|---|---|---|---|---|");
            row("PSS, whole tree (MB, median)", hm.pssKb / 1024.0, im.pssKb / 1024.0);
            row("RSS, whole tree (MB, median)", hm.rssKb / 1024.0, im.rssKb / 1024.0);
            row("anonymous (MB, median)", hm.anonKb / 1024.0, im.anonKb / 1024.0);
            row("processes", hm.processes, im.processes);
            row("threads", hm.threads, im.threads);
            row("CPU (% of one core)", hostCpu, inCpu);
            row("run duration, median (ms)", percentile(hostRuns, 50), percentile(inRuns, 50));
            row("run duration, 90th percentile (ms)", percentile(hostRuns, 90), percentile(inRuns, 90));
            System.out.printf(Locale.ROOT, "runs measured: %d in the host, %d in the agent%n", hostRuns.size(), inRuns.size());
            inproc.toHandle().descendants().forEach(ProcessHandle::destroy);
            inproc.destroy();

            System.out.println();
            exitTrials(hostHome, exits);
            host.destroy();
        } finally {
            for (Process p : started) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
            }
            Bench.deleteTree(work);
        }
    }

    /**
     * One plugin run {@code n} times back to back, warm, in a plugin host and in this JVM, as the agent
     * runs it (PluginCatalog, a worker waiting for each run): wall time per run, and CPU per run of this
     * JVM and the host together. The difference is what the host adds to a run.
     */
    private static void perRun(Path home, int n) throws Exception {
        Files.createDirectories(home.resolve("conf"));
        Files.createDirectories(home.resolve("plugins-user"));
        Files.writeString(home.resolve("conf/aegis_config.ini"), "");
        Path plugin = home.resolve("plugins-user/load.groovy");
        write(plugin, JOB);
        AgentSettings settings = AgentSettings.load(home, home.resolve("conf"));
        System.out.printf(Locale.ROOT, "per run: %d runs of one Groovy plugin, back to back, after %d to warm up%n", n, n / 5);
        System.out.println("| | plugin host | in the agent | host - agent |");
        System.out.println("|---|---|---|---|");
        try (RunnerThreads threads = new RunnerThreads(8); PluginCatalog catalog = PluginCatalog.create(threads, settings, false, true)) {
            double[][] figures = new double[2][];
            for (JobOptions.Isolation iso : List.of(JobOptions.Isolation.HOST, JobOptions.Isolation.INPROC)) {
                JobSpec job = new JobSpec(JobSource.USER, home.resolve("conf/aegis_quartz.conf.user"), 1, "load", "load", "* * * * * ?",
                        "user/load.groovy", plugin, 1, List.of(), settings.defaultJobOptions().withIsolation(iso));
                Plugin p = catalog.check(job);
                JobMemory memory = new JobMemory();
                for (int i = 0; i < n / 5; i++) {
                    p.run(job, memory);
                }
                List<Double> wall = new ArrayList<>();
                long cpu0 = Bench.processCpuNanos() + catalog.host().cpuNanos();
                for (int i = 0; i < n; i++) {
                    long t = System.nanoTime();
                    p.run(job, memory);
                    wall.add((System.nanoTime() - t) / 1e6);
                }
                long cpu = Bench.processCpuNanos() + catalog.host().cpuNanos() - cpu0;
                figures[iso.ordinal()] = new double[] {percentile(wall, 50), percentile(wall, 90), cpu / 1e6 / n};
            }
            String[] names = {"wall per run, median (ms)", "wall per run, 90th percentile (ms)", "CPU per run, agent + host (ms)"};
            for (int i = 0; i < names.length; i++) {
                double host = figures[JobOptions.Isolation.HOST.ordinal()][i];
                double in = figures[JobOptions.Isolation.INPROC.ordinal()][i];
                System.out.printf(Locale.ROOT, "| %s | %.3f | %.3f | %+.3f |%n", names[i], host, in, host - in);
            }
        }
        System.out.println();
    }

    /** An agent home: the repository's default jobs off, five user Groovy jobs every 10 s, with {@code options} on each line. */
    private static Path home(Path home, String options) throws IOException {
        Files.createDirectories(home.resolve("conf"));
        Files.createDirectories(home.resolve("plugins-default"));
        Files.createDirectories(home.resolve("plugins-user"));
        Files.createDirectories(home.resolve("log"));
        Files.writeString(home.resolve("conf/aegis_config.ini"), "[plugins]\nreload_delay = 200ms\n[limits]\nbackoff_after = 1000\n"
                + "[log]\nconsole = never\n");
        Files.writeString(home.resolve("conf/aegis_quartz.conf.default"), "");
        StringBuilder cron = new StringBuilder();
        for (int i = 1; i <= 5; i++) {
            write(home.resolve("plugins-user/job" + i + ".groovy"), JOB);
            cron.append("[*/10 * * * * ?] name=job").append(i).append(' ').append(options).append("user/job").append(i).append(".groovy\n");
        }
        write(home.resolve("conf/aegis_quartz.conf.user"), cron.toString());
        return home;
    }

    private static void write(Path f, String text) throws IOException {
        Files.writeString(f, text);
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-r--r--"));
    }

    private static Process launch(Path home, List<Process> started) throws IOException {
        Process p = new ProcessBuilder(REPO.resolve("daemon/bin/aegis-quartz").toString(), "--home", home.toString(), "run")
                .redirectErrorStream(true).redirectOutput(home.resolve("launcher.out").toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        started.add(p);
        return p;
    }

    private static String log(Path home) throws IOException {
        Path f = home.resolve("log/aegis_quartz.log");
        return Files.exists(f) ? Files.readString(f) : "";
    }

    private static void awaitLog(Path home, String text) throws Exception {
        for (int i = 0; i < 1200 && !log(home).contains(text); i++) {
            Thread.sleep(100);
        }
        if (!log(home).contains(text)) {
            throw new IllegalStateException("the agent in " + home + " did not log '" + text + "':\n" + Files.readString(home.resolve("launcher.out")));
        }
    }

    private static List<JsonNode> samples(Path home) throws IOException {
        Path f = home.resolve("log/samples.jsonl");
        List<JsonNode> out = new ArrayList<>();
        if (!Files.exists(f)) {
            return out;
        }
        String text = Files.readString(f, StandardCharsets.UTF_8);
        for (String line : text.substring(0, text.lastIndexOf('\n') + 1).split("\n")) {
            if (!line.isBlank()) {
                out.add(JSON.readTree(line));
            }
        }
        return out;
    }

    private static long time(JsonNode s) {
        return Instant.parse(s.get("time").asText()).toEpochMilli();
    }

    /** duration_ms of the five jobs' ok samples in [from, to]. */
    private static List<Double> durations(Path home, long from, long to) throws IOException {
        List<Double> out = new ArrayList<>();
        for (JsonNode s : samples(home)) {
            if (s.get("job").asText().startsWith("job") && s.get("status").asText().equals("ok") && time(s) >= from && time(s) <= to) {
                out.add(s.get("duration_ms").asDouble());
            }
        }
        return out;
    }

    /**
     * A healthy job every second in the host; then, {@code n} times, a job that calls System.exit fires
     * once (a cron second a few seconds ahead) and is removed: from its error sample to the healthy
     * job's next ok sample.
     */
    private static void exitTrials(Path home, int n) throws Exception {
        write(home.resolve("plugins-user/healthy.groovy"), "emit('healthy', [v: 1])\n");
        write(home.resolve("plugins-user/exit.groovy"), "System.exit(0)\n");
        Path cron = home.resolve("conf/aegis_quartz.conf.user");
        String base = Files.readString(cron) + "[* * * * * ?] name=healthy user/healthy.groovy\n";
        write(cron, base);
        awaitSample(home, "healthy", "ok", 0);
        List<Long> delays = new ArrayList<>();
        for (int i = 1; i <= n; i++) {
            int second = (LocalTime.now().getSecond() + 4) % 60;
            write(cron, base + "[" + second + " * * * * ?] name=exit" + i + " user/exit.groovy\n");
            JsonNode exit = awaitSample(home, "exit" + i, "error", 0);
            write(cron, base);
            JsonNode next = awaitSample(home, "healthy", "ok", time(exit));
            delays.add(time(next) - time(exit));
            System.out.printf(Locale.ROOT, "exit %d: %s -> the healthy job's next sample %d ms later%n", i, exit.get("message").asText(),
                    time(next) - time(exit));
            Thread.sleep(3000);
        }
        List<Long> starts = new ArrayList<>();
        Matcher m = Pattern.compile("plugin host started: pid \\d+, .* in (\\d+) ms").matcher(log(home));
        while (m.find()) {
            starts.add(Long.parseLong(m.group(1)));
        }
        List<Double> d = delays.stream().map(Long::doubleValue).toList();
        System.out.printf(Locale.ROOT, "System.exit in the host -> the healthy job's next sample: median %.0f ms, max %.0f ms over %d exits; "
                + "host starts (to ready): median %.0f ms%n", percentile(d, 50), percentile(d, 100), d.size(),
                percentile(starts.stream().map(Long::doubleValue).toList(), 50));
    }

    /** The first sample of {@code job} with {@code status} after {@code after}, waiting up to 120 s. */
    private static JsonNode awaitSample(Path home, String job, String status, long after) throws Exception {
        for (int i = 0; i < 1200; i++) {
            for (JsonNode s : samples(home)) {
                if (s.get("job").asText().equals(job) && s.get("status").asText().equals(status) && time(s) > after) {
                    return s;
                }
            }
            Thread.sleep(100);
        }
        throw new IllegalStateException("no " + status + " sample of " + job + " within 120 s:\n" + log(home));
    }

    private static void row(String what, double host, double inproc) {
        System.out.printf(Locale.ROOT, "| %s | %.2f | %.2f | %+.2f | %.2f |%n", what, host, inproc, host - inproc, inproc == 0 ? 0 : host / inproc);
    }

    private static double percentile(List<Double> values, int p) {
        if (values.isEmpty()) {
            return Double.NaN;
        }
        List<Double> sorted = values.stream().sorted().toList();
        return sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(p / 100.0 * sorted.size()) - (p == 0 ? 0 : 1)));
    }

    /** Memory and CPU of a process and its descendants, from /proc. */
    private record Usage(long pssKb, long rssKb, long anonKb, long cpuNanos, int processes, int threads) {

        static Usage of(ProcessHandle root) {
            List<ProcessHandle> tree = new ArrayList<>();
            tree.add(root);
            root.descendants().forEach(tree::add);
            long pss = 0;
            long rss = 0;
            long anon = 0;
            long cpu = 0;
            int threads = 0;
            for (ProcessHandle p : tree) {
                try {
                    for (String line : Files.readAllLines(Path.of("/proc/" + p.pid() + "/smaps_rollup"))) {
                        String[] f = line.split("\\s+");
                        switch (f[0]) {
                            case "Pss:" -> pss += Long.parseLong(f[1]);
                            case "Rss:" -> rss += Long.parseLong(f[1]);
                            case "Anonymous:" -> anon += Long.parseLong(f[1]);
                            default -> {
                            }
                        }
                    }
                    String stat = Files.readString(Path.of("/proc/" + p.pid() + "/stat"));
                    String[] f = stat.substring(stat.lastIndexOf(')') + 2).trim().split(" ");
                    // utime, stime, and the children it reaped (compiler JVMs, plugin processes): every tick once.
                    cpu += (Long.parseLong(f[11]) + Long.parseLong(f[12]) + Long.parseLong(f[13]) + Long.parseLong(f[14])) * TICK_NANOS;
                    threads += Integer.parseInt(f[17]);
                } catch (IOException | RuntimeException e) {
                    // Ended meanwhile.
                }
            }
            return new Usage(pss, rss, anon, cpu, tree.size(), threads);
        }

        static Usage median(List<Usage> all) {
            List<Usage> byPss = all.stream().sorted(Comparator.comparingLong(Usage::pssKb)).toList();
            return byPss.get(byPss.size() / 2);
        }
    }
}
