package io.aegisquartz.bench;

import io.aegisquartz.spool.Spool;
import io.aegisquartz.spool.SpoolConfig;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Durable append throughput of the spool with group commit, against the raw fsync rate of the same
 * filesystem measured in the same run.
 *
 * <p>Target (issue 3): at least 100,000 records/s. A single writer can never beat the fsync rate
 * times its batch size, so the figure that says whether group commit works is records per fsync,
 * and records/s divided by raw fsyncs/s.
 */
public final class SpoolAppendBench {

    private static final String USAGE = """
            usage: bench/spool-append [--dir DIR] [--seconds S] [--fsync-seconds S] [--threads 1,4,8] [--per-call 1,10,50]
              --dir            where the temporary files go (default: bench/target, the disk a spool would use)
              --seconds        measured time per configuration, after 1 s of warm-up (default 5)
              --fsync-seconds  time of each raw fsync measurement, before and after (default 5)
              --threads        appending threads (default 1,4,8)
              --per-call       samples per append call, i.e. per plugin run (default 1,10,50)""";

    /** Distinct records to cycle through, generated up front so JSON writing is not timed. */
    private static final int POOL = 20_000;

    private SpoolAppendBench() {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> o = Bench.options(args, USAGE, "dir", "seconds", "fsync-seconds", "threads", "per-call");
        Path base = Paths.get(o.getOrDefault("dir", "bench/target")).toAbsolutePath();
        Files.createDirectories(base);
        Path dir = Files.createTempDirectory(base, "spool-append-");
        double seconds = Double.parseDouble(o.getOrDefault("seconds", "5"));
        double fsyncSeconds = Double.parseDouble(o.getOrDefault("fsync-seconds", "5"));
        List<Integer> threads = Bench.ints(o.getOrDefault("threads", "1,4,8"));
        List<Integer> perCall = Bench.ints(o.getOrDefault("per-call", "1,10,50"));
        try {
            Bench.printEnvironment(dir);
            List<byte[]> pool = new ArrayList<>(POOL);
            while (pool.size() < POOL) {
                pool.addAll(Bench.pluginRun(Bench.stamper(), 50));
            }
            System.out.printf("records: %d distinct, mean %.0f bytes of JSON each%n", pool.size(),
                    pool.stream().mapToInt(b -> b.length).average().orElse(0));

            // Untimed first second: writeback left by whatever ran just before (a build) would slow the first fsyncs.
            rawFsyncRate(dir, 1, true);
            double fsyncBefore = rawFsyncRate(dir, fsyncSeconds, true);
            double overwriteBefore = rawFsyncRate(dir, fsyncSeconds, false);
            System.out.printf("raw fsync: %.0f/s appending 4 KiB + force(false); %.0f/s overwriting one 4 KiB block + force(false)%n%n",
                    fsyncBefore, overwriteBefore);

            System.out.printf("%7s %8s %12s %9s %10s %12s %10s %10s %14s%n", "threads", "per-call", "records/s", "calls/s",
                    "fsyncs", "rec/fsync", "p50 ms", "p99 ms", "rec/s÷fsync/s");
            List<double[]> rows = new ArrayList<>();
            for (int t : threads) {
                for (int n : perCall) {
                    System.err.printf("  running %d thread(s) x %d per call ...%n", t, n);
                    Result r = appendRun(dir.resolve("spool-" + t + "x" + n), pool, t, n, seconds);
                    rows.add(new double[] {t, n, r.recordsPerSecond(), r.callsPerSecond(), r.forces, r.recordsPerForce(),
                            r.p50Millis, r.p99Millis});
                }
            }
            double fsyncAfter = rawFsyncRate(dir, fsyncSeconds, true);
            double overwriteAfter = rawFsyncRate(dir, fsyncSeconds, false);
            // The disk's rate can drift (cache, neighbours on a VM); compare against the mean of both measurements.
            double fsync = (fsyncBefore + fsyncAfter) / 2;
            for (double[] row : rows) {
                System.out.printf("%7.0f %8.0f %12.0f %9.0f %10.0f %12.1f %10.3f %10.3f %14.1f%n", row[0], row[1], row[2], row[3],
                        row[4], row[5], row[6], row[7], row[2] / fsync);
            }
            System.out.printf("%nraw fsync, 4 KiB append: %.0f/s before, %.0f/s after; rec/s÷fsync/s uses the mean %.0f/s%n",
                    fsyncBefore, fsyncAfter, fsync);
            System.out.printf("raw fsync, 4 KiB overwrite (no metadata to commit): %.0f/s before, %.0f/s after%n",
                    overwriteBefore, overwriteAfter);
            double best = rows.stream().mapToDouble(r -> r[2]).max().orElse(0);
            System.out.printf("best: %.0f records/s = %.2f x the 100,000/s target%n", best, best / 100_000);
        } finally {
            Bench.deleteTree(dir);
        }
    }

    /**
     * 4 KiB written and fdatasync'ed in a loop: what one durable write costs on this disk. Appending
     * (the definition) makes every force also commit a new block and the file size; overwriting
     * one block flushes data only, the cheapest fsync there is. The spool's appends fall in between:
     * it grows its file, but by ~350 bytes per record, so most forces allocate no new block.
     */
    static double rawFsyncRate(Path dir, double seconds, boolean append) throws IOException {
        Path file = dir.resolve("fsync.tmp");
        ByteBuffer block = ByteBuffer.allocateDirect(4096);
        long count = 0;
        long start;
        long end;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            start = System.nanoTime();
            long stop = start + (long) (seconds * 1e9);
            long pos = 0;
            do {
                block.clear();
                while (block.hasRemaining()) {
                    pos += ch.write(block, pos);
                }
                if (!append) {
                    pos = 0;
                }
                ch.force(false);
                count++;
                end = System.nanoTime();
            } while (end < stop);
        } finally {
            Files.deleteIfExists(file);
        }
        return count / ((end - start) / 1e9);
    }

    private record Result(long records, long calls, long forces, double seconds, double p50Millis, double p99Millis) {
        double recordsPerSecond() {
            return records / seconds;
        }

        double callsPerSecond() {
            return calls / seconds;
        }

        double recordsPerForce() {
            return forces == 0 ? 0 : (double) records / forces;
        }
    }

    /**
     * {@code threads} writers each appending {@code perCall} records per call for {@code seconds},
     * after a 1 s warm-up on the same spool. A fresh spool per configuration, deleted afterwards.
     */
    private static Result appendRun(Path spoolDir, List<byte[]> pool, int threads, int perCall, double seconds) throws Exception {
        // No size cap in reach: dropping segments would be a different benchmark.
        SpoolConfig config = SpoolConfig.defaults().withMaxBytes(64L << 30);
        try (Spool spool = Spool.open(spoolDir, config, List.of("bench"), null)) {
            drive(spool, pool, threads, perCall, 1.0, null);
            long forces0 = spool.forceCount();
            long[][] latencies = new long[threads][];
            long t0 = System.nanoTime();
            long records = drive(spool, pool, threads, perCall, seconds, latencies);
            double elapsed = (System.nanoTime() - t0) / 1e9;
            long forces = spool.forceCount() - forces0;
            long[] all = Arrays.stream(latencies).flatMapToLong(Arrays::stream).sorted().toArray();
            return new Result(records, all.length, forces, elapsed, percentile(all, 0.50) / 1e6, percentile(all, 0.99) / 1e6);
        } finally {
            Bench.deleteTree(spoolDir);
        }
    }

    /** Runs the writers until {@code seconds} pass; returns records appended; fills per-thread call latencies if asked. */
    private static long drive(Spool spool, List<byte[]> pool, int threads, int perCall, double seconds, long[][] latencies)
            throws Exception {
        CountDownLatch go = new CountDownLatch(1);
        AtomicReference<Throwable> error = new AtomicReference<>();
        long[] counts = new long[threads];
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int id = t;
            Thread th = new Thread(() -> {
                long[] lat = new long[1 << 16];
                int nLat = 0;
                int next = (POOL / threads) * id;
                try {
                    go.await();
                    long stop = System.nanoTime() + (long) (seconds * 1e9);
                    long now;
                    do {
                        // A fresh list per call, as the agent builds one per plugin run.
                        List<byte[]> batch = new ArrayList<>(perCall);
                        for (int i = 0; i < perCall; i++) {
                            batch.add(pool.get(next));
                            next = next + 1 == POOL ? 0 : next + 1;
                        }
                        long before = System.nanoTime();
                        if (perCall == 1) {
                            spool.append(batch.get(0));
                        } else {
                            spool.append(batch);
                        }
                        now = System.nanoTime();
                        counts[id] += perCall;
                        if (nLat == lat.length) {
                            lat = Arrays.copyOf(lat, lat.length * 2);
                        }
                        lat[nLat++] = now - before;
                    } while (now < stop);
                } catch (Throwable e) {
                    error.compareAndSet(null, e);
                }
                if (latencies != null) {
                    latencies[id] = Arrays.copyOf(lat, nLat);
                }
            }, "bench-append-" + t);
            workers.add(th);
            th.start();
        }
        go.countDown();
        for (Thread th : workers) {
            th.join();
        }
        if (error.get() != null) {
            throw new IllegalStateException("append failed", error.get());
        }
        return Arrays.stream(counts).sum();
    }

    private static double percentile(long[] sorted, double p) {
        return sorted.length == 0 ? 0 : sorted[Math.min(sorted.length - 1, (int) (p * sorted.length))];
    }
}
