package io.aegisquartz.sample;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.SplittableRandom;

/**
 * Generates sample ids as UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then 74 random bits.
 *
 * <p>Time-ordered ids let a receiver bound its de-duplication memory by time; the random part makes
 * collisions between hosts and restarts negligible without any coordination.
 *
 * <p>The random bits come from a generator seeded once per start from {@link SecureRandom}: ids need
 * to be unique, not secret, and SecureRandom's Linux default costs a SHA-1 and a read of
 * /dev/urandom per call, tens of times per plugin run.
 *
 * <p>A sample that may be produced more than once from the same input (an event file read again
 * after a crash) gets a {@linkplain #derived derived} id instead: same layout, but the 74 bits
 * come from a hash of that input, so every copy carries the same id and the receiver drops the
 * repeats.
 */
public final class SampleIds {

    private static final SplittableRandom RANDOM = new SplittableRandom(new SecureRandom().nextLong());
    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private SampleIds() {
    }

    /** A new id for a sample taken at {@code epochMillis}. */
    public static String next(long epochMillis) {
        long rand;
        long rand2;
        synchronized (RANDOM) { // SplittableRandom is not thread-safe; a few workers rarely contend
            rand = RANDOM.nextLong();
            rand2 = RANDOM.nextLong();
        }
        return format(epochMillis, rand, rand2);
    }

    /**
     * The id of a sample whose identity is {@code parts} (for an event: the host uuid, the event
     * file's name and the hash of its bytes): laid out as {@link #next}, with the time first, and the 74 bits
     * after it taken from the SHA-256 of the parts (each preceded by its length, so that no two
     * different lists hash alike). The same parts always give the same id.
     */
    private static String derived(long epochMillis, byte[]... parts) {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has SHA-256", e);
        }
        for (byte[] p : parts) {
            sha.update(java.nio.ByteBuffer.allocate(4).putInt(p.length).array());
            sha.update(p);
        }
        java.nio.ByteBuffer h = java.nio.ByteBuffer.wrap(sha.digest());
        return format(epochMillis, h.getLong(), h.getLong());
    }

    /** The id of a sample whose identity is the text {@code parts} (UTF-8); see {@link #derived(long, byte[]...)}. */
    public static String derived(long epochMillis, String... parts) {
        byte[][] bytes = new byte[parts.length][];
        for (int i = 0; i < parts.length; i++) {
            bytes[i] = parts[i].getBytes(StandardCharsets.UTF_8);
        }
        return derived(epochMillis, bytes);
    }

    /** UUIDv7 text: 48 bits of time, version 7, 12 bits of {@code rand}, variant 10, 62 bits of {@code rand2}. */
    private static String format(long epochMillis, long rand, long rand2) {
        long high = (epochMillis << 16) | 0x7000L | ((rand >>> 52) & 0x0FFFL);
        long low = 0x8000_0000_0000_0000L | (rand2 & 0x3FFF_FFFF_FFFF_FFFFL);
        char[] out = new char[36];
        int pos = 0;
        for (int i = 0; i < 32; i++) {
            if (i == 8 || i == 12 || i == 16 || i == 20) {
                out[pos++] = '-';
            }
            long word = i < 16 ? high : low;
            int shift = (15 - (i % 16)) * 4;
            out[pos++] = HEX[(int) ((word >>> shift) & 0xF)];
        }
        return new String(out);
    }
}
