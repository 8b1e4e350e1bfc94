package io.aegisquartz.spool;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import io.aegisquartz.util.AtomicFiles;

import java.util.zip.CRC32C;

/**
 * One segment file ({@code seg-<20-digit id>.spool}): its header, its recovery scan, and the
 * in-memory facts the spool keeps about it. Mutable fields are guarded by the spool's lock.
 */
final class SegmentFile {

    /** "AQSG" */
    static final int MAGIC = 0x41515347;
    static final short VERSION = 1;
    static final int HEADER_BYTES = 20;
    static final Pattern NAME = Pattern.compile("seg-(\\d{20})\\.spool");

    final long id;
    final Path path;
    /** Logical size: header plus every frame appended, written to the file or still in the group buffer. */
    long size;
    /** Bytes handed to the file. */
    long fileSize;
    /** Bytes known to be on stable storage; readers never go past this. */
    long durableSize;
    long firstSeq;
    long records;
    long firstTime = -1;
    long lastTime = -1;
    /** Damaged byte ranges [start, end) found by recovery or reading; readers jump over them. */
    final List<long[]> skips = new ArrayList<>(0);
    /** Open only for the segment being appended to. */
    FileChannel channel;
    boolean dropped;

    private SegmentFile(long id, Path path) {
        this.id = id;
        this.path = path;
    }

    static String name(long id) {
        return String.format("seg-%020d.spool", id);
    }

    /** The id in a segment file name, or -1 if it is not one. */
    static long idOf(Path file) {
        Matcher m = NAME.matcher(file.getFileName().toString());
        return m.matches() ? Long.parseLong(m.group(1)) : -1;
    }

    /**
     * A new empty segment, open for appending. Written under a temporary name and renamed, so a
     * crash never leaves a segment without a complete, durable header.
     */
    static SegmentFile create(Path dir, long id, long firstSeq) throws IOException {
        Path path = dir.resolve(name(id));
        ByteBuffer header = ByteBuffer.allocate(HEADER_BYTES);
        header.putInt(MAGIC).putShort(VERSION).putShort((short) 0).putLong(id);
        CRC32C crc = new CRC32C();
        crc.update(header.array(), 0, 16);
        header.putInt((int) crc.getValue());
        AtomicFiles.write(path, header.array());
        SegmentFile seg = new SegmentFile(id, path);
        seg.size = seg.fileSize = seg.durableSize = HEADER_BYTES;
        seg.firstSeq = firstSeq;
        seg.channel = FileChannel.open(path, StandardOpenOption.WRITE);
        return seg;
    }

    /** Why the header is unusable, or null if it is fine. */
    static String headerProblem(ByteBuffer buf, long expectedId) {
        if (buf.limit() < HEADER_BYTES) {
            return "shorter than its header";
        }
        CRC32C crc = new CRC32C();
        crc.update(buf.array(), buf.arrayOffset(), 16);
        if (buf.getInt(0) != MAGIC || (int) crc.getValue() != buf.getInt(16)) {
            return "bad magic or header CRC";
        }
        if (buf.getShort(4) != VERSION) {
            return "unknown version " + buf.getShort(4);
        }
        if (buf.getLong(8) != expectedId) {
            return "header says segment " + buf.getLong(8);
        }
        return null;
    }

    /** The outcome of scanning one existing segment at open. */
    static final class Scan {
        SegmentFile segment;
        String badHeader;
        long recovered;
        long corrupt;
        long truncated;
        /**
         * For each checkpoint offset asked about: the valid records wholly before it, and the record
         * boundary (end of the last valid frame or damaged region) at or before it.
         */
        long[] acked;
        long[] boundaries;
    }

    /**
     * Reads a whole segment, validates every frame, steps over damaged regions (resync on the
     * next frame that passes marker, length and CRC checks) and truncates the file after its last
     * valid frame. {@code ackOffsets} are the offsets of checkpoints that point into this segment.
     */
    static Scan recover(Path path, long id, long[] ackOffsets, FrameCodec codec) throws IOException {
        Scan scan = new Scan();
        scan.acked = new long[ackOffsets.length];
        scan.boundaries = new long[ackOffsets.length];
        java.util.Arrays.fill(scan.boundaries, HEADER_BYTES);
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            long length = ch.size();
            if (length > Integer.MAX_VALUE - 16) {
                scan.badHeader = "too large (" + length + " bytes)";
                return scan;
            }
            ByteBuffer buf = ByteBuffer.allocate((int) length);
            while (buf.hasRemaining() && ch.read(buf, buf.position()) >= 0) {
                // keep reading
            }
            buf.flip();
            scan.badHeader = headerProblem(buf, id);
            if (scan.badHeader != null) {
                return scan;
            }
            SegmentFile seg = new SegmentFile(id, path);
            int end = buf.limit();
            int off = HEADER_BYTES;
            while (off < end) {
                int len = codec.validAt(buf, off, end);
                if (len > 0) {
                    long time = FrameCodec.time(buf, off);
                    if (seg.records == 0) {
                        seg.firstTime = time;
                    }
                    seg.lastTime = time;
                    seg.records++;
                    off += len;
                    for (int i = 0; i < ackOffsets.length; i++) {
                        if (ackOffsets[i] >= off) {
                            scan.acked[i] = seg.records;
                            scan.boundaries[i] = off;
                        }
                    }
                    continue;
                }
                int next = codec.findNext(buf, off + 1, end);
                if (next < 0) {
                    // Nothing valid follows: a torn tail (or a damaged last record, indistinguishable).
                    scan.truncated = end - off;
                    ch.truncate(off);
                    ch.force(true);
                    end = off;
                    break;
                }
                seg.skips.add(new long[] {off, next});
                scan.corrupt++;
                for (int i = 0; i < ackOffsets.length; i++) {
                    if (ackOffsets[i] >= next) {
                        scan.boundaries[i] = next;
                    }
                }
                off = next;
            }
            seg.size = seg.fileSize = seg.durableSize = end;
            scan.recovered = seg.records;
            scan.segment = seg;
            return scan;
        }
    }

    /** Moves an unreadable segment out of the way under a name that never collides. */
    static Path setAside(Path path) throws IOException {
        Path target = path.resolveSibling(path.getFileName() + ".bad");
        for (int i = 1; Files.exists(target); i++) {
            target = path.resolveSibling(path.getFileName() + ".bad." + i);
        }
        Files.move(path, target, StandardCopyOption.ATOMIC_MOVE);
        return target;
    }
}
