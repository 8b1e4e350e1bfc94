package io.aegisquartz.schedule;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A failing job's pause: after 'after' failures, two intervals, then doubling up to the cap; one success ends it. */
class BackoffTest {

    @Test
    void pausesDoubleFromTwoIntervalsUpToTheCapAndASuccessEndsThem() {
        Backoff b = new Backoff(3, 60_000);
        assertFalse(b.record(true, 0, 5_000));
        assertFalse(b.record(true, 0, 5_000));
        assertEquals(0, b.until());
        assertTrue(b.record(true, 1_000, 5_000), "the third failure starts the backoff");
        assertEquals(10_000, b.pauseMillis());
        assertEquals(11_000, b.until());
        assertFalse(b.record(true, 20_000, 5_000));
        assertEquals(20_000, b.pauseMillis());
        b.record(true, 40_000, 5_000);
        assertEquals(40_000, b.pauseMillis());
        b.record(true, 80_000, 5_000);
        assertEquals(60_000, b.pauseMillis(), "capped");
        b.record(false, 140_000, 5_000);
        assertEquals(0, b.until());
        assertEquals(0, b.consecutiveFailures());
    }

    @Test
    void anIntervalLongerThanTheCapPausesForTheCap() {
        Backoff b = new Backoff(1, 30_000);
        b.record(true, 0, 3_600_000);
        assertEquals(30_000, b.pauseMillis());
    }
}
