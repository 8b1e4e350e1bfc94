package io.aegisquartz.output.influx;

import com.fasterxml.jackson.databind.JsonNode;
import io.aegisquartz.output.EncodeReport;
import io.aegisquartz.output.TestSamples;
import io.aegisquartz.sample.Status;
import io.aegisquartz.testing.servers.InfluxServer;
import io.aegisquartz.testing.servers.ServerProcess;
import io.aegisquartz.testing.servers.VictoriaMetricsServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Line protocol from the influx encoder, sent to a real InfluxDB 1.6 and a real VictoriaMetrics 1.79
 * with a plain HTTP client, read back through each server's own API (InfluxQL, /api/v1/export): names,
 * tags, values, times and status as the samples said, escaping corner cases unchanged, and what cannot
 * be stored as written refused by us with a reason instead of by the server.
 */
class InfluxRoundTripTest {

    @TempDir
    static Path dir;

    static InfluxServer influx;
    static VictoriaMetricsServer vm;

    @BeforeAll
    static void start() throws Exception {
        Files.createDirectories(dir.resolve("influx"));
        Files.createDirectories(dir.resolve("vm"));
        influx = InfluxServer.start(dir.resolve("influx"));
        vm = VictoriaMetricsServer.start(dir.resolve("vm"));
        influx.execute("CREATE DATABASE aegis");
    }

    @AfterAll
    static void stop() {
        if (influx != null) {
            influx.close();
        }
        if (vm != null) {
            vm.close();
        }
    }

    private static final long T0 = System.currentTimeMillis() - 600_000;

    private static HttpResponse<String> writeInflux(InfluxBody body) throws Exception {
        return ServerProcess.post(influx.url() + "/write?db=aegis&precision=" + InfluxPrecision.MS.parameter(InfluxFlavour.INFLUXDB1),
                body.bytes(), body.gzipped() ? new String[] {"Content-Encoding", "gzip"} : new String[0]);
    }

    private static HttpResponse<String> writeVm(InfluxBody body) throws Exception {
        return ServerProcess.post(vm.url() + "/write?precision=" + InfluxPrecision.MS.parameter(InfluxFlavour.VICTORIAMETRICS),
                body.bytes(), body.gzipped() ? new String[] {"Content-Encoding", "gzip"} : new String[0]);
    }

    /** The rows of an InfluxQL result as column → value maps. */
    private static List<Map<String, JsonNode>> rows(JsonNode series) {
        List<Map<String, JsonNode>> out = new ArrayList<>();
        for (JsonNode s : series) {
            for (JsonNode v : s.path("values")) {
                Map<String, JsonNode> row = new LinkedHashMap<>();
                for (int i = 0; i < s.path("columns").size(); i++) {
                    if (!v.get(i).isNull()) {
                        row.put(s.path("columns").get(i).asText(), v.get(i));
                    }
                }
                out.add(row);
            }
        }
        return out;
    }

    private static List<byte[]> statusSamples(long t0) {
        return List.of(
                TestSamples.of("memory").value("used_bytes", 376_446_976, "B").value("used_pct", 1.4864480851868378, "%").at(t0).json(),
                TestSamples.of("filesystem").value("used_pct", 81.25).tag("mount", "/data").tag("device", "/dev/sdb1")
                        .status(Status.WARNING, "81% full").at(t0 + 1).json(),
                TestSamples.of("check_disk").job("disk_root").status(Status.TIMEOUT, "timeout: stopped at the 5s wall-time limit")
                        .at(t0 + 2).json(),
                TestSamples.of("broken").job("user/broken.groovy").status(Status.ERROR, "threw \"boom\"\nat broken.groovy:3")
                        .at(t0 + 3).json(),
                TestSamples.of("spool").job("agent/spool").value("count", 1234).value("total", 5678)
                        .tag("reason", "size_cap").tag("output", "influx").status(Status.DROPPED, "1234 unsent sample(s) dropped")
                        .at(t0 + 4).json(),
                TestSamples.of("slow").job("slow_job").status(Status.SKIPPED, "previous run still going").at(t0 + 5).json());
    }

    @Test
    void influxdbStoresNamesTagsValuesTimesAndTheStatusOfEveryRun() throws Exception {
        long t0 = T0;
        InfluxBody body = new InfluxEncoder(InfluxFlavour.INFLUXDB1, InfluxPrecision.MS, true).encode(statusSamples(t0));
        assertTrue(body.report().isClean(), body.report().refused().toString());
        HttpResponse<String> r = writeInflux(body);
        assertEquals(204, r.statusCode(), r.body());

        Map<String, JsonNode> memory = rows(influx.query("aegis", "SELECT * FROM memory")).get(0);
        assertEquals(t0, memory.get("time").asLong());
        assertEquals(376_446_976.0, memory.get("used_bytes").asDouble());
        assertEquals(1.4864480851868378, memory.get("used_pct").asDouble());
        assertEquals("web1", memory.get("host").asText());
        assertEquals(TestSamples.HOST_UUID, memory.get("host_uuid").asText());
        assertEquals("default/sampler.groovy", memory.get("job").asText());
        assertEquals("ok", memory.get("status").asText());

        Map<String, JsonNode> fs = rows(influx.query("aegis", "SELECT * FROM filesystem")).get(0);
        assertEquals("warning", fs.get("status").asText());
        assertEquals("/data", fs.get("mount").asText());
        assertEquals("/dev/sdb1", fs.get("device").asText());
        assertEquals(81.25, fs.get("used_pct").asDouble());

        // Every run that yielded no value, and the drop, is a point in "aegis" with its status and message.
        Map<String, Map<String, JsonNode>> runs = new HashMap<>();
        for (Map<String, JsonNode> row : rows(influx.query("aegis", "SELECT * FROM aegis"))) {
            runs.put(row.get("status").asText(), row);
        }
        assertEquals(Set.of("timeout", "error", "dropped", "skipped"), runs.keySet());
        assertEquals("check_disk", runs.get("timeout").get("metric").asText());
        assertEquals("disk_root", runs.get("timeout").get("job").asText());
        assertEquals(t0 + 2, runs.get("timeout").get("time").asLong());
        assertEquals(1.0, runs.get("timeout").get("run_status").asDouble());
        assertEquals("threw \"boom\"\nat broken.groovy:3", runs.get("error").get("message").asText());
        assertEquals("size_cap", runs.get("dropped").get("reason").asText());
        // The drop's counts are in its own measurement too.
        Map<String, JsonNode> spool = rows(influx.query("aegis", "SELECT * FROM spool")).get(0);
        assertEquals(1234.0, spool.get("count").asDouble());
        assertEquals("dropped", spool.get("status").asText());
    }

    @Test
    void victoriaMetricsStoresNamesLabelsValuesTimesAndTheStatusOfEveryRun() throws Exception {
        long t0 = T0 + 100_000;
        InfluxBody body = new InfluxEncoder(InfluxFlavour.VICTORIAMETRICS, InfluxPrecision.MS, true).encode(statusSamples(t0));
        assertTrue(body.report().isClean(), body.report().refused().toString());
        assertEquals(204, writeVm(body).statusCode());

        JsonNode memory = vm.export("memory_used_bytes").get(0);
        assertEquals("web1", memory.path("metric").path("host").asText());
        assertEquals(TestSamples.HOST_UUID, memory.path("metric").path("host_uuid").asText());
        assertEquals("ok", memory.path("metric").path("status").asText());
        assertEquals(376_446_976.0, memory.path("values").get(0).asDouble());
        assertEquals(t0, memory.path("timestamps").get(0).asLong());
        // VictoriaMetrics keeps 12 significant digits of a value (docs/OUTPUTS.md).
        assertEquals(1.4864480851868378, vm.export("memory_used_pct").get(0).path("values").get(0).asDouble(), 1e-12);

        Map<String, JsonNode> runs = new HashMap<>();
        for (JsonNode s : vm.export("aegis_run_status")) {
            runs.put(s.path("metric").path("status").asText(), s);
        }
        assertEquals(Set.of("timeout", "error", "dropped", "skipped"), runs.keySet());
        assertEquals("check_disk", runs.get("timeout").path("metric").path("metric").asText());
        assertEquals(t0 + 2, runs.get("timeout").path("timestamps").get(0).asLong());
        // No string field: VictoriaMetrics would store the message as a bogus 0.
        assertTrue(vm.export("{__name__=~\"aegis_message.*\"}").isEmpty());
    }

    /** Names a plugin could send (tags and value names pass the agent's checks: any text but control characters, 1 KiB). */
    private static final List<String> HOSTILE = List.of(
            "a b", "a,b", "a=b", "a\"b", "it's", "=lead", ",lead", " lead", "trail ", "x\\y", "C:\\Program Files\\x",
            "\\\\server\\share", "a\\ b", "a\\,b", "a\\=b", "end\\", "a\\\"b", "ünïcødé ✓", "emoji 😀", "tab\there",
            "time", "#hash", "{\"json\": [1]}", "line\nbreak", "cr\rhere",
            "k" + "é,= \"".repeat(204));

    @Test
    void hostileNamesAndTagsRoundTripThroughInfluxdbUnchangedOrAreRefusedByUs() throws Exception {
        Map<String, String> refused = new LinkedHashMap<>();
        List<byte[]> samples = hostileSamples(T0 + 200_000);
        InfluxBody body = new InfluxEncoder(InfluxFlavour.INFLUXDB1, InfluxPrecision.MS, false).encode(samples);
        for (EncodeReport.Refusal f : body.report().refused()) {
            refused.put(HOSTILE.get(f.index()), f.reason());
        }
        // What InfluxDB 1.x cannot store as written, and only that, is refused, each with its reason.
        assertEquals(new TreeSet<>(List.of("\\\\server\\share", "a\\ b", "a\\,b", "a\\=b", "end\\", "a\\\"b", "line\nbreak", "cr\rhere")),
                new TreeSet<>(refused.keySet()), refused.toString());
        assertTrue(refused.get("end\\").contains("backslash at its end"), refused.get("end\\"));
        assertTrue(refused.get("line\nbreak").contains("line break"), refused.get("line\nbreak"));
        HttpResponse<String> r = writeInflux(body);
        assertEquals(204, r.statusCode(), r.body());

        for (int i = 0; i < HOSTILE.size(); i++) {
            String h = HOSTILE.get(i);
            if (refused.containsKey(h)) {
                continue;
            }
            List<Map<String, JsonNode>> rows = rows(influx.query("aegis", "SELECT * FROM esc WHERE \"case\" = '" + i + "'"));
            assertEquals(1, rows.size(), "case " + i + " " + h);
            Map<String, JsonNode> row = rows.get(0);
            String key = h.equals("time") ? InfluxEncoder.TIME_RENAMED : h;
            assertEquals(h, row.get("tagged").asText(), "tag value " + h);
            assertEquals(h, row.get(h + "_tag") == null ? null : row.get(h + "_tag").asText(), "tag key " + h);
            assertNotNull(row.get(key), "value name " + h + " in " + row.keySet());
            assertEquals(i, row.get(key).asDouble(), "value named " + h);
        }
    }

    @Test
    void hostileNamesAndTagsRoundTripThroughVictoriaMetricsUnchangedOrAreRefusedByUs() throws Exception {
        long t0 = T0 + 300_000;
        InfluxBody body = new InfluxEncoder(InfluxFlavour.VICTORIAMETRICS, InfluxPrecision.MS, true).encode(hostileSamples(t0));
        Set<String> refused = new TreeSet<>();
        for (EncodeReport.Refusal f : body.report().refused()) {
            refused.add(HOSTILE.get(f.index()));
        }
        // VictoriaMetrics reads \\ as one backslash, so only line breaks, and double quotes in a value
        // name (a field key there), cannot be written.
        assertEquals(new TreeSet<>(List.of("line\nbreak", "cr\rhere", "a\"b", "a\\\"b", "{\"json\": [1]}",
                "k" + "é,= \"".repeat(204))), refused);
        assertEquals(204, writeVm(body).statusCode());

        for (int i = 0; i < HOSTILE.size(); i++) {
            String h = HOSTILE.get(i);
            if (refused.contains(h)) {
                continue;
            }
            List<JsonNode> series = vm.export("{case=\"" + i + "\"}");
            assertEquals(1, series.size(), "case " + i + " " + h + ": " + series);
            JsonNode labels = series.get(0).path("metric");
            assertEquals(8, labels.size(), labels.toString()); // __name__, case, tagged, NAME_tag, host, host_uuid, job, status
            assertEquals("esc_" + h, labels.path("__name__").asText(), "value name " + h);
            assertEquals(h, labels.path("tagged").asText(), "tag value " + h);
            assertEquals(h, labels.path(h + "_tag").asText(), "tag key " + h);
            assertEquals(i, series.get(0).path("values").get(0).asDouble());
            assertEquals(t0 + i, series.get(0).path("timestamps").get(0).asLong());
        }
    }

    /** One sample per hostile name: as a tag value, as part of a tag key, as a value name. */
    private static List<byte[]> hostileSamples(long t0) {
        List<byte[]> out = new ArrayList<>();
        for (int i = 0; i < HOSTILE.size(); i++) {
            String h = HOSTILE.get(i);
            out.add(TestSamples.of("esc").value(h, i).tag("case", Integer.toString(i)).tag("tagged", h).tag(h + "_tag", h)
                    .at(t0 + i).json());
        }
        return out;
    }

    @Test
    void valuesInfluxdbCannotStoreAreLeftOutCountedAndTheRestDelivered() throws Exception {
        long t = T0 + 400_000;
        String line = "{\"id\":\"x\",\"time\":\"" + io.aegisquartz.sample.SampleJson.time(t) + "\",\"host_uuid\":\"u\",\"hostname\":\"h\","
                + "\"job\":\"j\",\"plugin\":\"p\",\"metric\":\"nonfinite\",\"status\":\"ok\","
                + "\"values\":{\"big\":1e400,\"fine\":2.5,\"small\":-1e400},\"tags\":{}}";
        InfluxBody body = new InfluxEncoder(InfluxFlavour.INFLUXDB1, InfluxPrecision.MS, false)
                .encode(List.of(line.getBytes(StandardCharsets.UTF_8)));
        assertEquals(2, body.report().skippedTotal());
        assertTrue(body.report().refused().isEmpty());
        assertEquals(204, writeInflux(body).statusCode());
        Map<String, JsonNode> row = rows(influx.query("aegis", "SELECT * FROM nonfinite")).get(0);
        assertEquals(2.5, row.get("fine").asDouble());
        assertFalse(row.containsKey("big"));
        for (Iterator<String> it = row.keySet().iterator(); it.hasNext(); ) {
            assertFalse(it.next().equals("small"));
        }
    }
}
