package io.aegisquartz.output.otlp;

import io.aegisquartz.output.PointLabels;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A batch grouped the way OTLP nests it: by resource (one host), then by metric (name, unit and
 * kind), then data points. Both wire forms ({@link OtlpProtobuf}, {@link OtlpJson}) write this.
 */
final class OtlpBatch {

    /** A data point: its attributes, time (epoch ms) and value. */
    record Point(PointLabels attributes, long timeMillis, double value) {
    }

    /** A metric: a Gauge, or a monotonic cumulative Sum (a counter). */
    static final class Metric {
        final String name;
        final String unit;
        final boolean monotonicSum;
        final List<Point> points = new ArrayList<>();

        Metric(String name, String unit, boolean monotonicSum) {
            this.name = name;
            this.unit = unit;
            this.monotonicSum = monotonicSum;
        }
    }

    /** The samples of one host. */
    static final class Resource {
        final String hostId;
        final String hostName;
        final Map<String, Metric> metrics = new LinkedHashMap<>();

        Resource(String hostId, String hostName) {
            this.hostId = hostId;
            this.hostName = hostName;
        }

        Metric metric(String name, String unit, boolean monotonicSum) {
            String key = name + '\0' + unit + '\0' + monotonicSum;
            return metrics.computeIfAbsent(key, k -> new Metric(name, unit, monotonicSum));
        }
    }

    final Map<String, Resource> resources = new LinkedHashMap<>();
    int points;

    Resource resource(String hostId, String hostName) {
        return resources.computeIfAbsent(hostId + '\0' + hostName, k -> new Resource(hostId, hostName));
    }
}
