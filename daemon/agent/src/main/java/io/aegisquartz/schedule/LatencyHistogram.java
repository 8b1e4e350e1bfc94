package io.aegisquartz.schedule;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Counts of durations in fixed log-linear buckets, as HdrHistogram keeps them: exact below 16
 * microseconds, then 16 buckets per power of two (each at most 1/16 = 6.25 % wide), up to 2^40 us
 * (12 days; longer counts as that). A fixed array of {@value #BUCKETS} counters: recording allocates
 * nothing and takes no lock, so every fire can record; a percentile is read from the counts, never
 * from stored values.
 */
public final class LatencyHistogram {

    private static final int SUB_BITS = 4;
    private static final int SUB = 1 << SUB_BITS;
    private static final int MAX_EXPONENT = 39;
    static final int BUCKETS = SUB + (MAX_EXPONENT - SUB_BITS + 1) * SUB;

    private final AtomicLongArray counts = new AtomicLongArray(BUCKETS);
    private final AtomicLong max = new AtomicLong();

    /** What one window held: count, and p50, p99 and max in microseconds (0 if the window was empty). */
    public record Window(long count, long p50Micros, long p99Micros, long maxMicros) {
    }

    /** Counts one duration; negative counts as 0. */
    public void record(long micros) {
        long v = Math.max(0, micros);
        counts.incrementAndGet(bucket(v));
        max.accumulateAndGet(v, Math::max);
    }

    /**
     * The window since the last call, and a fresh one. A value recorded while this runs may land in
     * either window, never in both nor in neither.
     */
    public Window takeWindow() {
        long[] c = new long[BUCKETS];
        long n = 0;
        for (int i = 0; i < BUCKETS; i++) {
            c[i] = counts.getAndSet(i, 0);
            n += c[i];
        }
        long m = max.getAndSet(0);
        if (n == 0) {
            return new Window(0, 0, 0, 0);
        }
        return new Window(n, Math.min(m, percentile(c, n, 0.50)), Math.min(m, percentile(c, n, 0.99)), m);
    }

    /** The highest value of the bucket holding the value at rank ceil(p * n). */
    private static long percentile(long[] c, long n, double p) {
        long rank = Math.max(1, (long) Math.ceil(p * n));
        long seen = 0;
        for (int i = 0; i < BUCKETS; i++) {
            seen += c[i];
            if (seen >= rank) {
                return highest(i);
            }
        }
        return highest(BUCKETS - 1);
    }

    static int bucket(long v) {
        if (v < SUB) {
            return (int) v;
        }
        int e = 63 - Long.numberOfLeadingZeros(v);
        if (e > MAX_EXPONENT) {
            return BUCKETS - 1;
        }
        int sub = (int) ((v >>> (e - SUB_BITS)) & (SUB - 1));
        return SUB + (e - SUB_BITS) * SUB + sub;
    }

    /** The highest value that falls in bucket {@code i}. */
    static long highest(int i) {
        if (i < SUB) {
            return i;
        }
        int e = (i - SUB) / SUB + SUB_BITS;
        int sub = (i - SUB) % SUB;
        return ((long) (SUB + sub + 1) << (e - SUB_BITS)) - 1;
    }
}
