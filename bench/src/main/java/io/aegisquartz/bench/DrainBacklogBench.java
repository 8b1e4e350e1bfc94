package io.aegisquartz.bench;

import io.aegisquartz.receive.Receiver;
import io.aegisquartz.output.DeadLetters;
import io.aegisquartz.output.OutputState;
import io.aegisquartz.output.OutputWorker;
import io.aegisquartz.output.WorkerConfig;
import io.aegisquartz.output.aegis.AegisOutput;
import io.aegisquartz.output.aegis.Credentials;
import io.aegisquartz.output.http.HttpTransport;
import io.aegisquartz.spool.CursorStats;
import io.aegisquartz.spool.Spool;
import io.aegisquartz.spool.SpoolConfig;
import io.aegisquartz.spool.SpoolCursor;
import io.aegisquartz.util.ExponentialBackoff;

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
 * with a large batch and a rate cap out of reach, which shows what the code itself can do.
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
              --dir           where spool, receiver output and keys go (default: bench/target)""";

    private static final String KEY_ID = "bench-key";
    private static final String SECRET = "bench-secret-not-for-production-0123456789";

    private DrainBacklogBench() {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> o = Bench.options(args, USAGE, "samples", "mode", "large-batch", "large-rate", "fill-threads",
                "timeout", "dir");
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
        boolean ok = true;
        if (!mode.equals("large")) {
            ok &= run("default (100 samples/500 KB, 20 req/s)", base, samples, fillThreads, timeout, c -> c);
        }
        if (!mode.equals("default")) {
            ok &= run("large (" + largeBatch + " samples/batch, " + (long) largeRate + " req/s)", base, samples, fillThreads, timeout,
                    c -> c.withBatch(largeBatch, 4096L * largeBatch).withRate(largeRate));
        }
        System.exit(ok ? 0 : 1);
    }

    private interface Tune {
        WorkerConfig apply(WorkerConfig defaults);
    }

    private static boolean run(String label, Path base, long samples, int fillThreads, double timeout, Tune tune) throws Exception {
        Path dir = Files.createTempDirectory(base, "drain-backlog-");
        System.out.printf("%n== %s, %,d samples ==%n", label, samples);
        // Room for the whole backlog: the default 256 MiB cap would drop the oldest part of 1M samples.
        SpoolConfig spoolConfig = SpoolConfig.forLimits(Math.max(SpoolConfig.DEFAULT_MAX_BYTES, samples * 1024), 0);
        try (Spool spool = Spool.open(dir.resolve("spool"), spoolConfig, List.of("aegis"), null)) {
            SpoolCursor cursor = spool.cursor("aegis");
            fill(spool, cursor, samples, fillThreads);

            Receiver.Config rc = new Receiver.Config()
                    .listen(new InetSocketAddress("127.0.0.1", 0))
                    .out(dir.resolve("received.jsonl"))
                    .stateDir(dir.resolve("receiver"))
                    .credentials(List.of(Credentials.of(KEY_ID, SECRET, null)))
                    // Large enough for the large-batch run: ~320 bytes of JSON per sample, gzip cannot grow it much.
                    .maxSamples(100_000)
                    .maxBody(64 << 20);
            try (Receiver receiver = Receiver.start(rc)) {
                // The agent's defaults for [upload]: 100 samples or 500 KB, 20 requests/s, live lane on.
                WorkerConfig uc = tune.apply(new WorkerConfig(100, 500_000, 20,
                        ExponentialBackoff.jittered(java.time.Duration.ofSeconds(1), java.time.Duration.ofMinutes(5)),
                        java.time.Duration.ofSeconds(15), true));
                System.out.printf("upload: %d samples or %,d bytes per request, at most %.0f requests/s (cap %.0f samples/s)%n",
                        uc.maxSamples(), uc.maxBytes(), uc.requestsPerSecond(), uc.maxSamples() * uc.requestsPerSecond());

                Map<String, Long> cpu0 = threadCpu();
                long proc0 = Bench.processCpuNanos();
                long t0 = System.nanoTime();
                OutputState us;
                boolean drained;
                double secs;
                double cpu;
                Map<String, Long> cpu1;
                HttpTransport http = new HttpTransport(receiver.endpoint(), false, receiver.certificatePem(), null, null,
                        java.time.Duration.ofSeconds(30));
                try (OutputWorker<?> worker = new OutputWorker<>(new AegisOutput("aegis", http, Credentials.of(KEY_ID, SECRET, null),
                        Bench.HOST_UUID), cursor, uc, new DeadLetters(dir.resolve("dead-letters.jsonl"), "aegis"), Bench.stamper()).start()) {
                    drained = awaitDrained(cursor, receiver, samples, t0, timeout);
                    secs = (System.nanoTime() - t0) / 1e9;
                    cpu = (Bench.processCpuNanos() - proc0) / 1e9;
                    cpu1 = threadCpu(); // before close: a finished thread's CPU time can no longer be read
                    us = worker.state();
                }
                Receiver.Stats rs = receiver.stats();
                long lines = countLines(dir.resolve("received.jsonl"));
                System.out.printf("drain: %s in %.1f s = %,.0f samples/s (target: 1,000,000 in <= 60 s = %,d samples/s)%n",
                        drained ? "all stored" : "TIMED OUT", secs, rs.acceptedSamples() / secs, 1_000_000 / 60);
                System.out.printf("  receiver: %,d requests, %,d accepted, %,d duplicates, %,d rejected requests; %,d lines in its file%n",
                        rs.requests(), rs.acceptedSamples(), rs.duplicateSamples(), rs.rejectedRequests(), lines);
                System.out.printf("  worker: %,d requests, %,d accepted, %,d duplicates, %,d dead-lettered, %,d sent live; spool pending %,d%n",
                        us.requests(), us.sentSamples(), us.duplicates(), us.deadLettered(), us.liveSent(), cursor.stats().pendingRecords());
                System.out.printf("  CPU: process %.1f s (%.2f cores busy, %.1f µs/sample); worker thread %.1f s, receiver threads %.1f s,"
                                + " other (GC, JIT, ...) %.1f s%n",
                        cpu, cpu / secs, cpu * 1e6 / Math.max(1, rs.acceptedSamples()), delta(cpu0, cpu1, "output") / 1e9,
                        delta(cpu0, cpu1, "receive") / 1e9,
                        cpu - (delta(cpu0, cpu1, "output") + delta(cpu0, cpu1, "receive")) / 1e9);
                return drained && lines == samples && rs.acceptedSamples() == samples;
            }
        } finally {
            Bench.deleteTree(dir);
        }
    }

    /** Appends {@code samples} realistic samples, 10 per call as one plugin run, from several threads. */
    private static void fill(Spool spool, SpoolCursor cursor, long samples, int threads) throws Exception {
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
        CursorStats st = cursor.stats();
        System.out.printf("fill: %,d samples (%,.0f MB, %.0f bytes each) in %.1f s = %,.0f samples/s with %d threads x 10 per call,"
                        + " %,d fsyncs, CPU %.1f s (JSON generation included)%n",
                st.pendingRecords(), st.pendingBytes() / 1e6, (double) st.pendingBytes() / st.pendingRecords() - 20, secs,
                samples / secs, threads, spool.forceCount() - forces0, (Bench.processCpuNanos() - cpu0) / 1e9);
        if (st.pendingRecords() != samples || st.dropped() != 0) {
            throw new IllegalStateException("spool holds " + st.pendingRecords() + " records, dropped " + st.dropped());
        }
    }

    /** Until the receiver has accepted all and the spool has been acknowledged to its end; false on timeout. */
    private static boolean awaitDrained(SpoolCursor spool, Receiver receiver, long samples, long t0, double timeout)
            throws InterruptedException {
        long deadline = t0 + (long) (timeout * 1e9);
        long nextReport = t0 + 30_000_000_000L;
        // The receiver's counter is an atomic read; the spool's stats take its lock, so only once the receiver is done.
        while (receiver.stats().acceptedSamples() < samples || spool.stats().pendingRecords() > 0) {
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
            String group = name.startsWith("aegis-output-") ? "output"
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
