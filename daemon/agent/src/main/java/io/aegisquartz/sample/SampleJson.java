package io.aegisquartz.sample;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;

import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.time.LocalDate;
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

    /**
     * Formats epoch milliseconds the way samples carry them: 2026-11-22T09:33:05.120Z.
     *
     * <p>By hand rather than with {@link DateTimeFormatter} alone: this runs for every sample, and
     * while it runs interpreted (an agent's first minutes) the formatter costs about ten times as
     * much (measured with -Xint: 50 against 4 microseconds a call).
     */
    public static String time(long epochMillis) {
        long seconds = Math.floorDiv(epochMillis, 1000L);
        LocalDate day = LocalDate.ofEpochDay(Math.floorDiv(seconds, 86_400L));
        int year = day.getYear();
        if (year < 0 || year > 9999) {
            return TIME.format(Instant.ofEpochMilli(epochMillis));
        }
        int secondOfDay = (int) Math.floorMod(seconds, 86_400L);
        char[] c = new char[24];
        digits(c, 0, year, 4);
        c[4] = '-';
        digits(c, 5, day.getMonthValue(), 2);
        c[7] = '-';
        digits(c, 8, day.getDayOfMonth(), 2);
        c[10] = 'T';
        digits(c, 11, secondOfDay / 3600, 2);
        c[13] = ':';
        digits(c, 14, secondOfDay / 60 % 60, 2);
        c[16] = ':';
        digits(c, 17, secondOfDay % 60, 2);
        c[19] = '.';
        digits(c, 20, (int) Math.floorMod(epochMillis, 1000L), 3);
        c[23] = 'Z';
        return new String(c);
    }

    /** Writes {@code value} as {@code width} decimal digits, zero-padded, at {@code at}. */
    private static void digits(char[] c, int at, int value, int width) {
        for (int i = at + width - 1; i >= at; i--) {
            c[i] = (char) ('0' + value % 10);
            value /= 10;
        }
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
