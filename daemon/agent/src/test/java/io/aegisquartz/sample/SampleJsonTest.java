package io.aegisquartz.sample;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The sample line format documented in docs/SAMPLES.md. */
class SampleJsonTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void timesAreUtcWithThreeFractionDigitsOnEveryCalendarEdge() {
        // Leap days, year and month ends, the epoch, before it, and a far year: always 24 characters.
        assertEquals("2024-02-29T23:59:59.999Z", SampleJson.time(Instant.parse("2024-02-29T23:59:59.999Z").toEpochMilli()));
        assertEquals("1970-01-01T00:00:00.000Z", SampleJson.time(0));
        assertEquals("1969-12-31T23:59:59.999Z", SampleJson.time(-1));
        assertEquals("2000-03-01T00:00:00.007Z", SampleJson.time(Instant.parse("2000-03-01T00:00:00.007Z").toEpochMilli()));
        assertEquals("9999-12-31T23:59:59.999Z", SampleJson.time(Instant.parse("9999-12-31T23:59:59.999Z").toEpochMilli()));
        DateTimeFormatter iso = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'")
                .withZone(ZoneOffset.UTC);
        SplittableRandom random = new SplittableRandom(7);
        for (int i = 0; i < 10_000; i++) {
            long t = random.nextLong(-2_000_000_000_000L, 4_000_000_000_000L);
            assertEquals(iso.format(Instant.ofEpochMilli(t)), SampleJson.time(t), "epoch ms " + t);
        }
    }

    @Test
    void aSampleLineHasEveryDocumentedField() throws Exception {
        Map<String, Double> values = new LinkedHashMap<>();
        values.put("total_bytes", 25_325_268_992.0);
        values.put("used_pct", 1.5);
        long t = 1_795_000_000_123L;
        Measurement m = new Measurement(t, "memory", Status.WARNING, "low", values, Map.of("total_bytes", "B"), Map.of("kind", "ram"));
        Sample s = new SampleStamper("3d1219c7-c4c5-404a-aa1f-6d2a48adfda4", "web1")
                .stamp("default/sampler.groovy", "default/sampler.groovy", List.of(m), 15_870_000, 15_353_000, true).get(0);

        String line = SampleJson.toJson(s);
        assertFalse(line.contains("\n"));
        JsonNode n = JSON.readTree(line);
        assertEquals("2026-11-18T11:06:40.123Z", n.get("time").asText());
        assertEquals("3d1219c7-c4c5-404a-aa1f-6d2a48adfda4", n.get("host_uuid").asText());
        assertEquals("web1", n.get("hostname").asText());
        assertEquals("memory", n.get("metric").asText());
        assertEquals("warning", n.get("status").asText());
        assertEquals("low", n.get("message").asText());
        assertTrue(line.contains("\"total_bytes\":25325268992,"), "whole numbers without exponent: " + line);
        assertEquals(1.5, n.get("values").get("used_pct").asDouble());
        assertEquals("B", n.get("units").get("total_bytes").asText());
        assertEquals("ram", n.get("tags").get("kind").asText());
        assertEquals(15.87, n.get("duration_ms").asDouble());
        assertEquals(15.353, n.get("cpu_ms").asDouble());
        assertTrue(n.get("truncated").asBoolean());
    }

    @Test
    void optionalFieldsAreLeftOutWhenEmpty() throws Exception {
        Measurement m = Measurement.status(1_000L, "x", Status.SKIPPED, null);
        JsonNode n = JSON.readTree(SampleJson.toJson(new SampleStamper("u", "h").stamp("j", "p", List.of(m), 0, -1, false).get(0)));
        assertFalse(n.has("message"));
        assertFalse(n.has("units"));
        assertFalse(n.has("truncated"));
        assertEquals(0, n.get("values").size());
        assertEquals(-1.0, n.get("cpu_ms").asDouble());
        assertEquals("1970-01-01T00:00:01.000Z", n.get("time").asText());
    }

    @Test
    void idsAreUuidV7CarryingTheSampleTimeAndNeverRepeat() {
        long t = 1_795_000_000_123L;
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < 100_000; i++) {
            String id = SampleIds.next(t);
            assertTrue(seen.add(id), "duplicate id " + id);
        }
        UUID u = UUID.fromString(SampleIds.next(t));
        assertEquals(7, u.version());
        assertEquals(2, u.variant());
        assertEquals(t, u.getMostSignificantBits() >>> 16, "the first 48 bits are the time in ms");
    }
}
