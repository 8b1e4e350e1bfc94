package io.aegisquartz.testing;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.concurrent.atomic.AtomicLong;

/** A clock that moves only when a test moves it: waits in the code under test become steps in the test. */
public final class TestClock extends Clock {

    private final AtomicLong millis;

    public TestClock(long startMillis) {
        this.millis = new AtomicLong(startMillis);
    }

    /** Moves the clock forward by {@code d}; returns the new time. */
    public long advance(Duration d) {
        return millis.addAndGet(d.toMillis());
    }

    /** Sets the clock to {@code epochMillis} (never backwards). */
    public void set(long epochMillis) {
        millis.accumulateAndGet(epochMillis, Math::max);
    }

    @Override
    public long millis() {
        return millis.get();
    }

    @Override
    public Instant instant() {
        return Instant.ofEpochMilli(millis.get());
    }

    @Override
    public ZoneId getZone() {
        return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
        return this;
    }
}
