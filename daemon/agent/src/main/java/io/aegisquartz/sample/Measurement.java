package io.aegisquartz.sample;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What a plugin produced for one metric, before the agent stamps it with host, job and id.
 *
 * @param timeMillis when it was emitted (epoch ms)
 * @param metric     metric name
 * @param status     plugin-reported status (ok, warning, critical, unknown), or a run-failure status
 * @param message    short text, may be null
 * @param values     numeric values by name, insertion-ordered
 * @param units      unit by value name, only for values that have one
 * @param tags       string tags
 */
public record Measurement(long timeMillis, String metric, Status status, String message,
                          Map<String, Double> values, Map<String, String> units, Map<String, String> tags) {

    public Measurement {
        // Keep insertion order: samples are read by people tailing a file as well as by machines.
        values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
        units = Collections.unmodifiableMap(new LinkedHashMap<>(units));
        tags = Collections.unmodifiableMap(new LinkedHashMap<>(tags));
    }

    /** A measurement that only carries a status and why (for failed or skipped runs). */
    public static Measurement status(long timeMillis, String metric, Status status, String message) {
        return new Measurement(timeMillis, metric, status, message, Map.of(), Map.of(), Map.of());
    }
}
