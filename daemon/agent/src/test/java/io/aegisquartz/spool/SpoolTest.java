package io.aegisquartz.spool;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

import static io.aegisquartz.spool.SpoolTesting.FRAME;
import static io.aegisquartz.spool.SpoolTesting.appendRange;
import static io.aegisquartz.spool.SpoolTesting.counting;
import static io.aegisquartz.spool.SpoolTesting.cursor;
import static io.aegisquartz.spool.SpoolTesting.open;
import static io.aegisquartz.spool.SpoolTesting.num;
import static io.aegisquartz.spool.SpoolTesting.range;
import static io.aegisquartz.spool.SpoolTesting.readAll;
import static io.aegisquartz.spool.SpoolTesting.rec;
import static io.aegisquartz.spool.SpoolTesting.segmentNames;
import static io.aegisquartz.spool.SpoolTesting.small;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Appending, reading, acknowledging, limits and ownership of a healthy spool. */
class SpoolTest {

    @TempDir
    Path dir;

    @Test
    void roundTripAcrossSegmentRollsAndReopenRedeliversOnlyWhatWasNotAcknowledged() throws Exception {
        try (Spool spool = open(dir, small(10))) {
            appendRange(spool, 0, 100);
            assertTrue(segmentNames(dir).size() >= 10, segmentNames(dir).toString());

            SpoolCursor c = cursor(spool);
            SpoolBatch first = c.read(7, 1 << 20);
            SpoolBatch second = c.read(7, 1 << 20); // read ahead while the first is "in flight"
            assertEquals(range(0, 7), first.records().stream().map(r -> num(r.payload())).toList());
            assertEquals(range(7, 14), second.records().stream().map(r -> num(r.payload())).toList());
            assertEquals(first.records().get(6).next(), first.end());
            c.ack(first.end());
            assertEquals(93, c.stats().pendingRecords());

            // The byte limit: 80-byte payloads, 250 bytes allowed, so three records.
            assertEquals(3, c.read(1000, 250).size());
        }
        try (Spool spool = open(dir, small(10))) {
            assertEquals(100, spool.recoveryReport().recordsRecovered());
            assertEquals(93, spool.recoveryReport().recordsPending("test"));
            assertFalse(spool.recoveryReport().hasProblems(), spool.recoveryReport().summary());
            assertEquals(range(7, 100), readAll(spool, true)); // the unacknowledged second batch comes again
            assertEquals(0, cursor(spool).stats().pendingRecords());
            assertEquals(0, cursor(spool).stats().pendingBytes());
        }
    }

    @Test
    void acknowledgedSegmentsAreDeletedAndAcksMustStayWithinWhatWasRead() throws Exception {
        try (Spool spool = open(dir, small(10))) {
            appendRange(spool, 0, 50);
            assertEquals(5, segmentNames(dir).size());
            SpoolCursor c = cursor(spool);
            SpoolBatch b = c.read(15, 1 << 20);
            assertThrows(IllegalArgumentException.class,
                    () -> c.ack(new SpoolPosition(b.end().segment() + 1, 20, 0)), "ack beyond the read cursor");
            c.ack(b.end());
            assertEquals(List.of(SegmentFile.name(1), SegmentFile.name(2), SegmentFile.name(3), SegmentFile.name(4)),
                    segmentNames(dir));

            assertEquals(range(15, 50), readAll(spool, true));
            assertEquals(List.of(SegmentFile.name(4)), segmentNames(dir), "only the segment being appended to remains");
            assertEquals(1, spool.stats().segments());
        }
    }

    @Test
    void sizeCapDropsExactlyTheOldestUnsentRecordsAndReportsThem() throws Exception {
        AtomicLong clock = new AtomicLong(1000);
        long seg = SegmentFile.HEADER_BYTES + 10L * FRAME;
        SpoolConfig config = counting(small(10).withMaxBytes(3 * seg), clock);
        try (Spool spool = open(dir, config)) {
            SpoolCursor c = cursor(spool);
            appendRange(spool, 0, 30); // exactly three full segments: at the cap, nothing dropped yet
            assertEquals(List.of(), c.takeDrops());
            c.ack(c.read(3, 1 << 20).end()); // 0..2 delivered; 3..9 still unsent in the oldest segment

            spool.append(rec(30));
            List<DropReport> drops = c.takeDrops();
            assertEquals(List.of(new DropReport(1, 7, 1003, 1009, 7, DropReport.Reason.SIZE_CAP)), drops);
            assertEquals(drops, c.takeDrops(), "handed out again until delivered");
            c.ack(null, drops);
            assertEquals(List.of(), c.takeDrops(), "delivered");
            assertEquals(7, c.stats().dropped());
            assertEquals(range(10, 31), readAll(spool, false));
            assertEquals(21, c.stats().pendingRecords());
        }
    }

    @Test
    void lowFreeDiskSpaceDropsOldestSegmentsAndRefusesWhenNothingIsLeftToDrop() throws Exception {
        AtomicLong free = new AtomicLong(1L << 30);
        AtomicLong clock = new AtomicLong(0);
        SpoolConfig config = counting(small(10).withMinFreeBytes(1 << 20).withFreeSpace(free::get), clock);
        try (Spool spool = open(dir, config)) {
            spool.recheckFreeSpaceEvery(0); // production re-reads free space once per MiB appended
            appendRange(spool, 0, 25);
            free.set(1000);
            IOException e = assertThrows(IOException.class, () -> spool.append(rec(25)));
            assertTrue(e.getMessage().contains("nothing left to drop"), e.getMessage());
            assertEquals(List.of(new DropReport(1, 25, 0, 24, 25, DropReport.Reason.DISK_FREE)), cursor(spool).takeDrops());

            free.set(1L << 30);
            spool.append(rec(26));
            assertEquals(List.of(26), readAll(spool, false));
        }
    }

    @Test
    void concurrentAppendsShareFsyncsAndEveryRecordArrivesExactlyOnceInPerThreadOrder() throws Exception {
        int threads = 8;
        int each = 2500;
        try (Spool spool = open(dir, SpoolConfig.defaults().withSegmentBytes(256 << 10).withFreeSpace(() -> Long.MAX_VALUE / 2))) {
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int base = t * 100_000;
                futures.add(pool.submit(() -> {
                    appendRange(spool, base, base + each);
                    return null;
                }));
            }
            for (Future<?> f : futures) {
                f.get();
            }
            pool.shutdown();

            List<Integer> got = readAll(spool, false);
            assertEquals(threads * each, got.size());
            assertEquals(threads * each, new HashSet<>(got).size(), "no duplicates");
            int[] lastPerThread = new int[threads];
            java.util.Arrays.fill(lastPerThread, -1);
            for (int n : got) {
                int t = n / 100_000;
                assertTrue(n > lastPerThread[t], "thread " + t + " order");
                lastPerThread[t] = n;
            }
            long forces = spool.forceCount();
            assertTrue(forces < threads * each, forces + " fsyncs for " + threads * each + " appends");
        }
    }

    @Test
    void aSecondOpenOfTheSameDirectoryFailsNamingTheDirectoryAndOwner() throws Exception {
        try (Spool spool = open(dir, small(10))) {
            IOException e = assertThrows(IOException.class, () -> open(dir, small(10)));
            assertTrue(e.getMessage().contains(dir.toString()), e.getMessage());
            assertTrue(e.getMessage().contains("pid " + ProcessHandle.current().pid()), e.getMessage());
        }
        open(dir, small(10)).close(); // released on close
    }

    @Test
    void statsTrackPendingRecordsBytesAndTheOldestTime() throws Exception {
        AtomicLong clock = new AtomicLong(500);
        try (Spool spool = open(dir, counting(small(10), clock))) {
            SpoolCursor c = cursor(spool);
            assertEquals(-1, c.stats().oldestPendingTimeMillis());
            appendRange(spool, 0, 12);
            c.ack(c.read(4, 1 << 20).end());
            CursorStats s = c.stats();
            assertEquals(8, s.pendingRecords());
            assertEquals(8L * FRAME, s.pendingBytes());
            assertEquals(504, s.oldestPendingTimeMillis());
            assertEquals(2, spool.stats().segments());
            assertEquals(0, s.dropped());
        }
    }
}
