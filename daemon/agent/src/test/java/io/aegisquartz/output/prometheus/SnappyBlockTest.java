package io.aegisquartz.output.prometheus;

import org.junit.jupiter.api.Test;
import org.xerial.snappy.Snappy;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Our snappy block compressor, checked by the reference decoder (snappy-java, the C++ library). */
class SnappyBlockTest {

    private static void roundTrip(byte[] in) throws Exception {
        byte[] c = SnappyBlock.compress(in, in.length);
        assertTrue(c.length <= SnappyBlock.maxCompressedLength(in.length));
        assertTrue(Snappy.isValidCompressedBuffer(c), "valid for " + in.length + " bytes");
        assertArrayEquals(in, Snappy.uncompress(c), "round trip of " + in.length + " bytes");
    }

    @Test
    void everyLiteralAndCopyLengthRoundTrips() throws Exception {
        SplittableRandom r = new SplittableRandom(5);
        // Lengths at each literal-tag boundary (60, 256, 65536), fragment edges, and beyond.
        for (int n : new int[] {0, 1, 3, 4, 5, 59, 60, 61, 62, 255, 256, 257, 4095, 65535, 65536, 65537, 131_073, 1_000_003}) {
            byte[] random = new byte[n];
            r.nextBytes(random);
            roundTrip(random);
            byte[] repetitive = new byte[n];
            for (int i = 0; i < n; i++) {
                repetitive[i] = (byte) "abcab".charAt(i % 5);
            }
            roundTrip(repetitive);
            byte[] zeros = new byte[n];
            roundTrip(zeros);
        }
    }

    @Test
    void matchesOfEveryLengthAndOffsetRoundTrip() throws Exception {
        SplittableRandom r = new SplittableRandom(11);
        for (int round = 0; round < 300; round++) {
            byte[] in = new byte[r.nextInt(1, 200_000)];
            int i = 0;
            while (i < in.length) {
                if (i > 0 && r.nextBoolean()) {
                    int offset = r.nextInt(1, Math.min(i, 70_000) + 1);
                    int len = Math.min(in.length - i, r.nextInt(1, 300));
                    for (int k = 0; k < len; k++, i++) {
                        in[i] = in[i - offset];
                    }
                } else {
                    int len = Math.min(in.length - i, r.nextInt(1, 100));
                    for (int k = 0; k < len; k++) {
                        in[i++] = (byte) r.nextInt(4); // a small alphabet: many short matches
                    }
                }
            }
            roundTrip(in);
        }
    }

    @Test
    void compressesLikeTheReferenceOnRemoteWriteLikeData() throws Exception {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < 20_000; i++) {
            b.append("__name__\u0012memory_used_bytes\u0004host\u0004web1\u0003job\u0016default/sampler.groovy").append(i % 97);
        }
        byte[] in = b.toString().getBytes(StandardCharsets.UTF_8);
        byte[] ours = SnappyBlock.compress(in, in.length);
        byte[] reference = Snappy.compress(in);
        // Same algorithm family: within 25% of the reference's size.
        assertTrue(ours.length < reference.length * 1.25, ours.length + " vs reference " + reference.length);
        assertTrue(ours.length < in.length / 5, "compresses: " + ours.length + " of " + in.length);
        assertArrayEquals(in, Snappy.uncompress(ours));
        // Only the first len bytes are compressed.
        byte[] padded = Arrays.copyOf(in, in.length + 100);
        assertArrayEquals(in, Snappy.uncompress(SnappyBlock.compress(padded, in.length)));
    }
}
