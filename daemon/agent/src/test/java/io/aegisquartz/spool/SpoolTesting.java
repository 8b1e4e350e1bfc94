package io.aegisquartz.spool;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

/** Shared helpers for the spool tests. */
final class SpoolTesting {

    /** Payload size of {@link #rec}: every frame is exactly {@link #FRAME} bytes. */
    static final int PAYLOAD = 80;
    static final int FRAME = FrameCodec.HEADER_BYTES + PAYLOAD;

    private SpoolTesting() {
    }

    static byte[] rec(int i) {
        String s = String.format("{\"n\":%08d,\"pad\":\"", i);
        StringBuilder sb = new StringBuilder(s);
        while (sb.length() < PAYLOAD - 2) {
            sb.append('x');
        }
        return sb.append("\"}").toString().getBytes(StandardCharsets.UTF_8);
    }

    static int num(byte[] payload) {
        String s = new String(payload, StandardCharsets.UTF_8);
        return Integer.parseInt(s.substring(5, 13));
    }

    /** A config whose segments hold exactly {@code perSegment} records of {@link #rec}. */
    static SpoolConfig small(int perSegment) {
        long seg = SegmentFile.HEADER_BYTES + (long) perSegment * FRAME;
        return SpoolConfig.defaults().withSegmentBytes(seg).withMaxBytes(1000 * seg).withFreeSpace(() -> Long.MAX_VALUE / 2);
    }

    static SpoolConfig counting(SpoolConfig c, AtomicLong clock) {
        return c.withClock(clock::getAndIncrement);
    }

    static void appendRange(Spool spool, int from, int to) throws IOException {
        for (int i = from; i < to; i++) {
            spool.append(rec(i));
        }
    }

    /** The cursor the single-reader tests read through. */
    static final String CURSOR = "test";

    /** A spool with the one cursor {@link #CURSOR}, which also takes over an old single checkpoint. */
    static Spool open(Path dir, SpoolConfig config) throws IOException {
        return Spool.open(dir, config, List.of(CURSOR), CURSOR);
    }

    static SpoolCursor cursor(Spool spool) {
        return spool.cursor(CURSOR);
    }

    /** Reads everything after {@link #CURSOR}'s read position; acknowledges it if asked. */
    static List<Integer> readAll(Spool spool, boolean ack) throws IOException {
        return readAll(spool.cursor(CURSOR), ack);
    }

    /** Reads everything after the cursor's read position; acknowledges it if asked. */
    static List<Integer> readAll(SpoolCursor cursor, boolean ack) throws IOException {
        List<Integer> out = new ArrayList<>();
        while (true) {
            SpoolBatch b = cursor.read(1000, 1 << 20);
            if (b.isEmpty()) {
                return out;
            }
            for (SpoolRecord r : b.records()) {
                out.add(num(r.payload()));
            }
            if (ack) {
                cursor.ack(b.end());
            }
        }
    }

    static List<Integer> range(int from, int to) {
        List<Integer> out = new ArrayList<>();
        for (int i = from; i < to; i++) {
            out.add(i);
        }
        return out;
    }

    static Path segment(Path dir, long id) {
        return dir.resolve(SegmentFile.name(id));
    }

    static List<String> segmentNames(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("seg-")).sorted().toList();
        }
    }
}
