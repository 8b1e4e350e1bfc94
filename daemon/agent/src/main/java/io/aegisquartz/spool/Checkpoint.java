package io.aegisquartz.spool;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.zip.CRC32C;

/**
 * The checkpoint of a spool written by the single-reader version, file {@code checkpoint}: magic,
 * version, segment, offset, CRC-32C (docs/SPOOL.md). Only read, once, when such a spool is opened:
 * its position becomes the heir cursor's, then the file is deleted. A torn or zero-filled file is
 * recognised by its CRC rather than trusted.
 */
final class Checkpoint {

    static final String FILE = "checkpoint";
    /** "AQCK" */
    static final int MAGIC = 0x4151434B;
    static final short VERSION = 1;
    static final int BYTES = 28;

    /** What was read: a position, or why there is none usable ({@code problem} null means simply absent). */
    record Read(long segment, long offset, String problem) {
        boolean valid() {
            return segment >= 0;
        }
    }

    private Checkpoint() {
    }

    static Read read(Path dir) {
        byte[] b;
        try {
            b = Files.readAllBytes(dir.resolve(FILE));
        } catch (NoSuchFileException e) {
            return new Read(-1, -1, null);
        } catch (IOException e) {
            return new Read(-1, -1, "unreadable: " + e.getMessage());
        }
        if (b.length != BYTES) {
            return new Read(-1, -1, "size " + b.length + " instead of " + BYTES);
        }
        ByteBuffer buf = ByteBuffer.wrap(b);
        CRC32C crc = new CRC32C();
        crc.update(b, 0, 24);
        if (buf.getInt(0) != MAGIC || (int) crc.getValue() != buf.getInt(24)) {
            return new Read(-1, -1, "bad magic or CRC");
        }
        if (buf.getShort(4) != VERSION) {
            return new Read(-1, -1, "unknown version " + buf.getShort(4));
        }
        long segment = buf.getLong(8);
        long offset = buf.getLong(16);
        if (segment < 0 || offset < 0) {
            return new Read(-1, -1, "negative position");
        }
        return new Read(segment, offset, null);
    }
}
