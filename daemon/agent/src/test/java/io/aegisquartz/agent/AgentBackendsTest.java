package io.aegisquartz.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.aegisquartz.output.OutputState;
import io.aegisquartz.spool.Spool;
import io.aegisquartz.spool.SpoolBatch;
import io.aegisquartz.spool.SpoolConfig;
import io.aegisquartz.spool.SpoolRecord;
import io.aegisquartz.testing.AgentHome;
import io.aegisquartz.testing.Opened;
import io.aegisquartz.testing.StartedAgents;
import io.aegisquartz.testing.servers.InfluxServer;
import io.aegisquartz.testing.servers.OtlpReceiver;
import io.aegisquartz.testing.servers.PrometheusServer;
import io.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest;
import io.opentelemetry.proto.common.v1.KeyValue;
import io.opentelemetry.proto.metrics.v1.Metric;
import io.opentelemetry.proto.metrics.v1.NumberDataPoint;
import io.opentelemetry.proto.metrics.v1.ScopeMetrics;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The agent with outputs to a real InfluxDB 1.6 and a real Prometheus 2.42 (remote-write receiver),
 * an OTLP receiver and the local file, all at once, on loopback: every sample of every run reaches
 * every backend with its status (runs without a value as the run-status series); while Prometheus is
 * stopped and the OTLP server answers 503, InfluxDB and the file keep receiving; once both are back,
 * they catch up with nothing lost and nothing twice. The file output is the reference.
 */
class AgentBackendsTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> NAMES = List.of("influx", "prom", "otel", "local");

    @TempDir
    Path dir;

    @RegisterExtension
    final Opened open = new Opened();
    private Agent agent;

    @AfterEach
    void stop() throws Exception {
        if (agent != null) {
            agent.stop();
        }
    }

    private OutputState state(String name) {
        return StartedAgents.outputState(agent, name);
    }

    /** Sample times by job, of the samples the file got and, for {@code output}, of those still pending in its cursor. */
    private static Map<String, List<Long>> times(List<byte[]> samples) throws IOException {
        Map<String, List<Long>> out = new TreeMap<>();
        for (byte[] s : samples) {
            JsonNode n = JSON.readTree(s);
            out.computeIfAbsent(n.get("job").asText() + " " + n.get("status").asText(), k -> new ArrayList<>())
                    .add(Instant.parse(n.get("time").asText()).toEpochMilli());
        }
        out.values().forEach(l -> l.sort(null));
        return out;
    }

    @Test
    void everyBackendGetsEveryRunWithItsStatusAndTheOnesThatWereDownCatchUpWithoutLossOrDuplicates() throws Exception {
        Files.createDirectories(dir.resolve("influxd"));
        Files.createDirectories(dir.resolve("prometheus"));
        InfluxServer influx = open.add(InfluxServer.start(dir.resolve("influxd")));
        influx.execute("CREATE DATABASE aegis");
        PrometheusServer prometheus = open.add(PrometheusServer.start(dir.resolve("prometheus")));
        OtlpReceiver otlp = open.add(OtlpReceiver.start());
        String delivery = "allow_http_loopback = true\nbackoff_max = 1s\nlinger = 1s\n";
        AgentHome home = new AgentHome(dir.resolve("home"), "[plugins]\nwatch = false\n"
                + "[output.influx]\ntype = influx\nendpoint = " + influx.url() + "\ndatabase = aegis\n" + delivery
                + "[output.prom]\ntype = prometheus\nendpoint = " + prometheus.url() + "/api/v1/write\n" + delivery
                + "[output.otel]\ntype = otlp\nprotocol = http/json\nendpoint = " + otlp.url() + "\n" + delivery
                + "[output.local]\ntype = file\nfile = log/local.jsonl\n");
        home.userPlugin("tick.sh", "#!/bin/sh\necho '{\"metric\":\"tick\",\"values\":{\"n\":1}}'\n");
        home.userPlugin("broken.sh", "#!/bin/sh\necho 'disk gone' >&2\nexit 5\n");
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] user/tick.sh\n[* * * * * ?] user/broken.sh\n");
        agent = new Agent(home.settings());
        agent.start();
        Path local = home.home().resolve("log/local.jsonl");
        await().atMost(Duration.ofSeconds(60)).until(() -> AgentHome.wholeLines(local).size() >= 6
                && state("influx").sentSamples() >= 4 && state("prom").sentSamples() >= 4 && state("otel").sentSamples() >= 4);

        // Prometheus stops; the OTLP server says it is overloaded. The others go on.
        prometheus.close();
        otlp.answer(503, "1");
        await().atMost(Duration.ofSeconds(60)).until(() -> state("prom").failing() && state("otel").failing());
        long influxThen = state("influx").sentSamples();
        await().atMost(Duration.ofSeconds(60)).until(() -> state("influx").sentSamples() >= influxThen + 6
                && state("prom").pendingSamples() >= 4 && state("otel").pendingSamples() >= 4);
        assertFalse(state("influx").failing());
        assertTrue(state("prom").lastError() != null && state("otel").lastError().contains("503"), state("otel").toString());

        prometheus.restart();
        otlp.answer(200, null);
        await().atMost(Duration.ofSeconds(90)).until(() -> !state("prom").failing() && !state("otel").failing()
                && state("prom").pendingSamples() < 4 && state("otel").pendingSamples() < 4
                && times(AgentHome.wholeLines(local).stream().map(String::getBytes).toList())
                        .getOrDefault("user/tick.sh ok", List.of()).size() >= 8); // enough runs to check, however fast the catch-up
        agent.stop();
        agent = null;

        // The reference: every sample the file got. Each backend has each of them, or still has it pending.
        List<byte[]> all = new ArrayList<>();
        for (String line : AgentHome.wholeLines(local)) {
            all.add(line.getBytes());
        }
        Map<String, Map<String, List<Long>>> pending = new TreeMap<>();
        try (Spool spool = Spool.open(home.home().resolve("spool"), SpoolConfig.defaults(), NAMES, null)) {
            for (String name : NAMES) {
                List<byte[]> p = new ArrayList<>();
                for (SpoolBatch b; !(b = spool.cursor(name).read(1000, Long.MAX_VALUE)).isEmpty(); ) {
                    for (SpoolRecord r : b.records()) {
                        p.add(r.payload());
                    }
                }
                pending.put(name, times(p));
            }
        }
        assertTrue(pending.get("local").isEmpty(), "the file got everything before the stop");
        Map<String, List<Long>> expected = times(all);
        assertTrue(expected.get("user/tick.sh ok").size() >= 8 && expected.get("user/broken.sh error").size() >= 2, expected.toString());
        long end = System.currentTimeMillis();
        for (Map.Entry<String, List<Long>> e : expected.entrySet()) {
            String job = e.getKey().split(" ")[0];
            String status = e.getKey().split(" ")[1];
            boolean value = e.getKey().equals("user/tick.sh ok");
            // InfluxDB: a point per tick with its tags; a run-status point per run without a value (failed, backed off).
            assertEquals(minus(e.getValue(), pending.get("influx").get(e.getKey())), influx.times("aegis", value
                    ? "SELECT n FROM tick WHERE job = 'user/tick.sh' AND status = 'ok' AND host_uuid =~ /./"
                    : "SELECT run_status FROM aegis WHERE job = '" + job + "' AND status = '" + status + "'"), "influx " + e.getKey());
            // Prometheus: every point in one range query, each once, after an outage of several seconds.
            assertEquals(minus(e.getValue(), pending.get("prom").get(e.getKey())), prometheus.times((value ? "tick_n" : "aegis_run_status")
                    + "{job=\"" + job + "\",status=\"" + status + "\"}", end), "prometheus " + e.getKey());
            // OTLP: the data points of every stored request, none twice (a 503 stores nothing).
            assertEquals(minus(e.getValue(), pending.get("otel").get(e.getKey())), otlpTimes(otlp, value ? "tick.n" : "aegis_run_status",
                    job, status), "otlp " + e.getKey());
        }
        JsonNode message = influx.query("aegis", "SELECT message FROM aegis WHERE job = 'user/broken.sh' AND status = 'error' LIMIT 1");
        assertTrue(message.path(0).path("values").path(0).path(1).asText().contains("disk gone"), message.toString());
    }

    private static List<Long> minus(List<Long> all, List<Long> pending) {
        List<Long> out = new ArrayList<>(all);
        if (pending != null) {
            pending.forEach(out::remove);
        }
        return out;
    }

    private static List<Long> otlpTimes(OtlpReceiver otlp, String metric, String job, String status) {
        List<Long> out = new ArrayList<>();
        for (ExportMetricsServiceRequest r : otlp.stored()) {
            for (var rm : r.getResourceMetricsList()) {
                for (ScopeMetrics sm : rm.getScopeMetricsList()) {
                    for (Metric m : sm.getMetricsList()) {
                        if (!m.getName().equals(metric)) {
                            continue;
                        }
                        for (NumberDataPoint p : m.hasGauge() ? m.getGauge().getDataPointsList() : m.getSum().getDataPointsList()) {
                            if (attribute(p.getAttributesList(), "job").equals(job) && attribute(p.getAttributesList(), "status").equals(status)) {
                                out.add(p.getTimeUnixNano() / 1_000_000);
                            }
                        }
                    }
                }
            }
        }
        out.sort(null);
        return out;
    }

    private static String attribute(List<KeyValue> kv, String key) {
        return kv.stream().filter(a -> a.getKey().equals(key)).map(a -> a.getValue().getStringValue()).findFirst().orElse("");
    }
}
