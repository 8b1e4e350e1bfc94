package io.aegisquartz.upload;

import io.aegisquartz.spool.Spool;
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
 * Run by {@link UploadCrashTest} in its own JVM, the way the agent runs: a spool, an uploader, and
 * two writers appending runs of 5 samples. Prints "D id" for each sample once it is durable, and
 * "EMPTY" once nothing is pending (in drain mode, where it does not write). Killed with SIGKILL.
 *
 * <p>Arguments: spool dir, endpoint, CA PEM, key id, secret, first sample number, mode (write|drain).
 */
public final class UploadCrashChild {

    private UploadCrashChild() {
    }

    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), false, StandardCharsets.UTF_8);
        Spool spool = Spool.open(Path.of(args[0]), SpoolConfig.defaults().withSegmentBytes(64 << 10).withMinFreeBytes(0));
        UploadConfig config = UploadConfig.defaults(URI.create(args[1]), Path.of(args[0]).resolve("dead-letter.jsonl"))
                .withCaFile(Path.of(args[2])).withBackoff(Duration.ofMillis(20), Duration.ofMillis(200));
        Uploader uploader = Uploader.start(spool, config, Credentials.of(args[3], args[4], null), "host-under-test");
        long first = Long.parseLong(args[5]);
        if (args[6].equals("drain")) {
            uploader.wakeUp();
            while (spool.stats().pendingRecords() > 0) {
                Thread.sleep(20); // test child: polling its own spool is the simplest way to say "done"
            }
            out.println("EMPTY");
            out.flush();
            uploader.close();
            spool.close();
            return;
        }
        for (int t = 0; t < 2; t++) {
            long base = first + t * 10_000_000L;
            Thread th = new Thread(() -> {
                try {
                    for (long n = base; ; n += 5) {
                        List<byte[]> run = new ArrayList<>(5);
                        List<String> ids = new ArrayList<>(5);
                        for (long k = n; k < n + 5; k++) {
                            String id = "crash-" + k;
                            ids.add(id);
                            run.add(sample(id).getBytes(StandardCharsets.UTF_8));
                        }
                        spool.append(run);
                        uploader.wakeUp();
                        synchronized (out) {
                            for (String id : ids) {
                                out.println("D " + id);
                            }
                            out.flush();
                        }
                        Thread.sleep(2);
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
