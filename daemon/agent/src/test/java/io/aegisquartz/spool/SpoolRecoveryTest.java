package io.aegisquartz.spool;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static io.aegisquartz.spool.SpoolTesting.FRAME;
import static io.aegisquartz.spool.SpoolTesting.appendRange;
import static io.aegisquartz.spool.SpoolTesting.range;
import static io.aegisquartz.spool.SpoolTesting.readAll;
import static io.aegisquartz.spool.SpoolTesting.segment;
import static io.aegisquartz.spool.SpoolTesting.small;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Opening a spool that a crash or bad media damaged: keep every good record, count the rest. */
class SpoolRecoveryTest {

    private static final int H = SegmentFile.HEADER_BYTES;

    @TempDir
    Path dir;

    private void write(int n, int perSegment) throws Exception {
        try (Spool spool = SpoolTesting.open(dir, small(perSegment))) {
            appendRange(spool, 0, n);
        }
    }

    private static void flip(Path file, long offset) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.seek(offset);
            int b = f.read();
            f.seek(offset);
            f.write(b ^ 0x10);
        }
    }

    @Test
    void aTornTailIsTruncatedAndEveryCompleteRecordKept() throws Exception {
        write(10, 100);
        Path seg = segment(dir, 0);
        long size = Files.size(seg);
        try (RandomAccessFile f = new RandomAccessFile(seg.toFile(), "rw")) {
            f.setLength(size - 7); // the last record loses its last 7 bytes
        }
        try (Spool spool = SpoolTesting.open(dir, small(100))) {
            RecoveryReport r = spool.recoveryReport();
            assertEquals(9, r.recordsRecovered());
            assertEquals(FRAME - 7, r.bytesTruncated());
            assertEquals(0, r.recordsSkippedCorrupt());
            assertEquals(range(0, 9), readAll(spool, false));
        }
        assertEquals(H + 9L * FRAME, Files.size(seg), "truncated after the last complete record");
    }

    @Test
    void aFlippedBitInThePayloadLosesOnlyThatRecord() throws Exception {
        write(10, 100);
        flip(segment(dir, 0), H + 5L * FRAME + FrameCodec.HEADER_BYTES + 30);
        try (Spool spool = SpoolTesting.open(dir, small(100))) {
            RecoveryReport r = spool.recoveryReport();
            assertEquals(9, r.recordsRecovered());
            assertEquals(1, r.recordsSkippedCorrupt());
            assertEquals(0, r.bytesTruncated());
            List<Integer> expected = new ArrayList<>(range(0, 10));
            expected.remove(Integer.valueOf(5));
            assertEquals(expected, readAll(spool, false));
            assertEquals(1, spool.stats().corruptSkipped());
        }
    }

    @Test
    void anImpossibleLengthOrBrokenMarkerIsResyncedPast() throws Exception {
        write(10, 100);
        Path seg = segment(dir, 0);
        flip(seg, H + 3L * FRAME + 8); // length field of record 3: now ~256 MiB, beyond the format limit
        flip(seg, H + 7L * FRAME + 1); // marker of record 7
        try (Spool spool = SpoolTesting.open(dir, small(100))) {
            RecoveryReport r = spool.recoveryReport();
            assertEquals(8, r.recordsRecovered());
            assertEquals(2, r.recordsSkippedCorrupt());
            assertEquals(List.of(0, 1, 2, 4, 5, 6, 8, 9), readAll(spool, false));
        }
    }

    @Test
    void aZeroFilledCheckpointRedeliversInsteadOfLosing() throws Exception {
        try (Spool spool = SpoolTesting.open(dir, small(100))) {
            appendRange(spool, 0, 10);
            SpoolTesting.cursor(spool).ack(SpoolTesting.cursor(spool).read(5, 1 << 20).end());
        }
        try (Spool spool = SpoolTesting.open(dir, small(100))) {
            assertTrue(spool.recoveryReport().cursorProblems().isEmpty());
            assertEquals(range(5, 10), readAll(spool, false), "an intact checkpoint is honoured");
        }
        Files.write(CursorFile.path(dir, SpoolTesting.CURSOR), new byte[CursorFile.FILE_BYTES]);
        try (Spool spool = SpoolTesting.open(dir, small(100))) {
            assertNotNull(spool.recoveryReport().cursorProblems().get(SpoolTesting.CURSOR));
            assertTrue(spool.recoveryReport().summary().contains("checkpoint of test ignored"), spool.recoveryReport().summary());
            assertEquals(range(0, 10), readAll(spool, false));
        }
    }

    @Test
    void aZeroFilledSingleReaderCheckpointRedeliversToItsHeir() throws Exception {
        write(10, 100);
        Files.write(dir.resolve(Checkpoint.FILE), new byte[Checkpoint.BYTES]);
        Files.delete(CursorFile.path(dir, SpoolTesting.CURSOR)); // as a spool of the single-reader version has none
        try (Spool spool = SpoolTesting.open(dir, small(100))) {
            assertNotNull(spool.recoveryReport().checkpointProblem());
            assertTrue(spool.recoveryReport().summary().contains("checkpoint ignored"), spool.recoveryReport().summary());
            assertEquals(range(0, 10), readAll(spool, false));
        }
        assertFalse(Files.exists(dir.resolve(Checkpoint.FILE)), "taken over, then deleted");
    }

    @Test
    void aMissingSegmentIsReportedAndTheRestRecovered() throws Exception {
        write(30, 10); // segments 0, 1, 2
        Files.delete(segment(dir, 1));
        try (Spool spool = SpoolTesting.open(dir, small(10))) {
            RecoveryReport r = spool.recoveryReport();
            assertEquals(List.of(1L), r.missingSegments());
            assertEquals(20, r.recordsRecovered());
            List<Integer> expected = new ArrayList<>(range(0, 10));
            expected.addAll(range(20, 30));
            assertEquals(expected, readAll(spool, false));
        }
    }

    @Test
    void aSegmentWithACorruptHeaderIsSetAsideNotDeleted() throws Exception {
        write(30, 10);
        Path seg1 = segment(dir, 1);
        byte[] original = Files.readAllBytes(seg1);
        flip(seg1, 2);
        byte[] damaged = Files.readAllBytes(seg1);
        try (Spool spool = SpoolTesting.open(dir, small(10))) {
            RecoveryReport r = spool.recoveryReport();
            assertEquals(1, r.segmentsSetAside());
            Path aside = dir.resolve(SegmentFile.name(1) + ".bad");
            assertEquals(List.of(aside), r.setAside());
            assertFalse(Files.exists(seg1));
            assertArrayEquals(damaged, Files.readAllBytes(aside));
            assertEquals(original.length, damaged.length);
            assertTrue(r.missingSegments().isEmpty(), "set aside is not missing");
            List<Integer> expected = new ArrayList<>(range(0, 10));
            expected.addAll(range(20, 30));
            assertEquals(expected, readAll(spool, false));
        }
        try (Spool spool = SpoolTesting.open(dir, small(10))) {
            assertEquals(0, spool.recoveryReport().segmentsSetAside(), "a .bad file is left alone on later opens");
            assertTrue(Files.exists(dir.resolve(SegmentFile.name(1) + ".bad")));
        }
    }
}
