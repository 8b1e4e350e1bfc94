package io.aegisquartz.util;

import java.time.Duration;
import java.util.random.RandomGenerator;

/**
 * The agent's one exponential backoff policy, a value (in the manner of OpenTelemetry's
 * RetryPolicy and Kafka's ExponentialBackoff): the wait before retry number {@code n} (1 = the
 * first retry) is at most {@code initial × multiplier^(n−1)}, capped at {@code max}; with full
 * jitter it is a uniformly random value between 0 and that ceiling, so that many agents failing at
 * once (a receiver restart) do not retry in step.
 *
 * <p>Callers keep their own count of consecutive failures; the policy holds no state.
 */
public record ExponentialBackoff(Duration initial, double multiplier, Duration max, boolean fullJitter) {

    public ExponentialBackoff {
        if (initial.isNegative() || initial.isZero()) {
            throw new IllegalArgumentException("initial backoff must be positive: " + initial);
        }
        if (max.compareTo(initial) < 0) {
            throw new IllegalArgumentException("backoff max " + max + " is below the initial " + initial);
        }
        if (!(multiplier >= 1)) {
            throw new IllegalArgumentException("backoff multiplier must be at least 1: " + multiplier);
        }
    }

    /** Doubling with full jitter: what network retries use. */
    public static ExponentialBackoff jittered(Duration initial, Duration max) {
        return new ExponentialBackoff(initial, 2, max, true);
    }

    /** Doubling without jitter: for pauses a person reads in the log (a failing job's). */
    public static ExponentialBackoff doubling(Duration initial, Duration max) {
        return new ExponentialBackoff(initial, 2, max, false);
    }

    /** The longest wait before retry {@code attempt} (1-based; below 1 counts as 1), in nanoseconds. */
    public long ceilingNanos(int attempt) {
        long cap = max.toNanos();
        double c = initial.toNanos() * Math.pow(multiplier, Math.max(0, attempt - 1));
        return c >= cap ? cap : (long) c;
    }

    /** The wait before retry {@code attempt}: the ceiling, or with full jitter uniformly in [0, ceiling]. */
    public long delayNanos(int attempt, RandomGenerator random) {
        long ceiling = ceilingNanos(attempt);
        return fullJitter ? random.nextLong(ceiling + 1) : ceiling;
    }

    /** As {@link #delayNanos}, as a Duration. */
    public Duration delay(int attempt, RandomGenerator random) {
        return Duration.ofNanos(delayNanos(attempt, random));
    }
}
