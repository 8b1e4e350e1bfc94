package io.aegisquartz.sample;

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
 * after a crash, a drop report built again after a restart) gets a {@linkplain #derived derived} id
 * instead: same layout, but the 74 bits come from a hash of that input, so every copy carries the
 * same id and the receiver drops the repeats.
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
     * A UUIDv7 for {@code epochMillis} whose other bits are a SHA-256 of {@code key}: the same key and
     * time always give the same id, so a sample the agent builds again after a restart (a
     * {@code dropped} report delivered twice) is one sample to a receiver that drops repeated ids.
     */
    public static String derived(long epochMillis, String key) {
        try {
            java.nio.ByteBuffer h = java.nio.ByteBuffer.wrap(java.security.MessageDigest.getInstance("SHA-256")
                    .digest(key.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
            return format(epochMillis, h.getLong(), h.getLong());
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JDK", e);
        }
    }

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
