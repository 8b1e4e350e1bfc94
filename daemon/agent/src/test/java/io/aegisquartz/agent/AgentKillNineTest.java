package io.aegisquartz.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.aegisquartz.output.kafka.KafkaClientLoader;
import io.aegisquartz.spool.Spool;
import io.aegisquartz.spool.SpoolConfig;
import io.aegisquartz.spool.SpoolInspector;
import io.aegisquartz.testing.AgentHome;
import io.aegisquartz.testing.Opened;
import io.aegisquartz.testing.HoldingProxy;
import io.aegisquartz.testing.StartedProcesses;
import io.aegisquartz.testing.servers.InfluxServer;
import io.aegisquartz.testing.servers.KafkaBroker;
import io.aegisquartz.testing.servers.OtlpReceiver;
import io.aegisquartz.testing.servers.PrometheusServer;
import io.aegisquartz.testing.servers.ServerProcess;
import io.aegisquartz.testing.servers.VictoriaMetricsServer;
import io.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest;
import io.opentelemetry.proto.metrics.v1.Metric;
import io.opentelemetry.proto.metrics.v1.NumberDataPoint;
import io.opentelemetry.proto.metrics.v1.ScopeMetrics;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * kill -9 of a real agent process while it delivers a backlog to every kind of output at once:
 * InfluxDB 1.6, VictoriaMetrics 1.79 (line protocol), Prometheus 2.42 (remote write), an OTLP
 * receiver, a real Kafka broker (KRaft) and the local file. The HTTP backends sit behind proxies that,
 * just before the kill, withhold the answer to a request the backend has already stored, so every one
 * of them has a batch stored but never acknowledged when the agent dies (the at-least-once window,
 * held open rather than hit by luck). After the restart every backend has every sample; a backend
 * that keeps one point per series and timestamp (InfluxDB, VictoriaMetrics, Prometheus) shows none
 * twice, the OTLP receiver has the re-sent batch twice, and Kafka and the file have at most one batch
 * twice (docs/OUTPUTS.md, "Duplicates"). Nothing is dead-lettered: a re-sent batch is not a refused one.
 */
class AgentKillNineTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int BACKLOG = 2000;
    private static final int BATCH = 100;
    private static final int KAFKA_BATCH = 50;
    private static final List<String> HTTP_OUTPUTS = List.of("influx", "vm", "prom", "otel");
    private static final List<String> OUTPUTS = List.of("influx", "vm", "prom", "otel", "kafka", "local");

    @TempDir
    Path dir;

    /** Registered before {@link #started}, so closed after it: the agents are killed before their backends stop. */
    @RegisterExtension
    final Opened open = new Opened();

    @RegisterExtension
    final StartedProcesses started = new StartedProcesses();

    @Test
    void afterAKillNineMidDeliveryEveryBackendHasEverySampleAndOnlyTheOnesThatKeepEveryCopyHaveOneTwice() throws Exception {
        for (String d : List.of("influxd", "vm", "prometheus", "kafka")) {
            Files.createDirectories(dir.resolve(d));
        }
        // The broker is the slow one to start: it starts while the others do.
        CompletableFuture<KafkaBroker> brokerStart = CompletableFuture.supplyAsync(() -> {
            try {
                KafkaBroker b = KafkaBroker.start(dir.resolve("kafka"));
                b.createTopic("samples", 3);
                return b;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        InfluxServer influx = open.add(InfluxServer.start(dir.resolve("influxd")));
        influx.execute("CREATE DATABASE aegis");
        // VictoriaMetrics keeps every copy of a point (the re-sent batch twice, even in PromQL's
        // count_over_time) unless told to keep one per series and interval, as docs/OUTPUTS.md advises.
        VictoriaMetricsServer vm = open.add(VictoriaMetricsServer.start(dir.resolve("vm"), List.of("-dedup.minScrapeInterval=1ms")));
        PrometheusServer prometheus = open.add(PrometheusServer.start(dir.resolve("prometheus")));
        OtlpReceiver otlp = open.add(OtlpReceiver.start());
        KafkaBroker broker = open.add(brokerStart.get(240, TimeUnit.SECONDS));
        Map<String, HoldingProxy> proxies = new TreeMap<>();
        proxies.put("influx", open.add(HoldingProxy.to(influx.url())));
        proxies.put("vm", open.add(HoldingProxy.to(vm.url())));
        proxies.put("prom", open.add(HoldingProxy.to(prometheus.url())));
        proxies.put("otel", open.add(HoldingProxy.to(otlp.url())));

        // A slow enough drain (10 requests of 100 a second) that the kill comes in the middle of it; a
        // request timeout longer than the test, so that a held answer is waited for, not retried.
        String delivery = "batch_samples = " + BATCH + "\nrate = 10\nlinger = 1s\nbackoff_max = 1s\ntimeout = 5m\n";
        // Kafka's client takes a while to start producing: a slower drain, so that it is still at it at the kill.
        String kafkaDelivery = "batch_samples = " + KAFKA_BATCH + "\nrate = 4\nlinger = 1s\nbackoff_max = 1s\ntimeout = 5m\n";
        AgentHome home = new AgentHome(dir.resolve("home"), "[plugins]\nwatch = false\n"
                + "[output.influx]\ntype = influx\nallow_http_loopback = true\nendpoint = " + proxies.get("influx").url(influx.url())
                + "\ndatabase = aegis\n" + delivery
                + "[output.vm]\ntype = influx\nflavour = victoriametrics\nallow_http_loopback = true\nendpoint = "
                + proxies.get("vm").url(vm.url()) + "\n" + delivery
                + "[output.prom]\ntype = prometheus\nallow_http_loopback = true\nendpoint = "
                + proxies.get("prom").url(prometheus.url()) + "/api/v1/write\n" + delivery
                + "[output.otel]\ntype = otlp\nallow_http_loopback = true\nendpoint = " + proxies.get("otel").url(otlp.url()) + "\n" + delivery
                + "[output.kafka]\ntype = kafka\nallow_plaintext_loopback = true\nbootstrap_servers = " + broker.bootstrap()
                + "\ntopic = samples\n" + kafkaDelivery
                + "[output.local]\ntype = file\nfile = log/local.jsonl\n");
        home.userPlugin("tick.sh", "#!/bin/sh\necho '{\"metric\":\"tick\",\"values\":{\"n\":1}}'\n");
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] user/tick.sh\n");

        // The backlog: samples the agent finds in its spool at start, one per millisecond of the last minute.
        long base = System.currentTimeMillis() - 60_000;
        try (Spool spool = Spool.open(home.home().resolve("spool"), SpoolConfig.forLimits(SpoolConfig.DEFAULT_MAX_BYTES, 0), OUTPUTS,
                Delivery.LEGACY_HEIR)) {
            for (int i = 0; i < BACKLOG; i += 100) {
                List<byte[]> run = new ArrayList<>();
                for (int k = i; k < i + 100; k++) {
                    run.add(backlogSample(k, base + k).getBytes(StandardCharsets.UTF_8));
                }
                spool.append(run);
            }
        }
        Path lib = Files.createDirectories(dir.resolve("lib-kafka"));
        Path jar = Path.of(KafkaProducer.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        Files.createSymbolicLink(lib.resolve(jar.getFileName()), jar);

        Path log = home.home().resolve("log/aegis_quartz.log");
        long t0 = System.nanoTime();
        Process first = startAgent(home, lib, dir.resolve("agent-1.out"));
        // Every HTTP backend has answered a request or two: then their answers are held; once each has
        // stored a batch whose answer the agent waits for, the agent dies.
        await().atMost(Duration.ofSeconds(90)).until(() -> proxies.values().stream().allMatch(p -> p.answersPassed() >= 2)
                || !first.isAlive());
        assertTrue(first.isAlive(), () -> "the agent ended: " + AgentHome.text(log));
        proxies.values().forEach(HoldingProxy::hold);
        await().atMost(Duration.ofSeconds(60)).until(() -> proxies.values().stream().allMatch(p -> p.answersHeld() >= 1));
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200)).until(() -> !broker.readAll("samples").isEmpty());
        first.toHandle().destroyForcibly(); // SIGKILL, to its PID
        assertTrue(first.waitFor(30, TimeUnit.SECONDS));
        assertEquals(137, first.exitValue(), "killed by SIGKILL");
        List<String> atKill = AgentHome.wholeLines(home.home().resolve("log/local.jsonl"));
        int kafkaAtKill = broker.readAll("samples").size();
        for (HoldingProxy p : proxies.values()) {
            p.close();
        }
        // Again through proxies of their own, passing everything, on the same ports the config names.
        // (A proxy's port is in the config, so the restarted agent talks to new proxies on new ports.)
        Map<String, String> direct = Map.of("influx", influx.url(), "vm", vm.url(), "prom", prometheus.url(), "otel", otlp.url());
        String ini = Files.readString(home.conf().resolve("aegis_config.ini"));
        for (String name : HTTP_OUTPUTS) {
            ini = ini.replace(proxies.get(name).url(direct.get(name)), direct.get(name));
        }
        AgentHome.write(home.conf().resolve("aegis_config.ini"), ini);

        Process second = startAgent(home, lib, dir.resolve("agent-2.out"));
        // Everything the first life left behind is delivered: each cursor is down to the last tick or two.
        await().atMost(Duration.ofSeconds(120)).until(() -> {
            SpoolInspector.Report r = SpoolInspector.inspect(home.home().resolve("spool"));
            return r.cursors().size() == OUTPUTS.size() && r.cursors().stream().allMatch(c -> c.pendingRecords() <= 3)
                    || !second.isAlive();
        });
        second.destroy(); // SIGTERM: a stop on request
        assertTrue(second.waitFor(60, TimeUnit.SECONDS));
        System.out.printf("AgentKillNineTest: two agent lives, kill -9 and catch-up in %d s%n",
                TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0));

        // The reference: the backlog, and every tick the file got (each once: the file may have one twice).
        List<JsonNode> fileSamples = new ArrayList<>();
        for (String line : AgentHome.wholeLines(home.home().resolve("log/local.jsonl"))) {
            fileSamples.add(JSON.readTree(line));
        }
        List<Long> backlogTimes = new ArrayList<>();
        for (int k = 0; k < BACKLOG; k++) {
            backlogTimes.add(base + k);
        }
        // (Runs without a value, such as the one the kill interrupted, are AgentBackendsTest's matter.)
        List<Long> ticks = distinct(jobTimes(fileSamples, "user/tick.sh"));
        assertTrue(ticks.size() >= 2, "the agent's own runs were delivered too: " + ticks);
        assertTrue(atKill.size() < fileSamples.size(), "the file got more after the restart");
        Map<String, List<Long>> pendingTicks = pendingTicks(home.home().resolve("spool"));
        long end = System.currentTimeMillis();

        Map<String, Fetch> backends = new TreeMap<>();
        backends.put("influx", () -> Map.of("backlog", influx.times("aegis", "SELECT n FROM backlog"),
                "tick", influx.times("aegis", "SELECT n FROM tick WHERE job = 'user/tick.sh'")));
        backends.put("vm", () -> Map.of("backlog", vmTimes(vm, "backlog_n"), "tick", vmTimes(vm, "tick_n{job=\"user/tick.sh\"}")));
        backends.put("prom", () -> Map.of("backlog", prometheus.times("backlog_n", end), "tick", prometheus.times("tick_n", end)));
        backends.put("otel", () -> Map.of("backlog", otlpTimes(otlp, "backlog.n"), "tick", otlpTimes(otlp, "tick.n")));
        backends.put("kafka", () -> {
            List<JsonNode> topic = new ArrayList<>();
            for (ConsumerRecord<byte[], byte[]> r : broker.readAll("samples")) {
                topic.add(JSON.readTree(r.value()));
            }
            return Map.of("backlog", jobTimes(topic, "backlog"), "tick", jobTimes(topic, "user/tick.sh"));
        });
        backends.put("local", () -> Map.of("backlog", jobTimes(fileSamples, "backlog"), "tick", jobTimes(fileSamples, "user/tick.sh")));

        Map<String, Integer> duplicates = new TreeMap<>();
        for (String name : OUTPUTS) {
            List<Long> expectedTicks = new ArrayList<>(ticks);
            expectedTicks.removeAll(pendingTicks.getOrDefault(name, List.of()));
            // What a backend acknowledged may take it a moment to show (VictoriaMetrics' in-memory parts).
            Map<String, List<Long>> g = await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(backends.get(name)::get,
                    m -> distinct(m.get("backlog")).equals(backlogTimes) && m.get("tick").containsAll(expectedTicks));
            duplicates.put(name, g.get("backlog").size() - BACKLOG + g.get("tick").size() - distinct(g.get("tick")).size());
            assertTrue(Files.notExists(home.home().resolve("spool").resolve(SpoolInspector.deadLetterFile(name))),
                    name + ": nothing dead-lettered: " + AgentHome.text(home.home().resolve("spool").resolve(SpoolInspector.deadLetterFile(name))));
        }
        System.out.println("AgentKillNineTest: VictoriaMetrics' PromQL count_over_time of the backlog: "
                + ServerProcess.get(vm.url() + "/api/v1/query?query=" + java.net.URLEncoder.encode("count_over_time(backlog_n[10m])",
                StandardCharsets.UTF_8) + "&time=" + end / 1000.0));
        System.out.println("AgentKillNineTest: at the kill the topic had " + kafkaAtKill + " record(s) and the file "
                + atKill.size() + " of the " + BACKLOG + " backlog samples and the ticks; duplicates per output after one kill -9: "
                + duplicates);
        // One point per series and timestamp: what was stored twice is there once.
        for (String name : List.of("influx", "vm", "prom")) {
            assertEquals(0, duplicates.get(name), name + " keeps one point per series and timestamp");
        }
        // Every copy kept: the batch the receiver had stored when the agent died is there twice, and no more.
        assertTrue(duplicates.get("otel") >= 1 && duplicates.get("otel") <= BATCH, "otlp: the batch in flight, twice: " + duplicates);
        // No proxy held their answers; at most the one batch in flight at the kill.
        assertTrue(kafkaAtKill < BACKLOG, "the kill came while kafka was delivering the backlog: " + kafkaAtKill);
        assertTrue(duplicates.get("kafka") <= KAFKA_BATCH, "kafka: at most the batch in flight: " + duplicates);
        assertTrue(duplicates.get("local") <= 1000, "file: at most the batch in flight: " + duplicates);
    }

    /** What one backend has: the times of the backlog's points and of the ticks', repeats kept. */
    @FunctionalInterface
    private interface Fetch {
        Map<String, List<Long>> get() throws Exception;
    }

    private Process startAgent(AgentHome home, Path kafkaLib, Path out) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-D" + KafkaClientLoader.LIB_PROPERTY + "=" + kafkaLib,
                "-cp", System.getProperty("java.class.path"), "io.aegisquartz.cli.Main", "--home", home.home().toString(), "run")
                .redirectErrorStream(true).redirectOutput(out.toFile()).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .start();
        return started.add(p);
    }

    private static String backlogSample(int k, long time) {
        return "{\"id\":\"backlog-" + k + "\",\"time\":\"" + Instant.ofEpochMilli(time) + "\",\"host_uuid\":\"backlog-host\","
                + "\"hostname\":\"backlog-host\",\"job\":\"backlog\",\"plugin\":\"user/backlog.sh\",\"metric\":\"backlog\",\"status\":\"ok\","
                + "\"values\":{\"n\":" + k + "},\"tags\":{},\"duration_ms\":1.0,\"cpu_ms\":1.0}";
    }

    /** Times of the tick samples each output still had pending when the agent stopped. */
    private static Map<String, List<Long>> pendingTicks(Path spoolDir) throws IOException {
        Map<String, List<Long>> out = new TreeMap<>();
        try (Spool spool = Spool.open(spoolDir, SpoolConfig.forLimits(SpoolConfig.DEFAULT_MAX_BYTES, 0), OUTPUTS, Delivery.LEGACY_HEIR)) {
            for (String name : OUTPUTS) {
                List<JsonNode> p = new ArrayList<>();
                for (var b = spool.cursor(name).read(1000, Long.MAX_VALUE); !b.isEmpty(); b = spool.cursor(name).read(1000, Long.MAX_VALUE)) {
                    for (var r : b.records()) {
                        p.add(JSON.readTree(r.payload()));
                    }
                }
                out.put(name, jobTimes(p, "user/tick.sh"));
            }
        }
        return out;
    }

    private static List<Long> distinct(List<Long> times) {
        return times.stream().distinct().sorted().toList();
    }

    private static List<Long> jobTimes(List<JsonNode> samples, String job) {
        return samples.stream().filter(s -> s.get("job").asText().equals(job) && s.path("values").has("n"))
                .map(s -> Instant.parse(s.get("time").asText()).toEpochMilli()).sorted().toList();
    }

    private static List<Long> vmTimes(VictoriaMetricsServer vm, String match) throws Exception {
        List<Long> out = new ArrayList<>();
        for (JsonNode series : vm.export(match)) {
            series.path("timestamps").forEach(t -> out.add(t.asLong()));
        }
        out.sort(null);
        return out;
    }

    private static List<Long> otlpTimes(OtlpReceiver otlp, String metric) {
        List<Long> out = new ArrayList<>();
        for (ExportMetricsServiceRequest r : otlp.stored()) {
            for (var rm : r.getResourceMetricsList()) {
                for (ScopeMetrics sm : rm.getScopeMetricsList()) {
                    for (Metric m : sm.getMetricsList()) {
                        if (m.getName().equals(metric)) {
                            for (NumberDataPoint p : m.hasGauge() ? m.getGauge().getDataPointsList() : m.getSum().getDataPointsList()) {
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
}
