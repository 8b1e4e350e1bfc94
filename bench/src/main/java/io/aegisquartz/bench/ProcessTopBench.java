package io.aegisquartz.bench;

import io.aegisquartz.config.AgentSettings;
import io.aegisquartz.config.JobOptions;
import io.aegisquartz.config.JobSource;
import io.aegisquartz.config.JobSpec;
import io.aegisquartz.plugin.AbandonedThreads;
import io.aegisquartz.plugin.InJvmRunner;
import io.aegisquartz.plugin.JobMemory;
import io.aegisquartz.plugin.RunResult;
import io.aegisquartz.plugin.RunnerThreads;
import io.aegisquartz.plugin.exec.ProcessRunner;
import io.aegisquartz.plugin.groovy.GroovyPlugin;
import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Status;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * CPU time of one run of plugins-default/process_top.groovy against {@code ps -eo pid,pcpu,rss,comm}
 * over the same processes, in the same JVM run, at several process counts.
 *
 * <p>Target (issue 4): process_top at 1,000 processes costs no more than that ps call. The bench
 * tops the host up to each process count with sleeping processes of distinct command lines (the worst
 * case for process_top: one group and one identity per process), and kills them by PID afterwards.
 *
 * <p>process_top's cost is everything its run makes the machine do: the CPU of this whole JVM over
 * the run (plugin thread, the threads that start and read ss, GC, JIT) plus the CPU of the ss child.
 * ps's cost is the ps process's own CPU (its rusage). Children's CPU is read from this JVM's
 * cutime + cstime in /proc/self/stat, which grow by each reaped child's total; the values are in
 * 10 ms ticks, so they are summed over all measured runs before dividing.
 */
public final class ProcessTopBench {

    private static final String USAGE = """
            usage: bench/process-top [--counts 100,1000,5000] [--warmup N] [--runs N] [--top N]
              --counts  process counts to measure at; the host is topped up to each with sleeping processes (default 100,1000,5000)
              --warmup  runs of process_top after its first, reported apart (default 10)
              --runs    measured runs of each, process_top and ps alternating (default 30)
              --top     process_top's --top (default 10)""";

    private ProcessTopBench() {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> o = Bench.options(args, USAGE, "counts", "runs", "warmup", "top");
        List<Integer> counts = Bench.ints(o.getOrDefault("counts", "100,1000,5000"));
        int runs = Integer.parseInt(o.getOrDefault("runs", "30"));
        int warmup = Integer.parseInt(o.getOrDefault("warmup", "10"));
        String top = o.getOrDefault("top", "10");
        Path plugin = Paths.get("plugins-default/process_top.groovy").toAbsolutePath();

        Bench.printEnvironment(Paths.get("."));
        System.out.printf("kernel %s, %s%n", Files.readString(Path.of("/proc/sys/kernel/osrelease")).strip(), version("ps", "--version"));
        System.out.printf("%s; process_top %s --top %s%n%n", version("ss", "-V"), plugin, top);

        RunnerThreads threads = new RunnerThreads(8);
        ProcessRunner processes = new ProcessRunner(threads);
        InJvmRunner inJvm = new InJvmRunner(new AbandonedThreads());
        JobOptions limits = AgentSettings.defaults(Path.of("/nonexistent"), Path.of("/nonexistent/conf")).defaultJobOptions()
                .withTimeout(Duration.ofSeconds(60)).withCpu(Duration.ofSeconds(60)).withOutputMax(16L << 20);
        JobSpec job = new JobSpec(JobSource.DEFAULT, plugin.resolveSibling("aegis_quartz.conf.default"), 1, "bench", "process_top",
                "0 * * * * ?", "default/process_top.groovy", plugin, 1, List.of("--top", top), limits);

        Path tmp = Files.createTempDirectory("process-top-bench-");
        Path busyCopy = withoutIdleShortcut(plugin, tmp);
        JobSpec busyJob = busyCopy == null ? null : new JobSpec(JobSource.DEFAULT, tmp.resolve("aegis_quartz.conf.default"), 1, "bench-busy",
                "process_top_busy", "0 * * * * ?", "default/process_top.groovy", busyCopy, 1, List.of("--top", top), limits);
        if (busyCopy == null) {
            System.out.println("(the idle shortcut was not found in the plugin: no all-busy column)");
        }
        System.out.printf("%9s %6s | %10s %10s %9s %11s | %9s | %8s | %10s %8s | %10s %10s%n", "processes", "groups", "plugin thr", "JVM total",
                "ss child", "process_top", "ps", "ratio", "all busy", "ratio", "first run", "warm-up");
        System.out.printf("%9s %6s | %10s %10s %9s %11s | %9s | %8s | %10s %8s | %10s %10s%n", "", "", "ms/run", "ms/run", "ms/run", "ms/run", "ms/run",
                "top÷ps", "ms/run", "busy÷ps", "ms", "ms/run");
        try {
            for (int count : counts) {
                List<ProcessHandle> extra = new ArrayList<>();
                Process parent = null;
                try {
                    int have = countProcesses();
                    if (count > have) {
                        parent = sleepers(count - have);
                        Process p = parent;
                        while (p.children().count() < count - have) {
                            Thread.sleep(50);
                            if (!p.isAlive()) {
                                throw new IllegalStateException("the shell starting sleepers died");
                            }
                        }
                        extra.addAll(p.children().toList());
                    }
                    GroovyPlugin busy = busyCopy == null ? null : GroovyPlugin.compile(busyCopy, inJvm, processes);
                    row(count, have, GroovyPlugin.compile(plugin, inJvm, processes), job, busy, busyJob, warmup, runs);
                } finally {
                    for (ProcessHandle h : extra) {
                        h.destroyForcibly();
                    }
                    if (parent != null) {
                        parent.destroyForcibly();
                        parent.waitFor(30, TimeUnit.SECONDS);
                    }
                    for (ProcessHandle h : extra) {
                        h.onExit().get(30, TimeUnit.SECONDS);
                    }
                }
            }
        } finally {
            threads.close();
            if (busyCopy != null) {
                Files.delete(busyCopy);
            }
            Files.delete(tmp);
        }
    }

    private static void row(int count, int had, GroovyPlugin plugin, JobSpec job, GroovyPlugin busy, JobSpec busyJob, int warmup, int runs)
            throws Exception {
        JobMemory memory = new JobMemory();
        JobMemory busyMemory = new JobMemory();
        // The first run reads every process's cmdline and has no rates; the next few still run code
        // that C1 has not compiled yet. Both are reported, but not in the steady-state figures: the
        // agent runs process_top every minute for as long as it is up.
        long cpu0 = Bench.processCpuNanos();
        long kids0 = childTicks();
        check(plugin.run(job, memory));
        double firstMs = (Bench.processCpuNanos() - cpu0) / 1e6 + (childTicks() - kids0) * 10.0;
        cpu0 = Bench.processCpuNanos();
        kids0 = childTicks();
        for (int i = 0; i < warmup; i++) {
            check(plugin.run(job, memory));
        }
        double warmMs = warmup == 0 ? 0 : ((Bench.processCpuNanos() - cpu0) / 1e6 + (childTicks() - kids0) * 10.0) / warmup;
        for (int i = 0; i <= warmup && busy != null; i++) {
            check(busy.run(busyJob, busyMemory));
        }

        long threadNanos = 0;
        long jvmNanos = 0;
        long ssTicks = 0;
        long busyNanos = 0;
        long psTicks = 0;
        double processesSeen = 0;
        double groups = 0;
        for (int i = 0; i < runs; i++) {
            // Interleaved: each run of one is next to a run of the others, on the same processes.
            long kids = childTicks();
            long cpu = Bench.processCpuNanos();
            RunResult r = check(plugin.run(job, memory));
            jvmNanos += Bench.processCpuNanos() - cpu;
            ssTicks += childTicks() - kids;
            threadNanos += r.cpuNanos();
            Measurement summary = r.measurements().stream().filter(m -> m.metric().equals("process_top_summary")).findFirst().orElseThrow();
            processesSeen += summary.values().get("processes");
            groups += summary.values().get("groups");

            if (busy != null) {
                kids = childTicks();
                cpu = Bench.processCpuNanos();
                check(busy.run(busyJob, busyMemory));
                busyNanos += Bench.processCpuNanos() - cpu + (childTicks() - kids) * 10_000_000L;
            }

            kids = childTicks();
            ps();
            psTicks += childTicks() - kids;
        }
        double thread = threadNanos / 1e6 / runs;
        double jvm = jvmNanos / 1e6 / runs;
        double ss = ssTicks * 10.0 / runs;
        double ps = psTicks * 10.0 / runs;
        double allBusy = busyNanos / 1e6 / runs;
        String note = count < had ? String.format(" (asked %d; the host already had %d)", count, had) : "";
        System.out.printf("%9.0f %6.0f | %10.1f %10.1f %9.1f %11.1f | %9.1f | %8.2f | %10.1f %8.2f | %10.1f %10.1f%s%n", processesSeen / runs,
                groups / runs, thread, jvm, ss, jvm + ss, ps, (jvm + ss) / ps, allBusy, allBusy / ps, firstMs, warmMs, note);
    }

    /**
     * A copy of the plugin without its shortcut for processes that used no CPU since the last run
     * (only their stat file is read): the cost when every process is busy. Null if the shortcut's
     * line is not found (the plugin changed; update IDLE).
     */
    private static Path withoutIdleShortcut(Path plugin, Path dir) throws IOException {
        String text = Files.readString(plugin);
        if (!text.contains(IDLE)) {
            return null;
        }
        Path copy = dir.resolve("process_top.groovy");
        Files.writeString(copy, text.replace(IDLE, "false && " + IDLE));
        return copy;
    }

    private static final String IDLE = "known && cpu == r.cpu && !r.kthread";

    private static RunResult check(RunResult r) {
        if (r.outcome() != Status.OK) {
            throw new IllegalStateException("process_top failed: " + r.reason());
        }
        return r;
    }

    /** Runs ps as a shell would, reading and discarding its output. */
    private static void ps() throws Exception {
        Process p = new ProcessBuilder("ps", "-eo", "pid,pcpu,rss,comm").redirectErrorStream(true).start();
        try (InputStream in = p.getInputStream()) {
            in.transferTo(java.io.OutputStream.nullOutputStream());
        }
        if (p.waitFor() != 0) {
            throw new IllegalStateException("ps failed");
        }
    }

    /** Starts n sleeping processes with distinct command lines, children of one shell. */
    private static Process sleepers(int n) throws IOException {
        return new ProcessBuilder("sh", "-c", "i=0; while [ $i -lt " + n + " ]; do sleep $((100000 + i)) </dev/null >/dev/null 2>&1 & i=$((i + 1)); done; wait")
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    }

    private static int countProcesses() {
        int n = 0;
        for (String s : new File("/proc").list()) {
            if (!s.isEmpty() && Character.isDigit(s.charAt(0))) {
                n++;
            }
        }
        return n;
    }

    /** cutime + cstime of this JVM: CPU ticks of all children it has reaped. */
    private static long childTicks() throws IOException {
        String stat = Files.readString(Path.of("/proc/self/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[16 - 3]) + Long.parseLong(f[17 - 3]);
    }

    private static String version(String... command) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line = r.readLine();
                p.waitFor();
                return line == null ? command[0] + " (no version)" : line.strip();
            }
        } catch (IOException | InterruptedException e) {
            return command[0] + " not found";
        }
    }
}
