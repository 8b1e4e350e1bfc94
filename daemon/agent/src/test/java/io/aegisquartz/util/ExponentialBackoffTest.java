package io.aegisquartz.util;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ExponentialBackoffTest {

    @Test
    void theCeilingDoublesFromTheInitialWaitUpToTheCapAndStaysThere() {
        ExponentialBackoff b = ExponentialBackoff.doubling(Duration.ofSeconds(1), Duration.ofSeconds(10));
        assertEquals(1_000_000_000L, b.ceilingNanos(0), "below 1 counts as the first retry");
        assertEquals(1_000_000_000L, b.ceilingNanos(1));
        assertEquals(2_000_000_000L, b.ceilingNanos(2));
        assertEquals(8_000_000_000L, b.ceilingNanos(4));
        assertEquals(10_000_000_000L, b.ceilingNanos(5));
        assertEquals(10_000_000_000L, b.ceilingNanos(Integer.MAX_VALUE), "no overflow however long the outage");
        assertEquals(Duration.ofSeconds(4), b.delay(3, new SplittableRandom(1)), "without jitter the delay is the ceiling");
    }

    @Test
    void fullJitterSpreadsUniformlyBetweenZeroAndTheCeiling() {
        ExponentialBackoff b = ExponentialBackoff.jittered(Duration.ofMillis(100), Duration.ofSeconds(60));
        SplittableRandom random = new SplittableRandom(7);
        long ceiling = b.ceilingNanos(4); // 800 ms
        long below = 0;
        long above = 0;
        for (int i = 0; i < 10_000; i++) {
            long d = b.delayNanos(4, random);
            assertTrue(d >= 0 && d <= ceiling, d + " outside [0, " + ceiling + "]");
            if (d < ceiling / 2) {
                below++;
            } else {
                above++;
            }
        }
        // Uniform: about half on each side of the middle (a fixed seed, so this is exact run to run).
        assertTrue(Math.abs(below - above) < 400, below + " below the middle, " + above + " above");
    }

    @Test
    void nonsensePoliciesAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> ExponentialBackoff.jittered(Duration.ZERO, Duration.ofSeconds(1)));
        assertThrows(IllegalArgumentException.class, () -> ExponentialBackoff.jittered(Duration.ofSeconds(2), Duration.ofSeconds(1)));
        assertThrows(IllegalArgumentException.class,
                () -> new ExponentialBackoff(Duration.ofSeconds(1), 0.5, Duration.ofSeconds(2), false));
    }
}
