package io.aegisquartz.spool;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

import static io.aegisquartz.spool.SpoolTesting.FRAME;
import static io.aegisquartz.spool.SpoolTesting.appendRange;
import static io.aegisquartz.spool.SpoolTesting.counting;
import static io.aegisquartz.spool.SpoolTesting.segment;
import static io.aegisquartz.spool.SpoolTesting.small;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The read-only scan must agree with what the spool itself says and with what its recovery would do. */
class SpoolInspectorTest {

    private static final int H = SegmentFile.HEADER_BYTES;

    @TempDir
    Path dir;

    private static void flip(Path file, long offset) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.seek(offset);
            int b = f.read();
            f.seek(offset);
            f.write(b ^ 0x10);
        }
    }

    /** Every file's name and SHA-256 (directories by name only), recursively. */
    private static Map<String, String> snapshot(Path root) throws Exception {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.toList()) {
                String key = root.relativize(p).toString();
                if (Files.isRegularFile(p)) {
                    byte[] sha = MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p));
                    out.put(key, HexFormat.of().formatHex(sha) + " " + Files.getLastModifiedTime(p).toMillis());
                } else {
                    out.put(key, "dir");
                }
            }
        }
        return out;
    }

    @Test
    void countsMatchTheSpoolsOwnStatsWhileItIsOpen() throws Exception {
        AtomicLong clock = new AtomicLong(1_000);
        try (Spool spool = SpoolTesting.open(dir, counting(small(10), clock))) {
            SpoolCursor c = SpoolTesting.cursor(spool);
            // Nothing acknowledged yet: the checkpoint is at the start.
            appendRange(spool, 0, 25);
            assertAgrees(spool, SpoolInspector.inspect(dir));

            // Acknowledged into the middle of the second segment: the first is deleted, the checkpoint is mid-segment.
            c.ack(c.read(13, 1 << 20).end());
            SpoolInspector.Report r = SpoolInspector.inspect(dir);
            assertAgrees(spool, r);
            assertEquals(12, r.pendingRecords());
            assertEquals(1_013, r.oldestPendingTimeMillis());
            SpoolInspector.Cursor rc = r.cursors().get(0);
            assertEquals("test", rc.name());
            assertTrue(rc.valid());
            assertEquals(1, rc.segment());
            assertEquals(H + 3L * FRAME, rc.offset());
            assertFalse(r.checkpoint().present(), "no single-reader checkpoint");
            assertTrue(r.owner().owned(), r.owner().toString());
            assertEquals(ProcessHandle.current().pid(), r.owner().pid());
            assertEquals(List.of(), r.problems());
            assertEquals(-1, r.deadLetters());

            // Everything acknowledged.
            SpoolTesting.readAll(c, true);
            SpoolInspector.Report empty = SpoolInspector.inspect(dir);
            assertAgrees(spool, empty);
            assertEquals(-1, empty.oldestPendingTimeMillis());
        }
        SpoolInspector.Report closed = SpoolInspector.inspect(dir);
        assertFalse(closed.owner().owned(), closed.owner().toString());
    }

    private static void assertAgrees(Spool spool, SpoolInspector.Report r) {
        CursorStats stats = SpoolTesting.cursor(spool).stats();
        SpoolInspector.Cursor c = r.cursors().get(0);
        assertEquals(stats.pendingRecords(), c.pendingRecords(), "pending records");
        assertEquals(stats.pendingBytes(), c.pendingBytes(), "pending bytes");
        assertEquals(stats.oldestPendingTimeMillis(), c.oldestPendingTimeMillis(), "oldest pending time");
        assertEquals(stats.dropped(), c.dropped(), "dropped");
        assertEquals(stats.pendingRecords(), r.pendingRecords(), "the only output is the slowest");
        assertEquals(spool.stats().segments(), r.segments().size(), "segments");
    }

    @Test
    void aFlippedBitIsACorruptRegionAtItsFramesOffsetAndRecoveryAgrees() throws Exception {
        try (Spool spool = SpoolTesting.open(dir, small(10))) {
            appendRange(spool, 0, 30);
        }
        long frameAt = H + 4L * FRAME;
        flip(segment(dir, 1), frameAt + FrameCodec.HEADER_BYTES + 9); // inside the 5th record's payload
        Map<String, String> before = snapshot(dir);

        SpoolInspector.Report r = SpoolInspector.inspect(dir);
        assertEquals(before, snapshot(dir), "the inspector changed the spool directory");
        assertEquals(1, r.problems().size(), r.problems().toString());
        SpoolInspector.Problem p = r.problems().get(0);
        assertEquals("seg-00000000000000000001.spool", p.file());
        assertEquals(frameAt, p.offset());
        assertEquals("corrupt", p.kind());
        assertTrue(p.message().contains("CRC"), p.message());
        SpoolInspector.Segment s1 = r.segments().get(1);
        assertEquals(9, s1.records());
        assertEquals(List.of(new SpoolInspector.Region(frameAt, FRAME, s1.corrupt().get(0).reason())), s1.corrupt());
        assertEquals(9L * FRAME, s1.validBytes());
        assertEquals(29, r.pendingRecords());
        assertFalse(r.owner().owned());

        try (Spool spool = SpoolTesting.open(dir, small(10))) {
            RecoveryReport rec = spool.recoveryReport();
            assertEquals(1, rec.recordsSkippedCorrupt());
            assertEquals(r.pendingRecords(), rec.recordsPending());
            assertEquals(r.records(), rec.recordsRecovered());
        }
    }

    @Test
    void predictsWhatRecoveryWouldDoWithoutDoingIt() throws Exception {
        try (Spool spool = SpoolTesting.open(dir, small(10))) {
            appendRange(spool, 0, 45); // segments 0-3 full, 4 holds 5 records
        }
        Files.delete(segment(dir, 1));                                         // a lost segment
        flip(segment(dir, 2), 3);                                              // a broken header
        Path four = segment(dir, 4);
        try (RandomAccessFile f = new RandomAccessFile(four.toFile(), "rw")) {  // the last record torn
            f.setLength(f.length() - 7);
        }
        Files.write(CursorFile.path(dir, "test"), new byte[CursorFile.FILE_BYTES]); // a zero-filled checkpoint
        Files.writeString(dir.resolve(SpoolInspector.DEAD_LETTER_FILE), "{\"a\":1}\n{\"a\":2}\n{\"a\":3}");
        Files.createDirectories(dir.resolve("incoming"));
        Files.writeString(dir.resolve("incoming/0000000001000-x.event.json"), "{}");
        Files.writeString(dir.resolve("incoming/0000000002000-y.event.json.bad"), "garbage");
        Files.writeString(dir.resolve("incoming/.z.tmp"), "half");
        Map<String, String> before = snapshot(dir);

        SpoolInspector.Report r = SpoolInspector.inspect(dir);
        assertEquals(before, snapshot(dir), "the inspector changed the spool directory");
        assertTrue(r.exists());
        assertFalse(r.checkpoint().present());
        assertFalse(r.cursors().get(0).valid());
        assertNotNull(r.cursors().get(0).problem());
        assertEquals(List.of(1L), r.missingSegments());
        assertEquals(3, r.deadLetters());
        assertEquals(1, r.incomingEvents());
        assertEquals(1, r.incomingBad());
        SpoolInspector.Segment two = r.segments().stream().filter(s -> s.id() == 2).findFirst().orElseThrow();
        assertNotNull(two.headerProblem());
        SpoolInspector.Segment last = r.segments().stream().filter(s -> s.id() == 4).findFirst().orElseThrow();
        assertEquals(FRAME - 7, last.tornTailBytes());
        assertEquals(H + 4L * FRAME, last.tornTailOffset());
        assertEquals(4, last.records());
        assertEquals(10 + 10 + 4, r.pendingRecords()); // segments 0, 3 and 4; 2 is unreadable, 1 is gone
        List<String> kinds = r.problems().stream().map(SpoolInspector.Problem::kind).sorted().toList();
        assertEquals(List.of("checkpoint", "header", "missing", "torn-tail"), kinds);

        try (Spool spool = SpoolTesting.open(dir, small(10))) {
            RecoveryReport rec = spool.recoveryReport();
            assertEquals(r.missingSegments(), rec.missingSegments());
            assertEquals(1, rec.segmentsSetAside());
            assertEquals(last.tornTailBytes(), rec.bytesTruncated());
            assertNotNull(rec.cursorProblems().get("test"));
            assertEquals(r.pendingRecords(), rec.recordsPending());
        }
        // After recovery the inspector sees the set-aside file and no more torn tail or bad header.
        SpoolInspector.Report after = SpoolInspector.inspect(dir);
        assertEquals(List.of("seg-00000000000000000002.spool.bad"),
                after.setAside().stream().map(p -> p.getFileName().toString()).toList());
        // Recovery rewrote the unusable checkpoint at the oldest record: everything is delivered again either way.
        assertTrue(after.cursors().get(0).valid());
        assertEquals(after.pendingRecords(), r.pendingRecords());
        assertEquals(List.of("missing", "set-aside"),
                after.problems().stream().map(SpoolInspector.Problem::kind).sorted().toList());
    }

    @Test
    void scansASpoolThatAnotherProcessIsWritingTo() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process child = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), SpoolCrashChild.class.getName(),
                dir.toString(), "0").redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try (BufferedReader in = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            int durable = 0;
            for (String line; durable < 500 && (line = in.readLine()) != null; ) {
                durable += line.startsWith("D ") ? 1 : 0;
            }
            assertEquals(500, durable, "child stopped early");
            Map<String, String> lockBefore = Map.of("lock", Files.readString(dir.resolve(Spool.LOCK_FILE)));

            SpoolInspector.Report r = SpoolInspector.inspect(dir); // while appends continue
            assertTrue(r.owner().owned(), r.owner().toString());
            assertEquals(child.pid(), r.owner().pid());
            assertEquals(List.of(), r.problems(), "a live spool has no problems; notes: " + r.notes());
            assertTrue(r.pendingRecords() >= durable, r.pendingRecords() + " < " + durable);
            assertEquals(r.records(), r.pendingRecords());

            SpoolInspector.Owner probed = SpoolInspector.probe(dir.resolve(Spool.LOCK_FILE)); // the non-Linux way
            assertTrue(probed.owned(), probed.toString());
            assertEquals(child.pid(), probed.pid());
            assertEquals(lockBefore, Map.of("lock", Files.readString(dir.resolve(Spool.LOCK_FILE))));
        } finally {
            child.destroyForcibly();
            assertTrue(child.waitFor(30, TimeUnit.SECONDS));
        }
        assertFalse(SpoolInspector.owner(dir).owned(), "the lock dies with its owner");
        assertFalse(SpoolInspector.probe(dir.resolve(Spool.LOCK_FILE)).owned());
    }

    @Test
    void aDirectoryThatDoesNotExistIsEmptyAndIsNotCreated() throws Exception {
        Path none = dir.resolve("none");
        SpoolInspector.Report r = SpoolInspector.inspect(none);
        assertFalse(r.exists());
        assertEquals(0, r.pendingRecords());
        assertFalse(Files.exists(none));
        assertFalse(SpoolInspector.owner(dir).owned()); // no spool.lock: never probed, never created
        assertFalse(Files.exists(dir.resolve(Spool.LOCK_FILE)));
    }

    @Test
    void damageInASegmentTheCheckpointHasPassedIsOnlyANote() throws Exception {
        try (Spool spool = SpoolTesting.open(dir, small(10))) {
            appendRange(spool, 0, 20);
        }
        // Recreate the state a crash between checkpoint write and delete leaves: segment 0 wholly acknowledged.
        Path keep = dir.resolve("keep");
        Files.copy(segment(dir, 0), keep);
        try (Spool spool = SpoolTesting.open(dir, small(10))) {
            SpoolCursor c = SpoolTesting.cursor(spool);
            c.ack(c.read(10, 1 << 20).end());
            c.ack(c.read(1, 1 << 20).end());
        }
        Files.move(keep, segment(dir, 0));
        flip(segment(dir, 0), H + 30);
        SpoolInspector.Report r = SpoolInspector.inspect(dir);
        assertEquals(List.of(), r.problems());
        assertTrue(r.segments().get(0).acknowledged());
        assertEquals(9, r.pendingRecords());
        assertTrue(r.notes().stream().anyMatch(n -> n.startsWith("seg-00000000000000000000.spool lies wholly before")
                && n.contains("damaged")), r.notes().toString());
    }
}
