package io.aegisquartz.bench;

import io.aegisquartz.receive.Receiver;
import io.aegisquartz.output.aegis.Credentials;
import io.aegisquartz.spool.SpoolConfig;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Time to drain a backlog of samples from the spool to the reference receiver over HTTPS on loopback.
 *
 * <p>Target (issue 3): 1,000,000 samples in at most 60 s. Run with the protocol's defaults (100
 * samples or 500 KB per request, at most 20 requests/s, so at most 2,000 samples/s by design) and
 * with a large batch and a rate cap out of reach, which shows what the code itself can do. With
 * {@code --baseline JAR} (another version's agent jar; {@code --baseline-ref main} builds one) each
 * mode drains the same backlog with that version too, in this JVM, and the ratio is printed.
 */
public final class DrainBacklogBench {

    private static final String USAGE = """
            usage: bench/drain-backlog [--samples N] [--mode both|default|large] [--large-batch N] [--large-rate R]
                                       [--fill-threads N] [--timeout S] [--dir DIR]
              --samples       backlog size (default 1000000)
              --mode          default: protocol defaults, 100 samples/500 KB per request, 20 requests/s;
                              large: --large-batch samples per request at --large-rate requests/s; both (default)
              --large-batch   samples per request in the large mode (default 1000)
              --large-rate    request rate cap in the large mode (default 1000, i.e. none in reach)
              --fill-threads  threads filling the spool, 10 samples per append like a plugin run (default 4)
              --timeout       give up draining after this many seconds (default 1200)
              --dir           where spool, receiver output and keys go (default: bench/target)
              --baseline      an agent jar of another version: each mode runs on it too, and the ratio is printed
              --rounds        with --baseline: runs per version and mode, in the order this, base, base, this, ... so that
                              warm-up and drift fall on both (default 2)
              --baseline-ref  (the shell script) builds the agent jar of a git revision, e.g. main, and passes it as --baseline""";

    private static final String KEY_ID = "bench-key";
    private static final String SECRET = "bench-secret-not-for-production-0123456789";

    private DrainBacklogBench() {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> o = Bench.options(args, USAGE, "samples", "mode", "large-batch", "large-rate", "fill-threads",
                "timeout", "dir", "baseline", "rounds");
        long samples = Long.parseLong(o.getOrDefault("samples", "1000000").replace("_", ""));
        String mode = o.getOrDefault("mode", "both");
        int largeBatch = Integer.parseInt(o.getOrDefault("large-batch", "1000"));
        double largeRate = Double.parseDouble(o.getOrDefault("large-rate", "1000"));
        int fillThreads = Integer.parseInt(o.getOrDefault("fill-threads", "4"));
        double timeout = Double.parseDouble(o.getOrDefault("timeout", "1200"));
        Path base = Paths.get(o.getOrDefault("dir", "bench/target")).toAbsolutePath();
        if (!List.of("both", "default", "large").contains(mode)) {
            System.err.println("--mode must be both, default or large\n" + USAGE);
            System.exit(2);
        }
        Files.createDirectories(base);
        Bench.printEnvironment(base);
        Path baseline = o.containsKey("baseline") ? Paths.get(o.get("baseline")).toAbsolutePath() : null;
        int rounds = baseline == null ? 1 : Integer.parseInt(o.getOrDefault("rounds", "2"));
        List<String> versions = new ArrayList<>();
        for (int i = 0; i < rounds; i++) {
            versions.addAll(baseline == null ? List.of("this") : i % 2 == 0 ? List.of("this", "base") : List.of("base", "this"));
        }
        boolean ok = true;
        List<String> ratios = new ArrayList<>();
        for (String m : List.of("default", "large")) {
            if (!mode.equals("both") && !mode.equals(m)) {
                continue;
            }
            double[] rate = new double[2];
            for (String version : versions) {
                Open open = version.equals("this") ? DrainTarget::current : (d, max) -> DrainTarget.baseline(baseline, d, max);
                Result r = m.equals("default") ? run("default (100 samples/500 KB, 20 req/s), " + version, base, samples, fillThreads,
                        timeout, open, 100, 500_000, 20) : run("large (" + largeBatch + " samples/batch, " + (long) largeRate + " req/s), "
                        + version, base, samples, fillThreads, timeout, open, largeBatch, 4096L * largeBatch, largeRate);
                ok &= r.ok;
                rate[version.equals("this") ? 0 : 1] += r.samplesPerSecond / rounds;
            }
            if (baseline != null) {
                ratios.add(String.format("%s: this build %,.0f samples/s, baseline %,.0f samples/s (means of %d runs each): %.2f x", m,
                        rate[0], rate[1], rounds, rate[0] / rate[1]));
            }
        }
        if (!ratios.isEmpty()) {
            System.out.println("\nthis build / baseline (" + baseline + "):");
            ratios.forEach(System.out::println);
        }
        System.exit(ok ? 0 : 1);
    }

    /** Opens the spool (and later the sender) of one version. */
    private interface Open {
        DrainTarget open(Path dir, long maxBytes) throws Exception;
    }

    private record Result(boolean ok, double samplesPerSecond) {
    }

    private static Result run(String label, Path base, long samples, int fillThreads, double timeout, Open open, int batch, long bytes,
                              double rateCap) throws Exception {
        Path dir = Files.createTempDirectory(base, "drain-backlog-");
        System.out.printf("%n== %s, %,d samples ==%n", label, samples);
        // Room for the whole backlog: the default 256 MiB cap would drop the oldest part of 1M samples.
        long maxBytes = Math.max(SpoolConfig.DEFAULT_MAX_BYTES, samples * 1024);
        try (DrainTarget spool = open.open(dir.resolve("spool"), maxBytes)) {
            fill(spool, samples, fillThreads);

            Receiver.Config rc = new Receiver.Config()
                    .listen(new InetSocketAddress("127.0.0.1", 0))
                    .out(dir.resolve("received.jsonl"))
                    .stateDir(dir.resolve("receiver"))
                    .credentials(List.of(Credentials.of(KEY_ID, SECRET, null)))
                    // Large enough for the large-batch run: ~320 bytes of JSON per sample, gzip cannot grow it much.
                    .maxSamples(100_000)
                    .maxBody(64 << 20);
            try (Receiver receiver = Receiver.start(rc)) {
                System.out.printf("upload: %d samples or %,d bytes per request, at most %.0f requests/s (cap %.0f samples/s)%n",
                        batch, bytes, rateCap, batch * rateCap);

                Map<String, Long> cpu0 = threadCpu();
                long proc0 = Bench.processCpuNanos();
                long t0 = System.nanoTime();
                String us;
                boolean drained;
                double secs;
                double cpu;
                Map<String, Long> cpu1;
                spool.send(receiver.endpoint(), receiver.certificatePem(), KEY_ID, SECRET, batch, bytes, rateCap,
                        dir.resolve("dead-letters.jsonl"));
                drained = awaitDrained(spool, receiver, samples, t0, timeout);
                secs = (System.nanoTime() - t0) / 1e9;
                cpu = (Bench.processCpuNanos() - proc0) / 1e9;
                cpu1 = threadCpu(); // before close: a finished thread's CPU time can no longer be read
                us = spool.counters();
                Receiver.Stats rs = receiver.stats();
                long lines = countLines(dir.resolve("received.jsonl"));
                System.out.printf("drain: %s in %.1f s = %,.0f samples/s (target: 1,000,000 in <= 60 s = %,d samples/s)%n",
                        drained ? "all stored" : "TIMED OUT", secs, rs.acceptedSamples() / secs, 1_000_000 / 60);
                System.out.printf("  receiver: %,d requests, %,d accepted, %,d duplicates, %,d rejected requests; %,d lines in its file%n",
                        rs.requests(), rs.acceptedSamples(), rs.duplicateSamples(), rs.rejectedRequests(), lines);
                System.out.printf("  sender: %s; spool pending %,d%n", us, spool.pending());
                System.out.printf("  CPU: process %.1f s (%.2f cores busy, %.1f µs/sample); sender thread %.1f s, receiver threads %.1f s,"
                                + " other (GC, JIT, ...) %.1f s%n",
                        cpu, cpu / secs, cpu * 1e6 / Math.max(1, rs.acceptedSamples()), delta(cpu0, cpu1, "output") / 1e9,
                        delta(cpu0, cpu1, "receive") / 1e9,
                        cpu - (delta(cpu0, cpu1, "output") + delta(cpu0, cpu1, "receive")) / 1e9);
                return new Result(drained && lines == samples && rs.acceptedSamples() == samples, rs.acceptedSamples() / secs);
            }
        } finally {
            Bench.deleteTree(dir);
        }
    }

    /** Appends {@code samples} realistic samples, 10 per call as one plugin run, from several threads. */
    private static void fill(DrainTarget spool, long samples, int threads) throws Exception {
        AtomicLong left = new AtomicLong(samples);
        AtomicReference<Throwable> error = new AtomicReference<>();
        long cpu0 = Bench.processCpuNanos();
        long forces0 = spool.forceCount();
        long t0 = System.nanoTime();
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            Thread th = new Thread(() -> {
                var stamper = Bench.stamper();
                try {
                    while (true) {
                        long before = left.getAndAdd(-10);
                        if (before <= 0) {
                            return;
                        }
                        spool.append(Bench.pluginRun(stamper, (int) Math.min(10, before)));
                    }
                } catch (Throwable e) {
                    error.compareAndSet(null, e);
                }
            }, "bench-fill-" + t);
            workers.add(th);
            th.start();
        }
        for (Thread th : workers) {
            th.join();
        }
        if (error.get() != null) {
            throw new IllegalStateException("filling the spool failed", error.get());
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        long pending = spool.pending();
        System.out.printf("fill: %,d samples in %.1f s = %,.0f samples/s with %d threads x 10 per call, %,d fsyncs, CPU %.1f s"
                        + " (JSON generation included)%n",
                pending, secs, samples / secs, threads, spool.forceCount() - forces0, (Bench.processCpuNanos() - cpu0) / 1e9);
        if (pending != samples) {
            throw new IllegalStateException("spool holds " + pending + " records, not " + samples);
        }
    }

    /** Until the receiver has accepted all and the spool has been acknowledged to its end; false on timeout. */
    private static boolean awaitDrained(DrainTarget spool, Receiver receiver, long samples, long t0, double timeout)
            throws Exception {
        long deadline = t0 + (long) (timeout * 1e9);
        long nextReport = t0 + 30_000_000_000L;
        // The receiver's counter is an atomic read; the spool's stats take its lock, so only once the receiver is done.
        while (receiver.stats().acceptedSamples() < samples || spool.pending() > 0) {
            long now = System.nanoTime();
            if (now > deadline) {
                return false;
            }
            if (now > nextReport) {
                nextReport += 30_000_000_000L;
                System.err.printf("  ... %.0f s: %,d stored%n", (now - t0) / 1e9, receiver.stats().acceptedSamples());
            }
            Thread.sleep(2);
        }
        return true;
    }

    /** CPU time of live threads by group: the output worker's thread, and the receiver's workers and HTTP dispatcher. */
    private static Map<String, Long> threadCpu() {
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        Map<String, Long> out = new HashMap<>();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            String name = t.getName();
            String group = name.startsWith("aegis-output-") || name.equals("aegis-upload") ? "output"
                    : name.startsWith("receive-") || name.startsWith("HTTP-Dispatcher") ? "receive" : "other";
            long ns = mx.getThreadCpuTime(t.getId());
            if (ns > 0) {
                out.merge(group, ns, Long::sum);
            }
        }
        return out;
    }

    private static long delta(Map<String, Long> before, Map<String, Long> after, String group) {
        return after.getOrDefault(group, 0L) - before.getOrDefault(group, 0L);
    }

    private static long countLines(Path file) throws IOException {
        long n = 0;
        byte[] buf = new byte[1 << 16];
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file))) {
            int r;
            while ((r = in.read(buf)) > 0) {
                for (int i = 0; i < r; i++) {
                    if (buf[i] == '\n') {
                        n++;
                    }
                }
            }
        }
        return n;
    }
}
