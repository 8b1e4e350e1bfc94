package io.aegisquartz.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.aegisquartz.spool.EventInbox;
import io.aegisquartz.spool.Spool;
import io.aegisquartz.spool.SpoolConfig;
import io.aegisquartz.spool.CursorStats;
import io.aegisquartz.spool.SpoolCursor;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** 'aegis-quartz spool stat|verify' against spools written by the real Spool class. */
class SpoolCommandTest {

    /** Spool format constants (docs/SPOOL.md): segment header, frame header. */
    private static final int SEGMENT_HEADER = 20;
    private static final int FRAME_HEADER = 20;
    private static final int PAYLOAD = 80;
    private static final int FRAME = FRAME_HEADER + PAYLOAD;
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path home;

    private Path spoolDir;
    private InProcessCli cli;

    @BeforeEach
    void emptyHome() throws Exception {
        Files.createDirectories(home.resolve("conf"));
        Files.writeString(home.resolve("conf/aegis_config.ini"), "");
        spoolDir = home.resolve("spool"); // the default [spool] dir
    }

    private int cli(String... args) {
        if (cli == null) {
            cli = new InProcessCli(home);
        }
        return cli.run(args);
    }

    private String out() {
        return cli.out();
    }

    private String err() {
        return cli.err();
    }

    private static SpoolConfig tenPerSegment() {
        return SpoolConfig.defaults().withSegmentBytes(SEGMENT_HEADER + 10L * FRAME).withFreeSpace(() -> Long.MAX_VALUE / 2);
    }

    private static byte[] rec(int i) {
        StringBuilder sb = new StringBuilder(String.format("{\"n\":%08d,\"pad\":\"", i));
        while (sb.length() < PAYLOAD - 2) {
            sb.append('x');
        }
        return sb.append("\"}").toString().getBytes(StandardCharsets.UTF_8);
    }

    private static void append(Spool spool, int from, int to) throws Exception {
        for (int i = from; i < to; i++) {
            spool.append(rec(i));
        }
    }

    private void writeSpool(int records) throws Exception {
        try (Spool spool = Spool.open(spoolDir, tenPerSegment(), java.util.List.of("aegis"), "aegis")) {
            append(spool, 0, records);
        }
    }

    @Test
    void verifyOfACleanSpoolExitsZero() throws Exception {
        writeSpool(30);
        assertEquals(0, cli("spool", "verify"), err());
        assertTrue(out().contains("OK: 3 segment(s), 30 record(s), every CRC matches"), out());
        assertTrue(out().contains("seg-00000000000000000001.spool: 10 record(s), 1000 valid byte(s)"), out());

        assertEquals(0, cli("spool", "verify", "--json"), err());
        JsonNode j = JSON.readTree(out());
        assertTrue(j.get("ok").booleanValue());
        assertEquals(30, j.get("records").intValue());
        assertEquals(0, j.get("problems").size());
    }

    @Test
    void verifyReportsAFlippedBitWithSegmentAndOffsetAndExitsOne() throws Exception {
        writeSpool(30);
        long frame = SEGMENT_HEADER + 6L * FRAME;
        Path seg = spoolDir.resolve("seg-00000000000000000001.spool");
        try (RandomAccessFile f = new RandomAccessFile(seg.toFile(), "rw")) {
            f.seek(frame + FRAME_HEADER + 40);
            int b = f.read();
            f.seek(frame + FRAME_HEADER + 40);
            f.write(b ^ 0x01);
        }
        byte[] damaged = Files.readAllBytes(seg);

        assertEquals(1, cli("spool", "verify", "--dir", spoolDir.toString()));
        assertTrue(out().contains("problem: seg-00000000000000000001.spool: offset " + frame + ": corrupt region of " + FRAME
                + " byte(s) (frame CRC mismatch"), out());
        assertTrue(out().contains("1 problem(s) found"), out());

        assertEquals(1, cli("spool", "verify", "--json"));
        JsonNode p = JSON.readTree(out()).get("problems");
        assertEquals(1, p.size(), out());
        assertEquals("seg-00000000000000000001.spool", p.get(0).get("file").textValue());
        assertEquals(frame, p.get(0).get("offset").longValue());
        assertEquals("corrupt", p.get(0).get("kind").textValue());

        assertEquals(0, cli("spool", "stat"), err());
        assertTrue(out().contains("1 (see 'aegis-quartz spool verify')"), out());
        assertArrayEquals(damaged, Files.readAllBytes(seg), "verify and stat must not repair anything");
    }

    @Test
    void statWhileASpoolIsOpenReportsTheOwnerAndKeepsItsLock() throws Exception {
        Files.createDirectories(spoolDir);
        Files.writeString(spoolDir.resolve("dead-letter-aegis.jsonl"), "{}\n{}\n");
        EventInbox.write(spoolDir, "e1", "c", null, 1_000);
        long pid = ProcessHandle.current().pid();
        try (Spool spool = Spool.open(spoolDir, tenPerSegment(), java.util.List.of("aegis"), "aegis")) {
            SpoolCursor cursor = spool.cursor("aegis");
            append(spool, 0, 15);
            cursor.ack(cursor.read(4, 1 << 20).end());
            CursorStats stats = cursor.stats();

            assertEquals(0, cli("spool", "stat"), err());
            String text = out();
            assertTrue(text.contains("an agent owns it (pid " + pid + ")"), text);
            assertTrue(text.contains("output aegis   11 sample(s) pending, " + stats.pendingBytes() + " bytes"), text);
            assertTrue(text.contains("dropped 0; dead-lettered 2"), text);
            assertTrue(text.contains("1 event(s) waiting in incoming/"), text);
            assertTrue(text.contains("none found"), text);

            assertEquals(0, cli("spool", "stat", "--json"), err());
            JsonNode j = JSON.readTree(out());
            assertTrue(j.get("owned").booleanValue(), out());
            assertEquals(pid, j.get("owner_pid").longValue());
            assertEquals(stats.pendingRecords(), j.get("pending_samples").longValue());
            assertEquals(stats.pendingBytes(), j.get("pending_bytes").longValue());
            assertEquals(spool.stats().segments(), j.get("segments").intValue());
            JsonNode o = j.get("outputs").get(0);
            assertEquals("aegis", o.get("name").textValue());
            assertEquals(stats.pendingRecords(), o.get("pending_samples").longValue());
            assertEquals(0, o.get("dropped").intValue());
            assertEquals(2, o.get("dead_lettered").intValue());
            assertEquals(1, j.get("incoming_events").intValue());
            assertTrue(o.get("oldest_pending_age_ms").longValue() >= 0);

            // The spool still owns its directory: another process sees the lock held, by us.
            JsonNode child = JSON.readTree(childStat());
            assertTrue(child.get("owned").booleanValue(), child.toString());
            assertEquals(pid, child.get("owner_pid").longValue());

            append(spool, 15, 16); // and the spool still works
            assertEquals(12, cursor.stats().pendingRecords());
        }
        assertEquals(0, cli("spool", "stat", "--json"), err());
        assertFalse(JSON.readTree(out()).get("owned").booleanValue(), out());
        assertEquals(0, cli("spool", "stat"));
        assertTrue(out().contains("no agent owns it"), out());
    }

    /** Issue 19: per output, 'spool stat' shows pending, the oldest's age and what the spool dropped before that output sent it. */
    @Test
    void statShowsPerOutputWhatTheSpoolDroppedBeforeItWasSent() throws Exception {
        try (Spool spool = Spool.open(spoolDir, tenPerSegment().withMaxBytes(3 * (SEGMENT_HEADER + 10L * FRAME)),
                java.util.List.of("aegis", "file"), "aegis")) {
            append(spool, 0, 30);
            SpoolCursor file = spool.cursor("file");
            file.ack(file.read(8, 1 << 20).end()); // the file output has sent 0..7, aegis nothing
            append(spool, 30, 31); // the cap: segment 0 (0..9) goes
            file.ack(null, file.takeDrops()); // and the file output has delivered its report
        }
        assertEquals(0, cli("spool", "stat"), err());
        String text = out();
        assertTrue(text.contains("output aegis   21 sample(s) pending"), text);
        assertTrue(text.contains("output file    21 sample(s) pending"), text);
        assertTrue(text.contains("; dropped 10 (10 not yet reported);"), text);
        assertTrue(text.contains("; dropped 2; dead-lettered"), text);

        assertEquals(0, cli("spool", "stat", "--json"), err());
        java.util.Map<String, JsonNode> outputs = new java.util.HashMap<>();
        JSON.readTree(out()).get("outputs").forEach(o -> outputs.put(o.get("name").textValue(), o));
        assertEquals(10, outputs.get("aegis").get("dropped").longValue());
        assertEquals(2, outputs.get("file").get("dropped").longValue());
        assertEquals(10, outputs.get("aegis").get("dropped_unreported").longValue());
        assertEquals(0, outputs.get("file").get("dropped_unreported").longValue());
        assertEquals(21, outputs.get("file").get("pending_samples").longValue());
        assertTrue(outputs.get("file").get("oldest_pending_age_ms").longValue() >= 0);
    }

    /** 'spool stat --json' in a separate JVM, as an operator would run it. */
    private String childStat() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Path log = home.resolve("child-stderr.txt");
        Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "--home", home.toString(), "spool", "stat", "--json").redirectError(log.toFile()).start();
        try {
            byte[] stdout = p.getInputStream().readAllBytes();
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "child did not finish");
            assertEquals(0, p.exitValue(), Files.readString(log));
            return new String(stdout, StandardCharsets.UTF_8);
        } finally {
            p.destroyForcibly();
        }
    }

    @Test
    void theSpoolDirectoryComesFromTheConfigAndMayNotExistYet() throws Exception {
        Files.writeString(home.resolve("conf/aegis_config.ini"), "[spool]\ndir = var/q\n");
        assertEquals(0, cli("spool", "stat"), err());
        assertTrue(out().contains("spool " + home.resolve("var/q")), out());
        assertTrue(out().contains("does not exist"), out());
        assertEquals(1, cli("spool", "verify"));
        assertTrue(err().contains("no spool directory at " + home.resolve("var/q")), err());
        assertFalse(Files.exists(home.resolve("var")), "stat and verify create nothing");

        spoolDir = home.resolve("var/q");
        writeSpool(3);
        assertEquals(0, cli("spool", "stat", "--json"), err());
        assertEquals(3, JSON.readTree(out()).get("pending_samples").intValue());
    }

    @Test
    void helpAndUsageErrors() {
        assertEquals(0, cli("spool", "--help"));
        assertTrue(out().contains("aegis-quartz spool verify [--dir DIR] [--json]"), out());
        assertEquals(0, cli("help", "spool"));
        assertTrue(out().contains("Exit 0 if there is no problem, 1 if there is one"), out());
        assertEquals(0, cli("--help"));
        assertTrue(out().contains("spool ") && out().contains("event "), out());
        assertEquals(2, cli("spool"));
        assertTrue(err().contains("spool needs an action: stat or verify"), err());
        assertEquals(2, cli("spool", "repair"));
        assertTrue(err().contains("unknown action 'repair'"), err());
        assertEquals(2, cli("spool", "stat", "--force"));
        assertTrue(err().contains("unknown option --force"), err());
    }
}
