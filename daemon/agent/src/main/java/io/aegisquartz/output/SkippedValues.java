package io.aegisquartz.output;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.HashMap;
import java.util.Map;

/**
 * Values an output's encoder left out of their points (a NaN or an infinity the backend cannot
 * store), said in the log: the first time for each reason at once, then at most every ten minutes
 * with the count since the last line. Nothing is left out silently, and a plugin that reports NaN
 * every second does not flood the log. Used by one worker thread.
 */
public final class SkippedValues {

    private static final Logger LOG = LoggerFactory.getLogger("output");
    private static final long EVERY_MS = 10 * 60_000;

    private final String output;
    private final Map<String, long[]> byReason = new HashMap<>();

    public SkippedValues(String output) {
        this.output = output;
    }

    /** Notes what {@code report} left out, logging as above. */
    public void note(EncodeReport report) {
        if (report.skipped().isEmpty()) {
            return;
        }
        long now = System.currentTimeMillis();
        report.skipped().forEach((reason, n) -> {
            long[] st = byReason.get(reason);
            if (st == null) {
                byReason.put(reason, new long[] {now, 0, n});
                LOG.warn("output {}: {} value(s) left out of their points: {} (counted; at most one such line every 10 minutes)",
                        output, n, reason);
                return;
            }
            st[1] += n;
            st[2] += n;
            if (now - st[0] >= EVERY_MS) {
                LOG.warn("output {}: {} more value(s) left out in the last {} min ({} in all): {}", output, st[1],
                        (now - st[0]) / 60_000, st[2], reason);
                st[0] = now;
                st[1] = 0;
            }
        });
    }

    /** Values left out since this output started, all reasons together. */
    public long total() {
        long n = 0;
        for (long[] st : byReason.values()) {
            n += st[2];
        }
        return n;
    }
}
