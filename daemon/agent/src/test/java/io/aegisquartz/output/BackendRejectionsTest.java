package io.aegisquartz.output;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.aegisquartz.output.http.HttpAuth;
import io.aegisquartz.output.http.HttpTransport;
import io.aegisquartz.output.influx.InfluxFlavour;
import io.aegisquartz.output.influx.InfluxOutput;
import io.aegisquartz.output.influx.InfluxPrecision;
import io.aegisquartz.output.prometheus.PrometheusOutput;
import io.aegisquartz.sample.SampleStamper;
import io.aegisquartz.sample.Status;
import io.aegisquartz.spool.Spool;
import io.aegisquartz.spool.SpoolConfig;
import io.aegisquartz.testing.servers.InfluxServer;
import io.aegisquartz.testing.servers.PrometheusServer;
import io.aegisquartz.util.ExponentialBackoff;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a real InfluxDB 1.6 and a real Prometheus 2.42 refuse reaches the worker as a rejection: the
 * one sample they will never take is found, dead-lettered with the server's reason, and every other
 * sample of its batch is stored; the output is not stuck retrying it.
 */
class BackendRejectionsTest {

    @TempDir
    static Path servers;
    @TempDir
    Path dir;

    private static InfluxServer influx;
    private static PrometheusServer prometheus;
    private final List<AutoCloseable> open = new ArrayList<>();
    private Spool spool;

    @BeforeAll
    static void startServers() throws Exception {
        Files.createDirectories(servers.resolve("influx"));
        Files.createDirectories(servers.resolve("prometheus"));
        influx = InfluxServer.start(servers.resolve("influx"));
        prometheus = PrometheusServer.start(servers.resolve("prometheus"));
        influx.execute("CREATE DATABASE rej");
    }

    @AfterAll
    static void stopServers() {
        if (influx != null) {
            influx.close();
        }
        if (prometheus != null) {
            prometheus.close();
        }
    }

    @AfterEach
    void close() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
    }

    private OutputWorker<?> worker(Output<?> output) throws IOException {
        spool = Spool.open(dir.resolve("spool"), SpoolConfig.defaults(), List.of(output.name()), null);
        open.add(spool);
        WorkerConfig c = new WorkerConfig(100, 500_000, 50, ExponentialBackoff.jittered(Duration.ofMillis(50), Duration.ofMillis(400)),
                Duration.ZERO, false);
        @SuppressWarnings({"unchecked", "rawtypes"})
        OutputWorker<?> w = new OutputWorker(output, spool.cursor(output.name()), c, new DeadLetters(dir.resolve("dead.jsonl"),
                output.name()), new SampleStamper(TestSamples.HOST_UUID, TestSamples.HOSTNAME));
        open.add(w);
        return w.start();
    }

    private static HttpTransport http(URI uri) throws IOException {
        return new HttpTransport(uri, true, null, null, null, Duration.ofSeconds(30));
    }

    private List<JsonNode> deadLetters() throws IOException {
        List<JsonNode> out = new ArrayList<>();
        Path f = dir.resolve("dead.jsonl");
        if (Files.exists(f)) {
            for (String line : Files.readAllLines(f)) {
                out.add(new ObjectMapper().readTree(line));
            }
        }
        return out;
    }

    private static String id(byte[] json) throws IOException {
        return new ObjectMapper().readTree(json).get("id").asText();
    }

    @Test
    void influxFieldTypeConflictIsDeadLetteredAndTheRestOfTheBatchIsWritten() throws Exception {
        long t = System.currentTimeMillis() - 60_000;
        URI uri = InfluxOutput.writeUri(URI.create(influx.url()), InfluxFlavour.INFLUXDB1, InfluxPrecision.MS, "rej", "", "", "");
        OutputWorker<?> w = worker(new InfluxOutput("influx", http(uri), HttpAuth.none(), InfluxFlavour.INFLUXDB1, InfluxPrecision.MS,
                true));
        List<byte[]> batch = new ArrayList<>();
        // The run-status point of a failed run writes the string field "message" into measurement "aegis"...
        batch.add(TestSamples.of("check").job("failing").status(Status.ERROR, "exit 5").at(t).json());
        // ... so a plugin's metric "aegis" with a number named "message" conflicts: InfluxDB answers 400 partial write.
        byte[] conflicting = TestSamples.of("aegis").value("message", 1).at(t + 1).json();
        batch.add(conflicting);
        for (int i = 0; i < 20; i++) {
            batch.add(TestSamples.of("cpu").value("used_pct", i).tag("core", "c" + i).at(t + 2 + i).json());
        }
        spool.append(batch);

        await().atMost(Duration.ofSeconds(60)).until(() -> spool.cursor("influx").stats().pendingRecords() == 0);
        List<JsonNode> dead = deadLetters();
        assertEquals(1, dead.size(), dead.toString());
        assertEquals(id(conflicting), dead.get(0).path("sample").path("id").asText());
        assertEquals(400, dead.get(0).path("status").asInt());
        assertTrue(dead.get(0).path("reason").asText().contains("field type conflict"), dead.get(0).toString());
        assertEquals(1, w.state().deadLettered());
        JsonNode cpu = influx.query("rej", "SELECT count(used_pct) FROM cpu");
        assertEquals(20, cpu.path(0).path("values").path(0).path(1).asInt(), cpu.toString());
        JsonNode runs = influx.query("rej", "SELECT run_status, message FROM aegis WHERE job = 'failing'");
        assertEquals("exit 5", runs.path(0).path("values").path(0).path(2).asText(), runs.toString());
        assertTrue(!w.state().failing(), "a refused sample is not an outage");
    }

    @Test
    void prometheusOutOfOrderSampleIsDeadLetteredNotRetriedForeverAndTheRestIsStored() throws Exception {
        long t = System.currentTimeMillis() - 60_000;
        OutputWorker<?> w = worker(new PrometheusOutput("prom", http(URI.create(prometheus.url() + "/api/v1/write")), HttpAuth.none()));
        spool.append(List.of(TestSamples.of("ooo").value("v", 2).at(t).json()));
        await().atMost(Duration.ofSeconds(60)).until(() -> spool.cursor("prom").stats().pendingRecords() == 0);

        // The same series a minute earlier: Prometheus refuses it (out of order) and, with it, the whole request.
        byte[] older = TestSamples.of("ooo").value("v", 1).at(t - 60_000).json();
        List<byte[]> batch = new ArrayList<>();
        Set<String> others = new HashSet<>();
        for (int i = 0; i < 9; i++) {
            byte[] s = TestSamples.of("fresh").value("v", i).tag("n", "n" + i).at(t + i).json();
            others.add(id(s));
            batch.add(s);
            if (i == 4) {
                batch.add(older);
            }
        }
        spool.append(batch);

        await().atMost(Duration.ofSeconds(60)).until(() -> spool.cursor("prom").stats().pendingRecords() == 0);
        List<JsonNode> dead = deadLetters();
        assertEquals(1, dead.size(), dead.toString());
        assertEquals(id(older), dead.get(0).path("sample").path("id").asText());
        assertEquals(400, dead.get(0).path("status").asInt());
        assertTrue(dead.get(0).path("reason").asText().contains("out of order") || dead.get(0).path("reason").asText().contains("out of bounds"),
                dead.get(0).toString());
        assertEquals(9, prometheus.query("fresh_v", t + 10).size(), "every other sample of the batch is stored");
        assertTrue(!w.state().failing(), "a refused sample is not an outage");
    }

    /**
     * The batch Prometheus had stored when the agent died, sent again at the next start: Prometheus
     * refuses it as out of order (it has those samples, and newer), and the worker, knowing from the
     * spool's in-flight mark that the previous agent had sent exactly those, counts them as duplicates
     * instead of dead-lettering them. A sample out of order that was never sent is still dead-lettered.
     */
    @Test
    void aBatchPrometheusStoredBeforeTheAgentDiedIsADuplicateWhenSentAgainNotADeadLetter() throws Exception {
        long t = System.currentTimeMillis() - 60_000;
        PrometheusOutput previous = new PrometheusOutput("prom", http(URI.create(prometheus.url() + "/api/v1/write")), HttpAuth.none());
        try (Spool before = Spool.open(dir.resolve("spool"), SpoolConfig.defaults(), List.of("prom"), null)) {
            List<byte[]> run = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                run.add(TestSamples.of("again").value("v", i).at(t + i).json());
            }
            before.append(run);
            // Never sent: a sample of the same series older than all of them.
            before.append(List.of(TestSamples.of("again").value("v", 99).at(t - 30_000).json()));
            // The previous agent's last act: the first ten noted as in flight, sent, stored; then it died before the ack.
            var batch = before.cursor("prom").read(10, Long.MAX_VALUE);
            before.cursor("prom").markInFlight(batch.end());
            List<Item> items = new ArrayList<>();
            for (var r : batch.records()) {
                items.add(new Item(r.payload(), r.timeMillis(), null));
            }
            assertTrue(previous.send(previous.encode(items)) instanceof SendResult.Accepted);
        } finally {
            previous.close();
        }

        OutputWorker<?> w = worker(new PrometheusOutput("prom", http(URI.create(prometheus.url() + "/api/v1/write")), HttpAuth.none()));
        await().atMost(Duration.ofSeconds(60)).until(() -> spool.cursor("prom").stats().pendingRecords() == 0);
        List<JsonNode> dead = deadLetters();
        assertEquals(1, dead.size(), "only the sample never sent: " + dead);
        assertEquals(99, dead.get(0).path("sample").path("values").path("v").asInt(), dead.toString());
        // Nine refused as out of order; the tenth, the series' newest, Prometheus takes as the same point again.
        assertEquals(9, w.state().duplicates(), w.state().toString());
        JsonNode stored = prometheus.query("again_v[5m]", t + 100);
        assertEquals(10, stored.path(0).path("values").size(), stored.toString());
    }
}
