package io.aegisquartz.output.otlp;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.aegisquartz.Version;
import io.aegisquartz.output.PointLabels;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * {@code ExportMetricsServiceRequest} in OTLP/JSON: the protobuf JSON mapping with the changes the
 * OTLP specification makes (lowerCamelCase field names, enums as numbers, 64-bit integers as decimal
 * strings).
 */
final class OtlpJson {

    private static final JsonFactory JSON = new JsonFactory();

    private OtlpJson() {
    }

    static byte[] write(OtlpBatch batch, int sizeHint) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(sizeHint);
        try (JsonGenerator g = JSON.createGenerator(out)) {
            g.writeStartObject();
            g.writeArrayFieldStart("resourceMetrics");
            for (OtlpBatch.Resource r : batch.resources.values()) {
                g.writeStartObject();
                g.writeObjectFieldStart("resource");
                g.writeArrayFieldStart("attributes");
                attribute(g, OtlpEncoder.HOST_ID, r.hostId);
                attribute(g, OtlpEncoder.HOST_NAME, r.hostName);
                attribute(g, OtlpEncoder.SERVICE_NAME, OtlpEncoder.SERVICE);
                attribute(g, OtlpEncoder.SERVICE_VERSION, Version.get());
                g.writeEndArray();
                g.writeEndObject();
                g.writeArrayFieldStart("scopeMetrics");
                g.writeStartObject();
                g.writeObjectFieldStart("scope");
                g.writeStringField("name", OtlpEncoder.SCOPE);
                g.writeStringField("version", Version.get());
                g.writeEndObject();
                g.writeArrayFieldStart("metrics");
                for (OtlpBatch.Metric m : r.metrics.values()) {
                    metric(g, m);
                }
                g.writeEndArray();
                g.writeEndObject();
                g.writeEndArray();
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot happen writing to memory", e);
        }
        return out.toByteArray();
    }

    private static void metric(JsonGenerator g, OtlpBatch.Metric m) throws IOException {
        g.writeStartObject();
        g.writeStringField("name", m.name);
        if (!m.unit.isEmpty()) {
            g.writeStringField("unit", m.unit);
        }
        g.writeObjectFieldStart(m.monotonicSum ? "sum" : "gauge");
        g.writeArrayFieldStart("dataPoints");
        for (OtlpBatch.Point p : m.points) {
            g.writeStartObject();
            PointLabels a = p.attributes();
            g.writeArrayFieldStart("attributes");
            for (int i = 0; i < a.size(); i++) {
                attribute(g, a.key(i), a.value(i));
            }
            g.writeEndArray();
            g.writeStringField("timeUnixNano", Long.toString(p.timeMillis() * 1_000_000L));
            g.writeNumberField("asDouble", p.value());
            g.writeEndObject();
        }
        g.writeEndArray();
        if (m.monotonicSum) {
            g.writeNumberField("aggregationTemporality", 2); // CUMULATIVE
            g.writeBooleanField("isMonotonic", true);
        }
        g.writeEndObject();
        g.writeEndObject();
    }

    private static void attribute(JsonGenerator g, String key, String value) throws IOException {
        g.writeStartObject();
        g.writeStringField("key", key);
        g.writeObjectFieldStart("value");
        g.writeStringField("stringValue", value);
        g.writeEndObject();
        g.writeEndObject();
    }
}
