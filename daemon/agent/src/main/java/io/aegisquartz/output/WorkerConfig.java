package io.aegisquartz.output;

import io.aegisquartz.util.ExponentialBackoff;

import java.time.Duration;

/**
 * How a worker feeds its output.
 *
 * @param maxSamples        samples per batch
 * @param maxBytes          bytes of sample JSON per batch, before any encoding
 * @param requestsPerSecond sends per second, at most
 * @param backoff           the wait between retries while the backend fails
 * @param linger            how long the oldest sample of a batch that is not full waits for more
 * @param live              send the newest samples ahead of a backlog (only if the output accepts out-of-order data)
 */
public record WorkerConfig(int maxSamples, long maxBytes, double requestsPerSecond, ExponentialBackoff backoff, Duration linger,
                           boolean live) {

    public WorkerConfig {
        if (maxSamples < 1 || maxBytes < 1 || !(requestsPerSecond > 0)) {
            throw new IllegalArgumentException("batch limits and rate must be positive");
        }
    }

    public WorkerConfig withLinger(Duration d) {
        return new WorkerConfig(maxSamples, maxBytes, requestsPerSecond, backoff, d, live);
    }

    public WorkerConfig withBatch(int samples, long bytes) {
        return new WorkerConfig(samples, bytes, requestsPerSecond, backoff, linger, live);
    }

    public WorkerConfig withBackoff(Duration initial, Duration max) {
        return new WorkerConfig(maxSamples, maxBytes, requestsPerSecond, ExponentialBackoff.jittered(initial, max), linger, live);
    }

    public WorkerConfig withRate(double perSecond) {
        return new WorkerConfig(maxSamples, maxBytes, perSecond, backoff, linger, live);
    }

    public WorkerConfig withLive(boolean on) {
        return new WorkerConfig(maxSamples, maxBytes, requestsPerSecond, backoff, linger, on);
    }
}
