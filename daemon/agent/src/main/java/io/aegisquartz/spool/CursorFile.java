package io.aegisquartz.spool;

import io.aegisquartz.util.AtomicFiles;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;
import java.util.zip.CRC32C;

/**
 * One cursor's checkpoint, file {@code <name>.cursor} (format: docs/SPOOL.md): two 512-byte slots,
 * each a complete state with a write sequence number and a CRC-32C. An update overwrites the older
 * slot in place and fdatasyncs it, one flush of one block and no metadata, where a rename would cost
 * three; a torn write damages only the slot being written, and the other still holds the previous
 * state (at worst a batch is delivered again, never lost).
 */
final class CursorFile implements Closeable {

    static final String SUFFIX = ".cursor";
    /** Lower-case letters, digits, '_' and '-', starting with a letter or digit: safe in a file name and a log line. */
    static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9_-]{0,31}");
    /** "AQCR" */
    static final int MAGIC = 0x41514352;
    static final short VERSION = 1;
    static final int SLOT = 512;
    static final int FILE_BYTES = 2 * SLOT;
    /** The CRC covers bytes 0 .. CRC_AT-1 of a slot and is stored at CRC_AT. */
    static final int CRC_AT = 32 + DropLedger.BYTES;

    /** A state as stored: the acknowledged position, the drop ledger, and the slot's write sequence. */
    record State(long sequence, long segment, long offset, DropLedger ledger) {
    }

    /** What reading found: a state, or why there is none ({@code problem} null and no state: no file). */
    record Read(State state, String problem) {
        boolean valid() {
            return state != null;
        }
    }

    private final Path path;
    private final FileChannel channel;
    private final ByteBuffer slot = ByteBuffer.allocate(SLOT);
    private long sequence;

    private CursorFile(Path path, FileChannel channel, long sequence) {
        this.path = path;
        this.channel = channel;
        this.sequence = sequence;
    }

    static Path path(Path dir, String name) {
        return dir.resolve(name + SUFFIX);
    }

    /** The cursor name of a checkpoint file name, or null if it is not one. */
    static String nameOf(String fileName) {
        if (!fileName.endsWith(SUFFIX)) {
            return null;
        }
        String name = fileName.substring(0, fileName.length() - SUFFIX.length());
        return NAME.matcher(name).matches() ? name : null;
    }

    /** Every {@code *.cursor} file in {@code dir}, by cursor name. */
    static Map<String, Read> readAll(Path dir) throws IOException {
        Map<String, Read> out = new TreeMap<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*" + SUFFIX)) {
            for (Path p : ds) {
                String name = nameOf(p.getFileName().toString());
                if (name != null) {
                    out.put(name, read(p));
                }
            }
        }
        return out;
    }

    /** The newer valid slot of {@code file}. */
    static Read read(Path file) {
        byte[] b;
        try {
            b = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            return new Read(null, null);
        } catch (IOException e) {
            return new Read(null, "unreadable: " + e.getMessage());
        }
        if (b.length != FILE_BYTES) {
            return new Read(null, "size " + b.length + " instead of " + FILE_BYTES);
        }
        State best = null;
        String why = null;
        for (int i = 0; i < 2; i++) {
            ByteBuffer s = ByteBuffer.wrap(b, i * SLOT, SLOT).slice();
            String problem = slotProblem(s);
            if (problem != null) {
                why = why == null ? "slot " + i + ": " + problem : why + "; slot " + i + ": " + problem;
                continue;
            }
            State st = decode(s);
            if (st == null) {
                why = (why == null ? "" : why + "; ") + "slot " + i + ": impossible values";
            } else if (best == null || st.sequence > best.sequence) {
                best = st;
            }
        }
        return best != null ? new Read(best, null) : new Read(null, why);
    }

    private static String slotProblem(ByteBuffer s) {
        CRC32C crc = new CRC32C();
        crc.update(s.array(), s.arrayOffset(), CRC_AT);
        if (s.getInt(0) != MAGIC || (int) crc.getValue() != s.getInt(CRC_AT)) {
            return "bad magic or CRC";
        }
        if (s.getShort(4) != VERSION) {
            return "unknown version " + s.getShort(4);
        }
        return null;
    }

    private static State decode(ByteBuffer s) {
        long seq = s.getLong(8);
        long segment = s.getLong(16);
        long offset = s.getLong(24);
        if (seq < 0 || segment < 0 || offset < 0) {
            return null;
        }
        s.position(32);
        DropLedger ledger = DropLedger.decode(s);
        return ledger == null ? null : new State(seq, segment, offset, ledger);
    }

    /**
     * The part of a slot that describes the state (bytes 16 up to the CRC): taken under the spool's
     * lock, written outside it by {@link #write}.
     */
    static byte[] body(SpoolPosition position, DropLedger ledger) {
        ByteBuffer b = ByteBuffer.allocate(CRC_AT - 16);
        b.putLong(position.segment()).putLong(position.offset());
        ledger.encode(b);
        return b.array();
    }

    private static void encode(ByteBuffer s, long sequence, byte[] body) {
        s.clear();
        s.putInt(MAGIC).putShort(VERSION).putShort((short) 0).putLong(sequence).put(body);
        CRC32C crc = new CRC32C();
        crc.update(s.array(), s.arrayOffset(), CRC_AT);
        s.putInt((int) crc.getValue());
        while (s.hasRemaining()) {
            s.put((byte) 0);
        }
        s.flip();
    }

    /**
     * Creates (or replaces) the file with the state {@code body} in slot 1 (sequence 1)
     * and an empty slot 0, atomically, and opens it for updates.
     */
    static CursorFile create(Path dir, String name, byte[] body) throws IOException {
        Path path = path(dir, name);
        ByteBuffer all = ByteBuffer.allocate(FILE_BYTES);
        ByteBuffer s = ByteBuffer.allocate(SLOT);
        encode(s, 1, body);
        all.position(SLOT);
        all.put(s);
        AtomicFiles.write(path, all.array());
        return new CursorFile(path, FileChannel.open(path, StandardOpenOption.WRITE), 1);
    }

    /** Opens an existing, valid file for updates; the next write goes to the slot not holding {@code sequence}. */
    static CursorFile open(Path dir, String name, long sequence) throws IOException {
        Path path = path(dir, name);
        return new CursorFile(path, FileChannel.open(path, StandardOpenOption.WRITE), sequence);
    }

    Path path() {
        return path;
    }

    /** Makes the state {@code body} durable: the older slot, overwritten and fdatasync'ed. Writes are serialized by the caller. */
    void write(byte[] body) throws IOException {
        long next = sequence + 1;
        encode(slot, next, body);
        long at = (next % 2) * SLOT;
        while (slot.hasRemaining()) {
            channel.write(slot, at + slot.position());
        }
        channel.force(false);
        sequence = next;
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
