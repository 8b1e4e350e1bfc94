package io.aegisquartz.output.prometheus;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Snappy's block format (google/snappy, format_description.txt), compressing side only: what
 * Prometheus remote write requires of a request body ({@code Content-Encoding: snappy}, not the
 * framed format). Greedy matching over a hash of four-byte sequences within independent 64 KiB
 * fragments, as the reference compressor does, so every copy's offset fits two bytes. About 100
 * lines instead of snappy-java (1.4 MB, a native library unpacked to /tmp at first use); the tests
 * decompress what it writes with snappy-java.
 */
public final class SnappyBlock {

    private static final VarHandle INT_LE = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final int FRAGMENT = 1 << 16;
    private static final int HASH_BITS = 14;
    private static final int MIN_MATCH = 4;

    private SnappyBlock() {
    }

    /** The largest output for {@code n} input bytes (the reference's MaxCompressedLength). */
    public static int maxCompressedLength(int n) {
        return 32 + n + n / 6;
    }

    /** {@code in[0, len)} compressed. */
    public static byte[] compress(byte[] in, int len) {
        byte[] out = new byte[maxCompressedLength(len)];
        int op = putVarint(out, 0, len);
        int[] table = new int[1 << HASH_BITS];
        for (int start = 0; start < len; start += FRAGMENT) {
            op = fragment(in, start, Math.min(len, start + FRAGMENT), out, op, table);
        }
        return Arrays.copyOf(out, op);
    }

    private static int fragment(byte[] in, int start, int end, byte[] out, int op, int[] table) {
        Arrays.fill(table, -1);
        int literal = start;
        int ip = start;
        int misses = 32; // skip faster through data that does not compress, as the reference does
        while (ip + MIN_MATCH <= end) {
            int word = (int) INT_LE.get(in, ip);
            int h = (word * 0x1E35A7BD) >>> (32 - HASH_BITS);
            int candidate = table[h];
            table[h] = ip;
            if (candidate >= start && (int) INT_LE.get(in, candidate) == word) {
                op = literal(in, literal, ip - literal, out, op);
                int matched = MIN_MATCH;
                while (ip + matched < end && in[candidate + matched] == in[ip + matched]) {
                    matched++;
                }
                op = copy(ip - candidate, matched, out, op);
                ip += matched;
                literal = ip;
                misses = 32;
            } else {
                ip += misses++ >> 5;
            }
        }
        return literal(in, literal, end - literal, out, op);
    }

    private static int literal(byte[] in, int from, int n, byte[] out, int op) {
        if (n == 0) {
            return op;
        }
        int m = n - 1;
        if (m < 60) {
            out[op++] = (byte) (m << 2);
        } else if (m < 1 << 8) {
            out[op++] = (byte) (60 << 2);
            out[op++] = (byte) m;
        } else if (m < 1 << 16) {
            out[op++] = (byte) (61 << 2);
            out[op++] = (byte) m;
            out[op++] = (byte) (m >>> 8);
        } else if (m < 1 << 24) {
            out[op++] = (byte) (62 << 2);
            out[op++] = (byte) m;
            out[op++] = (byte) (m >>> 8);
            out[op++] = (byte) (m >>> 16);
        } else {
            out[op++] = (byte) (63 << 2);
            out[op++] = (byte) m;
            out[op++] = (byte) (m >>> 8);
            out[op++] = (byte) (m >>> 16);
            out[op++] = (byte) (m >>> 24);
        }
        System.arraycopy(in, from, out, op, n);
        return op + n;
    }

    /** A match of {@code len} bytes {@code offset} back (offset below 65536: within one fragment). */
    private static int copy(int offset, int len, byte[] out, int op) {
        while (len >= 68) {
            op = copy2(offset, 64, out, op);
            len -= 64;
        }
        if (len > 64) {
            op = copy2(offset, 60, out, op);
            len -= 60;
        }
        if (len >= 4 && len < 12 && offset < 2048) {
            out[op++] = (byte) (0x01 | ((len - 4) << 2) | ((offset >>> 8) << 5));
            out[op++] = (byte) offset;
            return op;
        }
        return copy2(offset, len, out, op);
    }

    private static int copy2(int offset, int len, byte[] out, int op) {
        out[op++] = (byte) (0x02 | ((len - 1) << 2));
        out[op++] = (byte) offset;
        out[op++] = (byte) (offset >>> 8);
        return op;
    }

    private static int putVarint(byte[] out, int op, int v) {
        while ((v & ~0x7F) != 0) {
            out[op++] = (byte) ((v & 0x7F) | 0x80);
            v >>>= 7;
        }
        out[op++] = (byte) v;
        return op;
    }
}
