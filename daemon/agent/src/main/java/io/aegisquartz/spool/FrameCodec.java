package io.aegisquartz.spool;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * The record frame (docs/SPOOL.md): marker, CRC-32C, length, append time, payload; big-endian.
 * Not thread-safe: each user keeps its own instance so the CRC object and scratch array are reused
 * instead of allocated per record.
 */
final class FrameCodec {

    /** Bytes FF A5 51 FE: 0xFF and 0xFE never occur in UTF-8, so JSON payloads cannot fake a marker. */
    static final int MARKER = 0xFFA551FE;
    static final int HEADER_BYTES = 20;
    /** A hard format limit, so a damaged length field is recognised as impossible. */
    static final int MAX_PAYLOAD_BYTES = 16 << 20;

    private final CRC32C crc = new CRC32C();
    private final byte[] scratch = new byte[12];

    static int frameBytes(byte[] payload) {
        return HEADER_BYTES + payload.length;
    }

    void encode(ByteBuffer out, long timeMillis, byte[] payload) {
        int len = payload.length;
        scratch[0] = (byte) (len >>> 24);
        scratch[1] = (byte) (len >>> 16);
        scratch[2] = (byte) (len >>> 8);
        scratch[3] = (byte) len;
        for (int i = 0; i < 8; i++) {
            scratch[4 + i] = (byte) (timeMillis >>> (56 - 8 * i));
        }
        crc.reset();
        crc.update(scratch, 0, 12);
        crc.update(payload, 0, len);
        out.putInt(MARKER).putInt((int) crc.getValue()).put(scratch, 0, 12).put(payload);
    }

    /**
     * The total length of the valid frame at {@code off} of a heap buffer (absolute indices, data
     * ends at {@code end}), or -1 if there is none: wrong marker, impossible or overlong length,
     * or a CRC mismatch.
     */
    int validAt(ByteBuffer buf, int off, int end) {
        if (end - off < HEADER_BYTES || buf.getInt(off) != MARKER) {
            return -1;
        }
        int len = buf.getInt(off + 8);
        if (len < 0 || len > MAX_PAYLOAD_BYTES || len > end - off - HEADER_BYTES) {
            return -1;
        }
        crc.reset();
        crc.update(buf.array(), buf.arrayOffset() + off + 8, 12 + len);
        return (int) crc.getValue() == buf.getInt(off + 4) ? HEADER_BYTES + len : -1;
    }

    /** Resync: the offset of the next valid frame at or after {@code from}, or -1. */
    int findNext(ByteBuffer buf, int from, int end) {
        byte first = (byte) (MARKER >>> 24);
        for (int i = from; i <= end - HEADER_BYTES; i++) {
            if (buf.get(i) == first && validAt(buf, i, end) > 0) {
                return i;
            }
        }
        return -1;
    }

    static int length(ByteBuffer buf, int off) {
        return buf.getInt(off + 8);
    }

    static long time(ByteBuffer buf, int off) {
        return buf.getLong(off + 12);
    }

    static byte[] payload(ByteBuffer buf, int off) {
        byte[] p = new byte[length(buf, off)];
        buf.get(off + HEADER_BYTES, p);
        return p;
    }
}
