package io.aegisquartz.bench;


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
 *
 * <p>With a reader (as in the agent, where outputs read and acknowledge while runs append), one
 * thread reads batches of 100 and acknowledges each, as fast as it can: what an acknowledgement
 * costs the appenders shows in their latency. With {@code --baseline JAR} (an agent jar of another
 * version; {@code bench/spool-append --baseline-ref main} builds one) every configuration runs on
 * both spools, one after the other in this JVM, and the table ends with this build's figures as a
 * ratio of the baseline's.
 */
public final class SpoolAppendBench {

    private static final String USAGE = """
            usage: bench/spool-append [--dir DIR] [--seconds S] [--fsync-seconds S] [--threads 1,4,8] [--per-call 1,10,50]
                                      [--reader off,on] [--baseline JAR | --baseline-ref REF]
              --dir            where the temporary files go (default: bench/target, the disk a spool would use)
              --seconds        measured time per configuration, after 1 s of warm-up (default 5)
              --fsync-seconds  time of each raw fsync measurement, before and after (default 5)
              --threads        appending threads (default 1,4,8)
              --per-call       samples per append call, i.e. per plugin run (default 1,10,50)
              --reader         without and/or with a thread reading and acknowledging batches of 100 meanwhile (default off,on)
              --baseline       an agent jar of another version: every configuration also runs on its spool, and the
                               table gives this build's records/s and p99 latency as a ratio of the baseline's
              --baseline-ref   (the shell script) builds the agent jar of a git revision, e.g. main, and passes it as --baseline""";

    /** Distinct records to cycle through, generated up front so JSON writing is not timed. */
    private static final int POOL = 20_000;

    private SpoolAppendBench() {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> o = Bench.options(args, USAGE, "dir", "seconds", "fsync-seconds", "threads", "per-call", "reader",
                "baseline");
        Path base = Paths.get(o.getOrDefault("dir", "bench/target")).toAbsolutePath();
        Files.createDirectories(base);
        Path dir = Files.createTempDirectory(base, "spool-append-");
        double seconds = Double.parseDouble(o.getOrDefault("seconds", "5"));
        double fsyncSeconds = Double.parseDouble(o.getOrDefault("fsync-seconds", "5"));
        List<Integer> threads = Bench.ints(o.getOrDefault("threads", "1,4,8"));
        List<Integer> perCall = Bench.ints(o.getOrDefault("per-call", "1,10,50"));
        List<Boolean> readers = java.util.Arrays.stream(o.getOrDefault("reader", "off,on").split(","))
                .map(x -> x.strip().equals("on")).toList();
        Path baseline = o.containsKey("baseline") ? Paths.get(o.get("baseline")).toAbsolutePath() : null;
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

            if (baseline != null) {
                System.out.println("baseline: " + baseline + " (its spool, in a class loader of its own, same JVM)");
            }
            List<String> versions = baseline == null ? List.of("this") : List.of("this", "base");
            List<Object[]> rows = new ArrayList<>();
            for (boolean reader : readers) {
                for (int t : threads) {
                    for (int n : perCall) {
                        for (String v : versions) {
                            System.err.printf("  running %s: %d thread(s) x %d per call%s ...%n", v, t, n, reader ? ", with a reader" : "");
                            Path d = dir.resolve("spool-" + v + "-" + t + "x" + n + (reader ? "-r" : ""));
                            Result r = appendRun(d, v.equals("this") ? x -> SpoolTarget.current(x, MAX_BYTES)
                                    : x -> SpoolTarget.baseline(baseline, x, MAX_BYTES), pool, t, n, seconds, reader);
                            rows.add(new Object[] {v, t, n, reader, r});
                        }
                    }
                }
            }            double fsyncAfter = rawFsyncRate(dir, fsyncSeconds, true);
            double overwriteAfter = rawFsyncRate(dir, fsyncSeconds, false);
            // The disk's rate can drift (cache, neighbours on a VM); compare against the mean of both measurements.
            double fsync = (fsyncBefore + fsyncAfter) / 2;
            System.out.printf("%7s %7s %8s %6s %12s %9s %10s %10s %10s %10s %9s %14s%n", "version", "threads", "per-call", "reader",
                    "records/s", "calls/s", "fsyncs", "rec/fsync", "p50 ms", "p99 ms", "acks/s", "rec/s÷fsync/s");
            for (Object[] row : rows) {
                Result r = (Result) row[4];
                System.out.printf("%7s %7d %8d %6s %12.0f %9.0f %10d %10.1f %10.3f %10.3f %9.0f %14.1f%n", row[0], row[1], row[2],
                        (Boolean) row[3] ? "on" : "off", r.recordsPerSecond(), r.callsPerSecond(), r.forces, r.recordsPerForce(),
                        r.p50Millis, r.p99Millis, r.acks / r.seconds, r.recordsPerSecond() / fsync);
            }
            if (baseline != null) {
                System.out.printf("%nthis build / baseline, per configuration:%n%7s %8s %6s %14s %14s %14s%n", "threads", "per-call",
                        "reader", "records/s", "p50 latency", "p99 latency");
                for (int i = 0; i + 1 < rows.size(); i += 2) {
                    Result a = (Result) rows.get(i)[4];
                    Result b = (Result) rows.get(i + 1)[4];
                    System.out.printf("%7d %8d %6s %14.2f %14.2f %14.2f%n", rows.get(i)[1], rows.get(i)[2],
                            (Boolean) rows.get(i)[3] ? "on" : "off", a.recordsPerSecond() / b.recordsPerSecond(),
                            a.p50Millis / b.p50Millis, a.p99Millis / b.p99Millis);
                }
            }
            System.out.printf("%nraw fsync, 4 KiB append: %.0f/s before, %.0f/s after; rec/s÷fsync/s uses the mean %.0f/s%n",
                    fsyncBefore, fsyncAfter, fsync);
            System.out.printf("raw fsync, 4 KiB overwrite (no metadata to commit): %.0f/s before, %.0f/s after%n",
                    overwriteBefore, overwriteAfter);
            double best = rows.stream().filter(r -> r[0].equals("this")).mapToDouble(r -> ((Result) r[4]).recordsPerSecond()).max().orElse(0);
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

    /** Far above anything a run appends: dropping segments would be a different benchmark. */
    private static final long MAX_BYTES = 64L << 30;

    /** Opens a spool of one version in a directory. */
    private interface Opener {
        SpoolTarget open(Path dir) throws Exception;
    }

    private record Result(long records, long calls, long forces, double seconds, double p50Millis, double p99Millis, long acks) {
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
    private static Result appendRun(Path spoolDir, Opener opener, List<byte[]> pool, int threads, int perCall, double seconds,
                                    boolean reader) throws Exception {
        try (SpoolTarget spool = opener.open(spoolDir)) {
            drive(spool, pool, threads, perCall, 1.0, null, reader);
            long forces0 = spool.forceCount();
            long[][] latencies = new long[threads][];
            long t0 = System.nanoTime();
            long[] counts = drive(spool, pool, threads, perCall, seconds, latencies, reader);
            double elapsed = (System.nanoTime() - t0) / 1e9;
            long forces = spool.forceCount() - forces0;
            long[] all = Arrays.stream(latencies).flatMapToLong(Arrays::stream).sorted().toArray();
            return new Result(counts[0], all.length, forces, elapsed, percentile(all, 0.50) / 1e6, percentile(all, 0.99) / 1e6,
                    counts[1]);
        } finally {
            Bench.deleteTree(spoolDir);
        }
    }

    /**
     * Runs the writers (and the reader, if asked) until {@code seconds} pass; returns {records appended,
     * acknowledgements}; fills per-thread call latencies if asked.
     */
    private static long[] drive(SpoolTarget spool, List<byte[]> pool, int threads, int perCall, double seconds, long[][] latencies,
                                boolean reader) throws Exception {
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
        java.util.concurrent.atomic.AtomicBoolean writing = new java.util.concurrent.atomic.AtomicBoolean(true);
        long[] acks = new long[1];
        Thread readerThread = null;
        if (reader) {
            readerThread = new Thread(() -> {
                try {
                    go.await();
                    while (writing.get()) {
                        if (spool.readAndAck(100) > 0) {
                            acks[0]++;
                        } else {
                            java.util.concurrent.locks.LockSupport.parkNanos(200_000); // caught up: a moment for the writers
                        }
                    }
                } catch (Throwable e) {
                    error.compareAndSet(null, e);
                }
            }, "bench-reader");
            readerThread.start();
        }
        go.countDown();
        for (Thread th : workers) {
            th.join();
        }
        writing.set(false);
        if (readerThread != null) {
            readerThread.join();
        }
        if (error.get() != null) {
            throw new IllegalStateException("append failed", error.get());
        }
        return new long[] {Arrays.stream(counts).sum(), acks[0]};
    }

    private static double percentile(long[] sorted, double p) {
        return sorted.length == 0 ? 0 : sorted[Math.min(sorted.length - 1, (int) (p * sorted.length))];
    }
}
