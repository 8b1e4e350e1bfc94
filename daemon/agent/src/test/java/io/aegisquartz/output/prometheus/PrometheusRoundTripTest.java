package io.aegisquartz.output.prometheus;

import com.fasterxml.jackson.databind.JsonNode;
import io.aegisquartz.output.TestSamples;
import io.aegisquartz.sample.Status;
import io.aegisquartz.testing.servers.PrometheusServer;
import io.aegisquartz.testing.servers.ServerProcess;
import io.aegisquartz.testing.servers.VictoriaMetricsServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Remote-write requests from the prometheus encoder, sent with a plain HTTP client to a real
 * Prometheus 2.42 (remote-write receiver on) and a real VictoriaMetrics 1.79, read back with PromQL
 * and /api/v1/export: names, labels, values, times and status as the samples said; label values of
 * any text unchanged; and the server's answers to out-of-order and duplicate samples, which the
 * output classifies as not retryable.
 */
class PrometheusRoundTripTest {

    @TempDir
    static Path dir;

    static PrometheusServer prometheus;
    static VictoriaMetricsServer vm;

    @BeforeAll
    static void start() throws Exception {
        Files.createDirectories(dir.resolve("prometheus"));
        Files.createDirectories(dir.resolve("vm"));
        prometheus = PrometheusServer.start(dir.resolve("prometheus"));
        vm = VictoriaMetricsServer.start(dir.resolve("vm"));
    }

    @AfterAll
    static void stop() {
        if (prometheus != null) {
            prometheus.close();
        }
        if (vm != null) {
            vm.close();
        }
    }

    /** Recent enough for Prometheus' head block; each test uses its own series. */
    private static final long T0 = System.currentTimeMillis() - 120_000;

    static HttpResponse<String> write(String url, RemoteWriteBody body) throws Exception {
        return ServerProcess.post(url + "/api/v1/write", body.bytes(), "Content-Encoding", "snappy",
                "Content-Type", "application/x-protobuf", "X-Prometheus-Remote-Write-Version", "0.1.0");
    }

    /** Every raw sample of the series matching {@code selector} in the last 10 minutes before {@code at}: a range query. */
    private static List<JsonNode> raw(String selector, long at) throws Exception {
        List<JsonNode> out = new ArrayList<>();
        prometheus.query(selector + "[10m]", at).forEach(out::add);
        return out;
    }

    private static long millis(JsonNode point) {
        return Math.round(point.get(0).asDouble() * 1000);
    }

    @Test
    void prometheusStoresNamesLabelsValuesTimesAndTheStatusOfEveryRun() throws Exception {
        long t0 = T0;
        RemoteWriteBody body = new RemoteWriteEncoder().encode(List.of(
                TestSamples.of("memory").value("used_bytes", 376_446_976, "B").value("used_pct", 1.4864480851868378, "%").at(t0).json(),
                TestSamples.of("memory").value("used_bytes", 376_446_977, "B").at(t0 + 1000).json(),
                TestSamples.of("filesystem").value("used_pct", 81.25).tag("mount", "/data").status(Status.WARNING, "81%").at(t0 + 1).json(),
                TestSamples.of("check_disk").job("disk_root").status(Status.TIMEOUT, "5 s").at(t0 + 2).json(),
                TestSamples.of("broken").job("user/broken.groovy").status(Status.ERROR, "threw").at(t0 + 3).json(),
                TestSamples.of("slow").job("slow_job").status(Status.SKIPPED, "still going").at(t0 + 4).json()));
        HttpResponse<String> r = write(prometheus.url(), body);
        assertEquals(204, r.statusCode(), r.body());

        List<JsonNode> used = raw("memory_used_bytes", t0 + 5000);
        assertEquals(1, used.size());
        JsonNode labels = used.get(0).path("metric");
        assertEquals("web1", labels.path("host").asText());
        assertEquals(TestSamples.HOST_UUID, labels.path("host_uuid").asText());
        assertEquals("default/sampler.groovy", labels.path("job").asText());
        assertEquals("ok", labels.path("status").asText());
        JsonNode points = used.get(0).path("values");
        assertEquals(t0, millis(points.get(0)));
        assertEquals(376_446_976.0, points.get(0).get(1).asDouble());
        assertEquals(t0 + 1000, millis(points.get(1)));
        assertEquals(1.4864480851868378, raw("memory_used_pct", t0 + 5000).get(0).path("values").get(0).get(1).asDouble(),
                "Prometheus keeps the double exactly");
        assertEquals("warning", raw("filesystem_used_pct", t0 + 5000).get(0).path("metric").path("status").asText());

        Map<String, JsonNode> runs = new HashMap<>();
        for (JsonNode s : raw("aegis_run_status", t0 + 5000)) {
            runs.put(s.path("metric").path("status").asText(), s);
        }
        assertEquals(Set.of("timeout", "error", "skipped"), runs.keySet());
        assertEquals("check_disk", runs.get("timeout").path("metric").path("metric").asText());
        assertEquals("disk_root", runs.get("timeout").path("metric").path("job").asText());
        assertEquals(t0 + 2, millis(runs.get("timeout").path("values").get(0)));
        // "Why is there no check_disk value?" is one query away.
        assertEquals(1, prometheus.query("aegis_run_status{job=\"disk_root\",status!~\"ok|warning|critical\"}", t0 + 5000).size());
    }

    private static final List<String> HOSTILE = List.of("a b", "a\"b", "it's", "C:\\dir\\", "line\nbreak", "ünïcødé ✓ 😀",
            "{\"json\": [1]}", "=,", "x".repeat(1024), "é\"\\\n".repeat(256));

    @Test
    void labelValuesOfAnyTextRoundTripUnchangedAndNamesAreSanitised() throws Exception {
        long t0 = T0 + 10_000;
        List<byte[]> samples = new ArrayList<>();
        for (int i = 0; i < HOSTILE.size(); i++) {
            samples.add(TestSamples.of("hostile.metric-" + i).value("value name " + HOSTILE.get(i).substring(0, 1), i)
                    .tag("case", Integer.toString(i)).tag("tagged", HOSTILE.get(i)).tag("key " + i + " \"q\"", "k").at(t0 + i).json());
        }
        RemoteWriteBody body = new RemoteWriteEncoder().encode(samples);
        assertTrue(body.report().isClean(), body.report().refused().toString());
        assertEquals(204, write(prometheus.url(), body).statusCode());
        assertEquals(204, write(vm.url(), body).statusCode());
        for (int i = 0; i < HOSTILE.size(); i++) {
            List<JsonNode> p = raw("{case=\"" + i + "\"}", t0 + 5000);
            assertEquals(1, p.size(), "case " + i);
            JsonNode labels = p.get(0).path("metric");
            assertEquals(HOSTILE.get(i), labels.path("tagged").asText(), "case " + i);
            assertEquals("k", labels.path("key_" + i + "__q_").asText(), labels.toString());
            assertTrue(labels.path("__name__").asText().startsWith("hostile_metric_" + i + "_value_name_"), labels.toString());
            assertEquals(i, p.get(0).path("values").get(0).get(1).asDouble());

            List<JsonNode> v = vm.export("{case=\"" + i + "\"}");
            assertEquals(1, v.size(), "case " + i);
            assertEquals(HOSTILE.get(i), v.get(0).path("metric").path("tagged").asText(), "case " + i);
            assertEquals(labels.path("__name__").asText(), v.get(0).path("metric").path("__name__").asText());
            assertEquals(t0 + i, v.get(0).path("timestamps").get(0).asLong());
        }
    }

    @Test
    void pointsOfOneSeriesOutOfOrderInABatchAreSortedAndStored() throws Exception {
        long t0 = T0 + 20_000;
        RemoteWriteBody body = new RemoteWriteEncoder().encode(List.of(
                TestSamples.of("order").value("v", 3).at(t0 + 3000).json(),
                TestSamples.of("order").value("v", 1).at(t0 + 1000).json(),
                TestSamples.of("order").value("v", 2).at(t0 + 2000).json()));
        assertEquals(204, write(prometheus.url(), body).statusCode());
        JsonNode points = raw("order_v", t0 + 5000).get(0).path("values");
        assertEquals(3, points.size());
        for (int i = 0; i < 3; i++) {
            assertEquals(t0 + 1000L * (i + 1), millis(points.get(i)));
            assertEquals(i + 1.0, points.get(i).get(1).asDouble());
        }
    }

    @Test
    void prometheusRefusesOutOfOrderAndDuplicateSamplesWith400AndStoresNothingOfThatRequest() throws Exception {
        long t0 = T0 + 30_000;
        assertEquals(204, write(prometheus.url(), new RemoteWriteEncoder().encode(List.of(
                TestSamples.of("ooo").value("v", 1).at(t0 + 5000).json()))).statusCode());

        // Older than what the series has: out of order. A new series in the same request is not stored
        // either (Prometheus rolls the whole request back): so the worker must find the bad sample by
        // halves, sending the good ones again; they are not duplicates since none was stored.
        HttpResponse<String> older = write(prometheus.url(), new RemoteWriteEncoder().encode(List.of(
                TestSamples.of("fresh").value("v", 1).at(t0 + 6000).json(),
                TestSamples.of("ooo").value("v", 2).at(t0 + 1000).json())));
        assertEquals(400, older.statusCode(), older.body());
        assertTrue(older.body().contains("out of order"), older.body());
        assertTrue(raw("fresh_v", t0 + 7000).isEmpty(), "rolled back");

        // The same time with another value: a duplicate.
        HttpResponse<String> dup = write(prometheus.url(), new RemoteWriteEncoder().encode(List.of(
                TestSamples.of("ooo").value("v", 9).at(t0 + 5000).json())));
        assertEquals(400, dup.statusCode(), dup.body());
        assertTrue(dup.body().contains("duplicate sample"), dup.body());

        // The same point again (a batch sent twice after a crash): accepted, stored once.
        HttpResponse<String> again = write(prometheus.url(), new RemoteWriteEncoder().encode(List.of(
                TestSamples.of("ooo").value("v", 1).at(t0 + 5000).json())));
        assertEquals(204, again.statusCode(), again.body());
        assertEquals(1, raw("ooo_v", t0 + 7000).get(0).path("values").size());

        // VictoriaMetrics takes all of it: out-of-order points are stored, a repeat is kept twice
        // unless -dedup.minScrapeInterval is set (docs/OUTPUTS.md).
        RemoteWriteBody late = new RemoteWriteEncoder().encode(List.of(TestSamples.of("vmooo").value("v", 1).at(t0 + 5000).json()));
        assertEquals(204, write(vm.url(), late).statusCode());
        assertEquals(204, write(vm.url(), new RemoteWriteEncoder().encode(List.of(
                TestSamples.of("vmooo").value("v", 2).at(t0 + 1000).json()))).statusCode());
        assertEquals(204, write(vm.url(), late).statusCode());
        assertEquals(List.of(t0 + 1000, t0 + 5000, t0 + 5000), longs(vm.export("vmooo_v").get(0).path("timestamps")));
    }

    private static List<Long> longs(JsonNode array) {
        List<Long> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asLong()));
        return out;
    }
}
