package io.aegisquartz.sample;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;

import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Map;

/** Writes a sample as one line of JSON, in the format documented in docs/SAMPLES.md. */
public final class SampleJson {

    private static final JsonFactory JSON = new JsonFactory();
    /** 2^53: every whole double below this is exact. */
    private static final double MAX_EXACT = 9_007_199_254_740_992.0;
    /** Always three fraction digits, so lines sort and diff cleanly. */
    private static final DateTimeFormatter TIME =
            DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

    private SampleJson() {
    }

    /** Formats epoch milliseconds the way samples carry them. */
    public static String time(long epochMillis) {
        return TIME.format(Instant.ofEpochMilli(epochMillis));
    }

    /** The sample as a single line of JSON, without the newline. */
    public static String toJson(Sample s) {
        StringWriter out = new StringWriter(256);
        try (JsonGenerator g = JSON.createGenerator(out)) {
            Measurement m = s.measurement();
            g.writeStartObject();
            g.writeStringField("id", s.id());
            g.writeStringField("time", time(m.timeMillis()));
            g.writeStringField("host_uuid", s.hostUuid());
            g.writeStringField("hostname", s.hostname());
            g.writeStringField("job", s.job());
            g.writeStringField("plugin", s.plugin());
            g.writeStringField("metric", m.metric());
            g.writeStringField("status", m.status().wire());
            if (m.message() != null) {
                g.writeStringField("message", m.message());
            }
            g.writeObjectFieldStart("values");
            for (Map.Entry<String, Double> e : m.values().entrySet()) {
                writeNumber(g, e.getKey(), e.getValue());
            }
            g.writeEndObject();
            if (!m.units().isEmpty()) {
                writeStrings(g, "units", m.units());
            }
            writeStrings(g, "tags", m.tags());
            g.writeNumberField("duration_ms", round3(s.durationMs()));
            g.writeNumberField("cpu_ms", round3(s.cpuMs()));
            if (s.truncated()) {
                g.writeBooleanField("truncated", true);
            }
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot happen writing to a StringWriter", e);
        }
        return out.toString();
    }

    private static void writeStrings(JsonGenerator g, String field, Map<String, String> map) throws IOException {
        g.writeObjectFieldStart(field);
        for (Map.Entry<String, String> e : map.entrySet()) {
            g.writeStringField(e.getKey(), e.getValue());
        }
        g.writeEndObject();
    }

    /** Whole numbers without ".0" or an exponent: 25325268992, not 2.5325268992E10. */
    private static void writeNumber(JsonGenerator g, String name, double v) throws IOException {
        if (v == Math.rint(v) && Math.abs(v) < MAX_EXACT) {
            g.writeNumberField(name, (long) v);
        } else {
            g.writeNumberField(name, v);
        }
    }

    private static double round3(double v) {
        return v < 0 ? -1 : Math.round(v * 1000.0) / 1000.0;
    }
}
