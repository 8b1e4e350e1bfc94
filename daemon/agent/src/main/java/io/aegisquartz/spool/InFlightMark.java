package io.aegisquartz.spool;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.zip.CRC32C;

/**
 * {@code NAME.inflight} in the spool directory: where the batch an output is sending starts (its
 * cursor's acknowledged position) and how many records it holds, written before the send and never
 * fsynced (docs/SPOOL.md). It survives a kill of the agent (the page cache does), so the next start
 * can tell which records the backend may already have; after a power loss it may be missing or
 * stale, which only means that nothing is known to have been sent (the behaviour without it).
 */
final class InFlightMark {

    static final String SUFFIX = ".inflight";
    private static final int MAGIC = 0x41514946; // "AQIF"
    private static final int BYTES = 4 + 8 + 8 + 4 + 4;

    private InFlightMark() {
    }

    /** Records that {@code records} records from {@code start} are being sent. */
    static void write(Path dir, String cursor, SpoolPosition start, int records) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(BYTES);
        b.putInt(MAGIC).putLong(start.segment()).putLong(start.offset()).putInt(records);
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, BYTES - 4);
        b.putInt((int) crc.getValue());
        Files.write(dir.resolve(cursor + SUFFIX), b.array());
    }

    /**
     * The records from {@code start} that were being sent when the last agent stopped: 0 if the mark
     * is missing, unreadable, or starts elsewhere (that batch was acknowledged, or a drop moved the cursor).
     */
    static int read(Path dir, String cursor, SpoolPosition start) {
        byte[] a;
        try {
            a = Files.readAllBytes(dir.resolve(cursor + SUFFIX));
        } catch (NoSuchFileException e) {
            return 0;
        } catch (IOException e) {
            return 0; // unknown is "nothing sent": the behaviour without a mark
        }
        if (a.length != BYTES) {
            return 0;
        }
        ByteBuffer b = ByteBuffer.wrap(a);
        CRC32C crc = new CRC32C();
        crc.update(a, 0, BYTES - 4);
        if (b.getInt() != MAGIC || b.getInt(BYTES - 4) != (int) crc.getValue()) {
            return 0;
        }
        long segment = b.getLong();
        long offset = b.getLong();
        int records = b.getInt();
        return segment == start.segment() && offset == start.offset() ? Math.max(records, 0) : 0;
    }
}
