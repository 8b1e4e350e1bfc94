package io.aegisquartz.schedule;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Fixed buckets give percentiles within a bucket's width (6.25 %) of the exact ones, from counts alone. */
class LatencyHistogramTest {

    @Test
    void everyValueFallsInABucketThatHoldsIt() {
        for (long v : new long[] {0, 1, 15, 16, 17, 31, 32, 33, 1000, 123_456, 1L << 39, (1L << 40) - 1}) {
            int b = LatencyHistogram.bucket(v);
            assertTrue(LatencyHistogram.highest(b) >= v, v + " <= highest of its bucket");
            assertTrue(b == 0 || LatencyHistogram.highest(b - 1) < v, v + " > highest of the bucket before");
        }
        assertEquals(LatencyHistogram.BUCKETS - 1, LatencyHistogram.bucket(Long.MAX_VALUE), "beyond the range: the last bucket");
    }

    @Test
    void percentilesAreWithinABucketOfTheExactValuesAndAWindowStartsEmpty() {
        LatencyHistogram h = new LatencyHistogram();
        Random r = new Random(42);
        long[] values = new long[10_000];
        for (int i = 0; i < values.length; i++) {
            values[i] = (long) (Math.abs(r.nextGaussian()) * 5_000) + (i % 100 == 0 ? 2_000_000 : 0);
            h.record(values[i]);
        }
        java.util.Arrays.sort(values);
        LatencyHistogram.Window w = h.takeWindow();
        assertEquals(10_000, w.count());
        assertEquals(values[values.length - 1], w.maxMicros());
        long p50 = values[4_999];
        long p99 = values[9_899];
        assertTrue(w.p50Micros() >= p50 && w.p50Micros() <= p50 * 1.0625 + 1, w + " vs exact p50 " + p50);
        assertTrue(w.p99Micros() >= p99 && w.p99Micros() <= p99 * 1.0625 + 1, w + " vs exact p99 " + p99);

        assertEquals(new LatencyHistogram.Window(0, 0, 0, 0), h.takeWindow(), "taking a window resets it");
        h.record(-5);
        assertEquals(new LatencyHistogram.Window(1, 0, 0, 0), h.takeWindow(), "a fire before its time counts as on time");
    }
}
