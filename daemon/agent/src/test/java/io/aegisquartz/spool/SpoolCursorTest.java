package io.aegisquartz.spool;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.CRC32C;

import static io.aegisquartz.spool.SpoolTesting.FRAME;
import static io.aegisquartz.spool.SpoolTesting.appendRange;
import static io.aegisquartz.spool.SpoolTesting.counting;
import static io.aegisquartz.spool.SpoolTesting.num;
import static io.aegisquartz.spool.SpoolTesting.range;
import static io.aegisquartz.spool.SpoolTesting.readAll;
import static io.aegisquartz.spool.SpoolTesting.rec;
import static io.aegisquartz.spool.SpoolTesting.segmentNames;
import static io.aegisquartz.spool.SpoolTesting.small;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The spool as a log read through named cursors: one per output, each with its own checkpoint and drop account. */
class SpoolCursorTest {

    private static final int H = SegmentFile.HEADER_BYTES;

    @TempDir
    Path dir;

    private Spool open(SpoolConfig config, String... cursors) throws IOException {
        return Spool.open(dir, config, List.of(cursors), "aegis");
    }

    private static List<Integer> nums(SpoolBatch b) {
        return b.records().stream().map(r -> num(r.payload())).toList();
    }

    @Test
    void eachCursorReadsEverythingOnItsOwnAndASegmentGoesOnlyWhenTheSlowestHasPassedIt() throws Exception {
        try (Spool spool = open(small(10), "a", "b")) {
            appendRange(spool, 0, 30); // segments 0, 1 full; 2 full and current... plus a new one at the roll
            SpoolCursor a = spool.cursor("a");
            SpoolCursor b = spool.cursor("b");
            assertEquals(range(0, 30), readAll(a, true));
            assertTrue(segmentNames(dir).contains(SegmentFile.name(0)), "b still needs segment 0");
            assertEquals(30, b.stats().pendingRecords());
            assertEquals(0, a.stats().pendingRecords());

            SpoolBatch first = b.read(15, 1 << 20);
            assertEquals(range(0, 15), nums(first));
            b.ack(first.end());
            assertFalse(segmentNames(dir).contains(SegmentFile.name(0)), "both have passed segment 0");
            assertTrue(segmentNames(dir).contains(SegmentFile.name(1)), "b is in the middle of segment 1");
        }
        try (Spool spool = open(small(10), "a", "b")) {
            assertEquals(0, spool.recoveryReport().recordsPending("a"));
            assertEquals(15, spool.recoveryReport().recordsPending("b"));
            assertEquals(List.of(), readAll(spool.cursor("a"), false), "a's acknowledgements survive the restart");
            assertEquals(range(15, 30), readAll(spool.cursor("b"), false), "so do b's, each its own");
        }
    }

    @Test
    void aCursorAddedLaterStartsAtTheEndAndOneRemovedFreesWhatOnlyItHeld() throws Exception {
        try (Spool spool = open(small(10), "a")) {
            appendRange(spool, 0, 20);
        }
        try (Spool spool = open(small(10), "a", "b")) {
            assertEquals(List.of("b"), spool.recoveryReport().cursorsAdded());
            assertEquals(0, spool.recoveryReport().recordsPending("b"), "the backlog is a's, not b's");
            appendRange(spool, 20, 25);
            assertEquals(range(20, 25), readAll(spool.cursor("b"), true));
            assertEquals(25, spool.cursor("a").stats().pendingRecords());
        }
        List<String> before = segmentNames(dir);
        try (Spool spool = open(small(10), "b")) {
            assertEquals(java.util.Map.of("a", 25L), spool.recoveryReport().cursorsRemoved(), "a's pending records, exactly");
            assertFalse(Files.exists(CursorFile.path(dir, "a")));
            List<String> after = segmentNames(dir);
            assertTrue(after.size() < before.size(), "segments only a needed are gone: " + before + " -> " + after);
            assertEquals(List.of(), readAll(spool.cursor("b"), false));
        }
    }

    /** The 28-byte checkpoint of the single-reader version, exactly as docs/SPOOL.md describes it. */
    private void writeOldCheckpoint(long segment, long offset) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(28);
        b.putInt(0x4151434B).putShort((short) 1).putShort((short) 0).putLong(segment).putLong(offset);
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, 24);
        b.putInt((int) crc.getValue());
        Files.write(dir.resolve("checkpoint"), b.array());
    }

    /** Segments as the single-reader version left them: no cursor files, a checkpoint acknowledging records 0..12. */
    private void oldSpool() throws IOException {
        try (Spool spool = open(small(10), "x")) {
            appendRange(spool, 0, 30);
        }
        Files.delete(CursorFile.path(dir, "x"));
        writeOldCheckpoint(1, H + 3L * FRAME);
    }

    @Test
    void anUpgradeHandsTheOldCheckpointToAegisWithoutLosingOrResendingItsBacklog() throws Exception {
        oldSpool();
        try (Spool spool = open(small(10), "aegis", "file")) {
            RecoveryReport r = spool.recoveryReport();
            assertEquals("aegis", r.legacyHeir());
            assertEquals(17, r.recordsPending("aegis"));
            assertEquals(List.of("file"), r.cursorsAdded());
            assertFalse(r.hasProblems(), r.summary());
            assertEquals(range(13, 30), readAll(spool.cursor("aegis"), true), "exactly the unacknowledged backlog, once");
            assertEquals(List.of(), readAll(spool.cursor("file"), false), "a new output starts at the end");
        }
        assertFalse(Files.exists(dir.resolve("checkpoint")), "taken over, then deleted");
        try (Spool spool = open(small(10), "aegis", "file")) {
            assertEquals(List.of(), readAll(spool.cursor("aegis"), false), "and not resent after the next restart");
        }
    }

    @Test
    void aCrashHalfWayThroughTheTakeOverKeepsTheHeirsOwnCheckpoint() throws Exception {
        oldSpool();
        try (Spool spool = open(small(10), "aegis")) {
            SpoolCursor c = spool.cursor("aegis");
            c.ack(c.read(5, 1 << 20).end()); // 13..17 delivered since the take-over
        }
        writeOldCheckpoint(1, H + 3L * FRAME); // as if the old file had not been deleted yet
        try (Spool spool = open(small(10), "aegis")) {
            assertNull(spool.recoveryReport().legacyHeir(), "already taken over");
            assertEquals(range(18, 30), readAll(spool.cursor("aegis"), false));
        }
        assertFalse(Files.exists(dir.resolve("checkpoint")));
    }

    @Test
    void withoutAnAegisOutputTheOldBacklogIsReleasedAndCounted() throws Exception {
        oldSpool();
        try (Spool spool = open(small(10), "file")) {
            assertEquals(17, spool.recoveryReport().legacyReleased());
            assertEquals(List.of(), readAll(spool.cursor("file"), false));
        }
        assertFalse(Files.exists(dir.resolve("checkpoint")));
    }

    @Test
    void aDropChargesEachCursorExactlyWhatItHadNotReadAndNothingInFlightOrAcknowledged() throws Exception {
        AtomicLong clock = new AtomicLong(1000);
        long seg = H + 10L * FRAME;
        try (Spool spool = open(counting(small(10).withMaxBytes(3 * seg), clock), "a", "b")) {
            SpoolCursor a = spool.cursor("a");
            SpoolCursor b = spool.cursor("b");
            appendRange(spool, 0, 30); // record n appended at time 1000 + n
            a.ack(a.read(5, 1 << 20).end()); // 0..4 acknowledged
            SpoolBatch inFlight = a.read(3, 1 << 20); // 5..7 read, not yet acknowledged

            spool.append(rec(30)); // the cap: segment 0 (records 0..9) goes
            assertEquals(List.of(new DropReport(1, 2, 1008, 1009, 2, DropReport.Reason.SIZE_CAP)), a.takeDrops(),
                    "a: only 8 and 9, which it had not read; the gap starts exactly at 8");
            assertEquals(List.of(new DropReport(1, 10, 1000, 1009, 10, DropReport.Reason.SIZE_CAP)), b.takeDrops());

            // The batch in flight is delivered after all: nothing more is charged, now or after a restart.
            a.ack(inFlight.end());
            assertEquals(range(10, 31), readAll(a, true));
            assertEquals(2, a.stats().dropped());
            assertEquals(range(10, 31), readAll(b, false));
        }
        try (Spool spool = open(small(10).withMaxBytes(3 * seg), "a", "b")) {
            assertEquals(2, spool.cursor("a").stats().dropped());
            assertEquals(1, spool.cursor("a").takeDrops().size(), "still to be delivered: the same report");
        }
    }

    @Test
    void recordsADropTookInFlightCountAsDroppedIfTheirBatchIsNeverAcknowledged() throws Exception {
        AtomicLong clock = new AtomicLong(1000);
        long seg = H + 10L * FRAME;
        SpoolConfig config = counting(small(10).withMaxBytes(3 * seg), clock);
        try (Spool spool = open(config, "a")) {
            SpoolCursor a = spool.cursor("a");
            appendRange(spool, 0, 30);
            a.ack(a.read(5, 1 << 20).end());
            a.read(3, 1 << 20); // 5..7 in flight when the agent stops
            spool.append(rec(30));
            assertEquals(2, a.stats().dropped(), "in flight: not counted while its output may still deliver it");
        }
        try (Spool spool = open(config, "a")) {
            SpoolCursor a = spool.cursor("a");
            assertEquals(List.of(new DropReport(1, 5, 1005, 1009, 5, DropReport.Reason.SIZE_CAP)), a.takeDrops(),
                    "never acknowledged, so lost: 5..9, with exactly their times");
            assertEquals(range(10, 31), readAll(a, false));
        }
    }

    @Test
    void aReportHandedOutNeverChangesAndLaterDropsGetAReportOfTheirOwn() throws Exception {
        AtomicLong clock = new AtomicLong(1000);
        long seg = H + 10L * FRAME;
        SpoolConfig config = counting(small(10).withMaxBytes(3 * seg), clock);
        List<DropReport> first;
        try (Spool spool = open(config, "a")) {
            SpoolCursor a = spool.cursor("a");
            appendRange(spool, 0, 31); // segment 0 dropped
            first = a.takeDrops();
            assertEquals(List.of(new DropReport(1, 10, 1000, 1009, 10, DropReport.Reason.SIZE_CAP)), first);
            appendRange(spool, 31, 41); // segment 1 dropped while report 1 is on its way
            assertEquals(first, a.takeDrops(), "the report being delivered is handed out again, unchanged");
        }
        try (Spool spool = open(config, "a")) {
            SpoolCursor a = spool.cursor("a");
            assertEquals(first, a.takeDrops(), "also after a restart: it may have reached the backend already");
            a.ack(null, first);
            assertEquals(List.of(new DropReport(2, 10, 1010, 1019, 20, DropReport.Reason.SIZE_CAP)), a.takeDrops());
            assertEquals(20, a.stats().dropped());
        }
    }

    /**
     * A report is one gap: drops merge only while the cursor reads nothing, so no report's first-last
     * span covers records its output delivered (before, a read between two drops made one report of
     * both, spanning the records read in between).
     */
    @Test
    void eachReportIsExactlyOneGapAndNoReadPassesASecondGapBeforeTheFirstIsDelivered() throws Exception {
        AtomicLong clock = new AtomicLong(1000);
        long seg = H + 10L * FRAME;
        try (Spool spool = open(counting(small(10).withMaxBytes(3 * seg), clock), "a")) {
            SpoolCursor a = spool.cursor("a");
            appendRange(spool, 0, 31); // segment 0 (records 0..9) dropped
            SpoolBatch first = a.read(5, 1 << 20); // 10..14, in flight; the read froze report 1
            assertEquals(range(10, 15), nums(first));
            appendRange(spool, 31, 41); // segment 1 dropped: 10..14 in flight, 15..19 a second gap

            assertTrue(a.read(5, 1 << 20).isEmpty(), "no read past the second gap while report 1 is undelivered");
            assertTrue(a.hasUnread());
            appendRange(spool, 41, 51); // segment 2 dropped: 20..29, nothing read since 15..19: the same gap

            DropReport one = new DropReport(1, 10, 1000, 1009, 10, DropReport.Reason.SIZE_CAP);
            assertEquals(List.of(one), a.takeDrops());
            a.ack(first.end(), List.of(one));
            SpoolBatch second = a.read(5, 1 << 20); // 30..34; report 2 frozen as it stands
            assertEquals(range(30, 35), nums(second));
            appendRange(spool, 51, 61); // segment 3 dropped: 30..34 in flight, 35..39 a new gap

            DropReport two = new DropReport(2, 15, 1015, 1029, 25, DropReport.Reason.SIZE_CAP);
            assertEquals(List.of(two), a.takeDrops(), "15..29: one gap, exactly its times, 30..34 not in it");
            a.ack(second.end(), List.of(two));
            assertEquals(List.of(new DropReport(3, 5, 1035, 1039, 30, DropReport.Reason.SIZE_CAP)), a.takeDrops());
            assertEquals(range(40, 61), readAll(a, false));
            assertEquals(30, a.stats().dropped());
        }
    }

    @Test
    void aTornCheckpointWriteFallsBackToThePreviousStateAndNeverLosesARecord() throws Exception {
        try (Spool spool = open(small(100), "a")) {
            SpoolCursor a = spool.cursor("a");
            appendRange(spool, 0, 20);
            a.ack(a.read(5, 1 << 20).end());   // write sequence 2: slot 0
            a.ack(a.read(5, 1 << 20).end());   // write sequence 3: slot 1, the newest
        }
        Path file = CursorFile.path(dir, "a");
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.seek(CursorFile.SLOT + 20); // inside the newest slot's position: a write torn by a power cut
            f.write(0x5A);
        }
        try (Spool spool = open(small(100), "a")) {
            assertEquals(range(5, 20), readAll(spool.cursor("a"), false), "the previous checkpoint: one batch again, none lost");
            assertTrue(spool.recoveryReport().cursorProblems().isEmpty(), "one good slot is a usable checkpoint");
        }
        byte[] zeros = new byte[CursorFile.FILE_BYTES];
        Files.write(file, zeros);
        try (Spool spool = open(small(100), "a")) {
            assertNotNull(spool.recoveryReport().cursorProblems().get("a"));
            assertEquals(range(0, 20), readAll(spool.cursor("a"), false), "no usable slot: everything again, nothing lost");
        }
    }

    @Test
    void aTailFollowsNewAppendsAndLeavesTheCursorAlone() throws Exception {
        try (Spool spool = open(small(10), "a")) {
            appendRange(spool, 0, 15);
            SpoolCursor a = spool.cursor("a");
            SpoolTail tail = a.tail();
            assertTrue(tail.read(100, 1 << 20).isEmpty());
            appendRange(spool, 15, 18);
            assertEquals(range(15, 18), nums(tail.read(100, 1 << 20)));
            assertEquals(18, a.stats().pendingRecords());
            assertEquals(range(0, 18), readAll(a, false));
            tail.close();
        }
    }

    @Test
    void aReaderWaitingForRecordsIsWokenByTheAppendNotByPolling() throws Exception {
        try (Spool spool = open(small(10), "a")) {
            SpoolCursor a = spool.cursor("a");
            assertFalse(a.awaitUnread(TimeUnit.MILLISECONDS.toNanos(50)));
            CompletableFuture<Boolean> waiting = CompletableFuture.supplyAsync(() -> {
                try {
                    return a.awaitUnread(TimeUnit.SECONDS.toNanos(60));
                } catch (InterruptedException e) {
                    return false;
                }
            });
            spool.append(rec(1));
            assertTrue(waiting.get(30, TimeUnit.SECONDS));
            assertTrue(a.hasUnread());
            readAll(a, false);
            assertFalse(a.hasUnread());
        }
    }

    @Test
    void cursorNamesAreCheckedBeforeAnythingIsWritten() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Spool.open(dir.resolve("q"), small(10), List.of("../etc"), null));
        assertTrue(e.getMessage().contains("../etc"), e.getMessage());
        assertFalse(Files.exists(dir.resolve("q")));
    }

    @Test
    void everyCapFromTheDocumentedMinimumWorksAndADropRemovesAtMostASixteenthOfIt() throws Exception {
        // Filled three times over (runs of 50 samples, each append fsynced: a few seconds) ...
        for (long cap : new long[] {SpoolConfig.MIN_MAX_BYTES, 3L << 20}) {
            SpoolConfig config = SpoolConfig.forLimits(cap, 0).withFreeSpace(() -> Long.MAX_VALUE / 2);
            Path d = dir.resolve("cap-" + cap);
            long appended = 0;
            long maxDrop = 0;
            long dropped = 0;
            try (Spool spool = Spool.open(d, config, List.of("a"), null)) {
                SpoolCursor a = spool.cursor("a");
                byte[] sample = new byte[300];
                java.util.Arrays.fill(sample, (byte) 'x');
                List<byte[]> run = new ArrayList<>();
                for (int i = 0; i < 50; i++) {
                    run.add(sample);
                }
                while (appended * (sample.length + 20L) < 3 * cap) {
                    spool.append(run);
                    appended += run.size();
                    for (DropReport r : a.takeDrops()) {
                        maxDrop = Math.max(maxDrop, r.count());
                        dropped += r.count();
                        a.ack(null, List.of(r));
                    }
                    assertTrue(spool.stats().bytes() <= cap, "cap " + cap + " exceeded: " + spool.stats().bytes());
                }
                long kept = 0;
                for (SpoolBatch b; !(b = a.read(10_000, Long.MAX_VALUE)).isEmpty(); ) {
                    kept += b.size();
                }
                assertEquals(appended, kept + dropped, "cap " + cap + ": every record kept or counted");
            }
            long perSegment = (config.segmentBytes() - H) / (300 + 20);
            assertTrue(dropped > 0, "cap " + cap + " was reached");
            assertTrue(maxDrop <= perSegment, "cap " + cap + ": one drop took " + maxDrop + " records, a segment holds " + perSegment);
            assertTrue(config.segmentBytes() * SpoolConfig.SEGMENTS_PER_CAP <= cap, "segment " + config.segmentBytes() + " of cap " + cap);
        }
        // ... and the rule for every other documented value, from the default to the largest.
        for (long cap : new long[] {8L << 20, SpoolConfig.DEFAULT_MAX_BYTES, 1L << 40}) {
            SpoolConfig c = SpoolConfig.forLimits(cap, 0);
            assertTrue(c.segmentBytes() * SpoolConfig.SEGMENTS_PER_CAP <= cap, "cap " + cap);
            assertTrue(c.maxRecordBytes() + H + FrameCodec.HEADER_BYTES <= c.segmentBytes(), "a record fits a segment, cap " + cap);
        }
        assertThrows(IllegalArgumentException.class, () -> SpoolConfig.forLimits(SpoolConfig.MIN_MAX_BYTES - 1, 0));
    }
}
