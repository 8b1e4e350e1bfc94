package io.aegisquartz.spool;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Run by {@link SpoolCrashTest} in its own JVM: one thread appends numbered records (runs of 20) to a
 * spool with a 1 MiB cap; output "a" reads and acknowledges as fast as it can, output "b" slowly, so
 * the cap drops what b has not read. Prints "D n" once record n is durable, "A c first last" once
 * cursor c's acknowledgement of that range is durable, and "X c count" once a drop report was
 * delivered; until it is killed.
 */
public final class SpoolCursorCrashChild {

    static final int BATCH = 50;

    private SpoolCursorCrashChild() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int start = Integer.parseInt(args[1]);
        PrintStream out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), false);
        Spool spool = Spool.open(dir, SpoolConfig.forLimits(1 << 20, 0), List.of("a", "b"), null);
        Thread writer = new Thread(() -> {
            try {
                for (int n = start; ; n += 20) {
                    List<byte[]> run = new ArrayList<>(20);
                    for (int k = n; k < n + 20; k++) {
                        run.add(SpoolTesting.rec(k));
                    }
                    spool.append(run);
                    synchronized (out) {
                        for (int k = n; k < n + 20; k++) {
                            out.println("D " + k);
                        }
                        out.flush();
                    }
                }
            } catch (Exception e) {
                System.exit(3);
            }
        });
        writer.start();
        reader(spool.cursor("a"), 0, out).start();
        reader(spool.cursor("b"), 20, out).start();
    }

    private static Thread reader(SpoolCursor c, long pauseMillis, PrintStream out) {
        return new Thread(() -> {
            try {
                while (true) {
                    List<DropReport> drops = c.takeDrops();
                    if (!drops.isEmpty()) {
                        c.ack(null, drops);
                        long n = drops.stream().mapToLong(DropReport::count).sum();
                        synchronized (out) {
                            out.println("X " + c.name() + " " + n);
                            out.flush();
                        }
                    }
                    SpoolBatch b = c.read(BATCH, 1 << 20);
                    if (b.isEmpty()) {
                        c.awaitUnread(50_000_000L);
                        continue;
                    }
                    c.ack(b.end());
                    synchronized (out) {
                        out.println("A " + c.name() + " " + SpoolTesting.num(b.records().get(0).payload()) + " "
                                + SpoolTesting.num(b.records().get(b.size() - 1).payload()));
                        out.flush();
                    }
                    if (pauseMillis > 0) {
                        Thread.sleep(pauseMillis); // the slow output: a workload, not a test's wait
                    }
                }
            } catch (Exception e) {
                System.exit(4);
            }
        });
    }
}
