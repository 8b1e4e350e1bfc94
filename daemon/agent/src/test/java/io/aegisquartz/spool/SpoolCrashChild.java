package io.aegisquartz.spool;

import java.io.PrintStream;
import java.nio.file.Path;

/**
 * Run by {@link SpoolCrashTest} in its own JVM: appends numbered records from four threads and
 * prints "D n" once record n is durable, until it is killed.
 */
public final class SpoolCrashChild {

    private SpoolCrashChild() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int start = Integer.parseInt(args[1]);
        PrintStream out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), false);
        Spool spool = SpoolTesting.open(dir, SpoolConfig.defaults().withSegmentBytes(64 << 10));
        for (int t = 0; t < 4; t++) {
            int first = start + t * 1_000_000;
            Thread th = new Thread(() -> {
                try {
                    for (int n = first; ; n++) {
                        spool.append(SpoolTesting.rec(n));
                        synchronized (out) {
                            out.println("D " + n);
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
}
