package io.aegisquartz.receive;

import java.util.concurrent.ConcurrentHashMap;

/**
 * Nonces of accepted requests, each kept until its request's timestamp falls outside the clock-skew
 * window: after that the timestamp check rejects a replay anyway, so the cache only ever holds the
 * last few minutes of traffic.
 */
final class NonceCache {

    private final ConcurrentHashMap<String, Long> expiry = new ConcurrentHashMap<>();
    private final long windowSeconds;
    private volatile long lastPrune;

    NonceCache(long windowSeconds) {
        this.windowSeconds = windowSeconds;
    }

    /** Whether the nonce was used by an accepted request still inside the window. */
    boolean seen(String nonce) {
        return expiry.containsKey(nonce);
    }

    /**
     * Records the nonce of a request whose signature verified; false if another request recorded it
     * first (two copies of one request arriving at once). Unsigned requests are never recorded, so
     * they cannot fill the cache.
     */
    boolean record(String nonce, long timestamp, long nowSeconds) {
        prune(nowSeconds);
        return expiry.putIfAbsent(nonce, timestamp + windowSeconds) == null;
    }

    int size() {
        return expiry.size();
    }

    /** At most once a second; removal is cheap but need not run for every request. */
    void prune(long nowSeconds) {
        if (nowSeconds != lastPrune) {
            lastPrune = nowSeconds;
            expiry.values().removeIf(until -> until < nowSeconds);
        }
    }
}
