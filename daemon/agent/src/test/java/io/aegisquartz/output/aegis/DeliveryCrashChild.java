package io.aegisquartz.output.aegis;

import io.aegisquartz.output.DeadLetters;
import io.aegisquartz.output.OutputWorker;
import io.aegisquartz.output.WorkerConfig;
import io.aegisquartz.output.http.HttpTransport;
import io.aegisquartz.sample.SampleStamper;
import io.aegisquartz.spool.Spool;
import io.aegisquartz.util.ExponentialBackoff;
import io.aegisquartz.spool.SpoolConfig;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Run by {@link DeliveryCrashTest} in its own JVM, the way the agent runs: a spool, the aegis output's worker, and
 * two writers appending runs of 5 samples. Prints "D id" for each sample once it is durable. In
 * drain mode it only uploads. Killed with SIGKILL.
 *
 * <p>Arguments: spool dir, endpoint, CA PEM, key id, secret, first sample number, mode (write|drain).
 */
public final class DeliveryCrashChild {

    /** Runs of 5 samples each writer appends before it stops. */
    static final int RUNS_PER_WRITER = 100;

    /** Samples per request: a few times the protocol default, so 30 lives' backlog drains quickly. */
    static final int BATCH = 500;

    private DeliveryCrashChild() {
    }

    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), false, StandardCharsets.UTF_8);
        Spool spool = Spool.open(Path.of(args[0]), SpoolConfig.defaults().withSegmentBytes(64 << 10).withMinFreeBytes(0), java.util.List.of("aegis"), "aegis");
        WorkerConfig config = new WorkerConfig(BATCH, 500_000, 20, ExponentialBackoff.jittered(Duration.ofMillis(20), Duration.ofMillis(200)),
                Duration.ZERO, true);
        HttpTransport http = new HttpTransport(URI.create(args[1]), false, Path.of(args[2]), null, null, Duration.ofSeconds(30));
        new OutputWorker<>(new AegisOutput("aegis", http, Credentials.of(args[3], args[4], null),
                "host-under-test"), spool.cursor("aegis"), config, new DeadLetters(Path.of(args[0]).resolve("dead-letter-aegis.jsonl"),
                "aegis"), new SampleStamper("host-under-test", "vm")).start();
        long first = Long.parseLong(args[5]);
        if (args[6].equals("write")) {
            startWriters(spool, first, out);
        }
        // The worker's thread is a daemon: keep the JVM alive until the test kills it.
        Thread.currentThread().join();
    }

    private static void startWriters(Spool spool, long first, PrintStream out) {
        for (int t = 0; t < 2; t++) {
            long base = first + t * 10_000_000L;
            Thread th = new Thread(() -> {
                try {
                    // A bounded burst per life (the test kills it long before the end most of the time),
                    // so the backlog across 30 lives stays drainable.
                    for (long n = base; n < base + RUNS_PER_WRITER * 5; n += 5) {
                        List<byte[]> run = new ArrayList<>(5);
                        List<String> ids = new ArrayList<>(5);
                        for (long k = n; k < n + 5; k++) {
                            String id = "crash-" + k;
                            ids.add(id);
                            run.add(sample(id).getBytes(StandardCharsets.UTF_8));
                        }
                        spool.append(run);
                                        synchronized (out) {
                            for (String id : ids) {
                                out.println("D " + id);
                            }
                            out.flush();
                        }
                    }
                } catch (Exception e) {
                    System.exit(3);
                }
            });
            th.start();
        }
    }

    static String sample(String id) {
        return "{\"id\":\"" + id + "\",\"time\":\"2026-11-22T01:32:30.236Z\",\"host_uuid\":\"host-under-test\",\"hostname\":\"vm\","
                + "\"job\":\"crash\",\"plugin\":\"user/crash.sh\",\"metric\":\"crash\",\"status\":\"ok\",\"values\":{\"n\":1},"
                + "\"tags\":{},\"duration_ms\":1.0,\"cpu_ms\":1.0}";
    }
}
