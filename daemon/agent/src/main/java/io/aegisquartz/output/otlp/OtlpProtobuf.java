package io.aegisquartz.output.otlp;

import io.aegisquartz.Version;
import io.aegisquartz.output.ByteArrayBuilder;
import io.aegisquartz.output.PointLabels;
import io.aegisquartz.output.ProtoWriter;

/**
 * {@code opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest} in protobuf, field
 * numbers as in opentelemetry-proto's metrics.proto, common.proto and resource.proto.
 */
final class OtlpProtobuf {

    private OtlpProtobuf() {
    }

    static byte[] write(OtlpBatch batch, int sizeHint) {
        ProtoWriter w = new ProtoWriter(new ByteArrayBuilder(sizeHint));
        for (OtlpBatch.Resource r : batch.resources.values()) {
            int resourceMetrics = w.begin(1); // ExportMetricsServiceRequest.resource_metrics
            int resource = w.begin(1); // ResourceMetrics.resource
            attribute(w, 1, OtlpEncoder.HOST_ID, r.hostId); // Resource.attributes
            attribute(w, 1, OtlpEncoder.HOST_NAME, r.hostName);
            attribute(w, 1, OtlpEncoder.SERVICE_NAME, OtlpEncoder.SERVICE);
            attribute(w, 1, OtlpEncoder.SERVICE_VERSION, Version.get());
            w.end(resource);
            int scopeMetrics = w.begin(2); // ResourceMetrics.scope_metrics
            int scope = w.begin(1); // ScopeMetrics.scope
            w.string(1, OtlpEncoder.SCOPE);
            w.string(2, Version.get());
            w.end(scope);
            for (OtlpBatch.Metric m : r.metrics.values()) {
                int metric = w.begin(2); // ScopeMetrics.metrics
                w.string(1, m.name);
                if (!m.unit.isEmpty()) {
                    w.string(3, m.unit);
                }
                int data = w.begin(m.monotonicSum ? 7 : 5); // Metric.sum : Metric.gauge
                for (OtlpBatch.Point p : m.points) {
                    int point = w.begin(1); // Gauge/Sum.data_points
                    PointLabels a = p.attributes();
                    for (int i = 0; i < a.size(); i++) {
                        attribute(w, 7, a.key(i), a.value(i)); // NumberDataPoint.attributes
                    }
                    w.fixed64(3, p.timeMillis() * 1_000_000L); // time_unix_nano
                    w.double64(4, p.value()); // as_double
                    w.end(point);
                }
                if (m.monotonicSum) {
                    w.int64(2, 2); // aggregation_temporality = CUMULATIVE
                    w.bool(3, true); // is_monotonic
                }
                w.end(data);
                w.end(metric);
            }
            w.end(scopeMetrics);
            w.end(resourceMetrics);
        }
        return w.out().toByteArray();
    }

    /** A KeyValue with a string AnyValue, in {@code field}. */
    private static void attribute(ProtoWriter w, int field, String key, String value) {
        int kv = w.begin(field);
        w.string(1, key);
        int any = w.begin(2);
        w.string(1, value); // AnyValue.string_value
        w.end(any);
        w.end(kv);
    }
}
