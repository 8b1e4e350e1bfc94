package io.aegisquartz.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.aegisquartz.output.OutputState;
import io.aegisquartz.spool.SpoolInspector;
import io.aegisquartz.testing.AgentHome;
import io.aegisquartz.testing.Opened;
import io.aegisquartz.testing.StartedAgents;
import io.aegisquartz.testing.servers.InfluxServer;
import io.aegisquartz.testing.servers.PrometheusServer;
import io.aegisquartz.testing.servers.ServerProcess;
import io.aegisquartz.testing.servers.VictoriaMetricsServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Hostile metric, value and tag names (quotes, line breaks, unicode, 1 KB names, {@code =}, {@code ,},
 * spaces, backslashes) from a plugin, through the agent, to a real InfluxDB 1.6, VictoriaMetrics 1.79
 * (line protocol) and Prometheus 2.42 (remote write): each sample is either stored faithfully (queried
 * back by the server's own API and compared, names as docs/OUTPUTS.md says each backend has them) or
 * refused by the agent before sending, dead-lettered and counted, never by the backend; and the healthy
 * sample the plugin prints after them, run after run, arrives everywhere.
 */
class HostileNamesAgentTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> OUTPUTS = List.of("influx", "vm", "prom");

    /** A hostile sample: metric, the name of its one value, its tags (besides "case", which finds it). */
    private record Case(String metric, String value, Map<String, String> tags) {
    }

    private static final Map<String, Case> CASES = new LinkedHashMap<>();

    static {
        // Metric and tag names are checked where a plugin's output is read ([A-Za-z_][A-Za-z0-9_.:-], at most
        // 200); value names and tag values may be any text without control characters (200 and 1024 at most).
        CASES.put("quotes", new Case("quotes", "v\"q'", Map.of("k", "va\"l'ue")));
        CASES.put("unicode", new Case("unicode", "ünï°C", Map.of("city", "Zürich 🌡 ∑ 温度")));
        CASES.put("1kb", new Case("m" + "x".repeat(199), "v" + "y".repeat(199), Map.of("k" + "z".repeat(199), "w".repeat(1024))));
        CASES.put("separators", new Case("separators", "x=y,z w", Map.of("t", "u=1, v 2", "sp", " lead and trail ")));
        CASES.put("backslash-inside", new Case("backslash_inside", "back\\slash", Map.of("dir", "C:\\Program Files\\x")));
        CASES.put("backslash-end", new Case("backslash_end", "v\\", Map.of("b", "ends with \\", "dbl", "\\\\")));
        CASES.put("dots-dashes", new Case("a.b-c:d", "e.f-g", Map.of("h.i-j:k", "v")));
    }

    /** Lines no output ever sees: refused where the plugin's output is read, counted in the run's error sample. */
    private static final List<String> REFUSED_AT_SOURCE = List.of(
            "{\"metric\":\"say \\\"hi\\\"\",\"values\":{\"n\":1}}",
            "{\"metric\":\"nl\",\"values\":{\"n\":1},\"tags\":{\"t\":\"a\\nb\"}}",
            "{\"metric\":\"nl\",\"values\":{\"line\\nbreak\":1}}",
            "{\"metric\":\"sp\",\"values\":{\"n\":1},\"tags\":{\"a b\":\"c\"}}");

    @TempDir
    Path dir;

    @RegisterExtension
    final Opened open = new Opened();

    /** Registered after {@link #open}, so stopped before the servers close. */
    @RegisterExtension
    final StartedAgents agents = new StartedAgents();

    private Agent agent;

    private OutputState state(String name) {
        return StartedAgents.outputState(agent, name);
    }

    @Test
    void hostileNamesAreStoredFaithfullyOrRefusedByUsAndNeverBlockTheHealthySamplesAfterThem() throws Exception {
        for (String d : List.of("influxd", "vm", "prometheus")) {
            Files.createDirectories(dir.resolve(d));
        }
        InfluxServer influx = open.add(InfluxServer.start(dir.resolve("influxd")));
        influx.execute("CREATE DATABASE aegis");
        VictoriaMetricsServer vm = open.add(VictoriaMetricsServer.start(dir.resolve("vm")));
        PrometheusServer prometheus = open.add(PrometheusServer.start(dir.resolve("prometheus")));
        String delivery = "allow_http_loopback = true\nbackoff_max = 1s\nlinger = 1s\n";
        AgentHome home = new AgentHome(dir.resolve("home"), "[plugins]\nwatch = false\n"
                + "[output.influx]\ntype = influx\nendpoint = " + influx.url() + "\ndatabase = aegis\n" + delivery
                + "[output.vm]\ntype = influx\nflavour = victoriametrics\nendpoint = " + vm.url() + "\n" + delivery
                + "[output.prom]\ntype = prometheus\nendpoint = " + prometheus.url() + "/api/v1/write\n" + delivery
                + "[output.local]\ntype = file\nfile = log/local.jsonl\n");
        // One run prints every hostile sample, then a healthy one: JSON lines, as a plugin may print them.
        StringBuilder lines = new StringBuilder();
        for (Map.Entry<String, Case> e : CASES.entrySet()) {
            Map<String, String> tags = new LinkedHashMap<>(e.getValue().tags());
            tags.put("case", e.getKey());
            lines.append(JSON.writeValueAsString(Map.of("metric", e.getValue().metric(), "values", Map.of(e.getValue().value(), 1),
                    "tags", tags))).append('\n');
        }
        REFUSED_AT_SOURCE.forEach(l -> lines.append(l).append('\n'));
        lines.append("{\"metric\":\"healthy\",\"values\":{\"n\":1},\"tags\":{\"case\":\"healthy\"}}\n");
        Path out = Files.writeString(dir.resolve("hostile.jsonl"), lines.toString());
        home.userPlugin("hostile.sh", "#!/bin/sh\ncat '" + out + "'\n");
        home.cron("aegis_quartz.conf.user", "[*/2 * * * * ?] user/hostile.sh\n");
        agent = agents.start(home.settings());

        // Three runs: the healthy samples of the second and third came after hostile ones, and arrived.
        await().atMost(Duration.ofSeconds(90)).until(() -> OUTPUTS.stream().allMatch(o -> state(o).sentSamples() >= 3
                && state(o).pendingSamples() == 0) && healthyEverywhere(influx, vm, prometheus) >= 3);
        int runs = (int) (state("influx").sentSamples() + state("influx").deadLettered()) / (CASES.size() + 1);
        agent.stop();

        // The reference: the samples as the agent stored them, every case in every run, as the plugin printed it.
        Map<String, Integer> asStored = new TreeMap<>();
        for (String line : AgentHome.wholeLines(home.home().resolve("log/local.jsonl"))) {
            JsonNode n = JSON.readTree(line);
            if (n.path("status").asText().equals("error")) {
                assertTrue(n.path("message").asText().startsWith(REFUSED_AT_SOURCE.size() + " invalid sample(s) dropped"), line);
                continue;
            }
            String name = n.path("tags").path("case").asText("(none) " + line);
            asStored.merge(name, 1, Integer::sum);
            Case c = CASES.get(name);
            if (c != null) {
                assertEquals(c.metric(), n.path("metric").asText(), line);
                assertTrue(n.path("values").has(c.value()), line);
                c.tags().forEach((k, v) -> assertEquals(v, n.path("tags").path(k).asText(), line));
            }
        }
        assertEquals(CASES.size() + 1, asStored.size(), "every case is a sample: " + asStored);

        Map<String, Map<String, String>> outcome = new TreeMap<>();
        for (String output : OUTPUTS) {
            Map<String, JsonNode> refused = refused(home.home().resolve("spool").resolve(SpoolInspector.deadLetterFile(output)));
            for (Map.Entry<String, Case> e : CASES.entrySet()) {
                String name = e.getKey();
                Case c = e.getValue();
                boolean stored = switch (output) {
                    case "influx" -> inInflux(influx, name, c);
                    case "vm" -> inVictoriaMetrics(vm, name, c);
                    default -> inPrometheus(prometheus, name, c);
                };
                JsonNode dead = refused.get(name);
                if (!(stored ^ dead != null)) {
                    String has = switch (output) {
                        case "influx" -> influx.query("aegis", "SELECT * FROM /.*/ WHERE \"case\" = '" + name + "' GROUP BY *").toString();
                        case "vm" -> vm.export("{case=\"" + name + "\"}").toString();
                        default -> ServerProcess.get(prometheus.url() + "/api/v1/series?match[]="
                                + URLEncoder.encode("{case=\"" + name + "\"}", StandardCharsets.UTF_8));
                    };
                    throw new AssertionError(output + " " + name + ": stored faithfully or refused by us, one of them; stored " + stored
                            + ", dead letter " + dead + "; the backend has: " + has);
                }
                if (dead != null) {
                    assertEquals(0, dead.path("status").asInt(), output + " " + name + ": refused by the agent, not the backend: " + dead);
                    assertTrue(dead.path("reason").asText().startsWith("refused by the agent"), dead.toString());
                }
                outcome.computeIfAbsent(output, k -> new TreeMap<>()).put(name, stored ? "stored" : dead.path("reason").asText());
            }
            long refusedCases = outcome.get(output).values().stream().filter(v -> !v.equals("stored")).count();
            assertTrue(Files.notExists(home.home().resolve("spool").resolve(SpoolInspector.deadLetterFile(output)))
                    || refusedCases > 0, output);
        }
        System.out.println("HostileNamesAgentTest: " + runs + " runs; per output and case: " + outcome);
        // What docs/OUTPUTS.md promises: these round-trip unchanged everywhere ...
        for (String output : OUTPUTS) {
            for (String name : List.of("unicode", "1kb", "separators", "backslash-inside", "dots-dashes")) {
                assertEquals("stored", outcome.get(output).get(name), output + " " + name + ": " + outcome);
            }
        }
        assertEquals("stored", outcome.get("influx").get("quotes"), outcome.toString());
        // ... Prometheus takes any label value and sanitises names, so it stores all of them ...
        assertTrue(outcome.get("prom").values().stream().allMatch("stored"::equals), outcome.toString());
        // ... InfluxDB cannot store a backslash at the end of a token as written, VictoriaMetrics a double quote in a field key.
        assertTrue(outcome.get("influx").get("backslash-end").contains("backslash"), outcome.toString());
        assertEquals("stored", outcome.get("vm").get("backslash-end"), outcome.toString());
        assertTrue(outcome.get("vm").get("quotes").contains("quote"), outcome.toString());
    }

    /** The dead-lettered samples of one output by their "case" tag (the last of each). */
    private static Map<String, JsonNode> refused(Path file) throws Exception {
        Map<String, JsonNode> out = new TreeMap<>();
        if (Files.exists(file)) {
            for (String line : Files.readAllLines(file)) {
                JsonNode n = JSON.readTree(line);
                out.put(n.path("sample").path("tags").path("case").asText(), n);
            }
        }
        return out;
    }

    /** The fewest healthy points any backend has. */
    private static int healthyEverywhere(InfluxServer influx, VictoriaMetricsServer vm, PrometheusServer prometheus) throws Exception {
        int i = influx.query("aegis", "SELECT n FROM healthy").path(0).path("values").size();
        int v = vm.export("healthy_n").stream().mapToInt(s -> s.path("values").size()).sum();
        int p = prometheus.query("healthy_n[10m]", System.currentTimeMillis()).path(0).path("values").size();
        return Math.min(i, Math.min(v, p));
    }

    /** Every tag as sent, on a series whose measurement is the metric and which has the value as a field. */
    private static boolean inInflux(InfluxServer influx, String name, Case c) throws Exception {
        for (JsonNode series : influx.query("aegis", "SELECT * FROM /.*/ WHERE \"case\" = '" + name + "' GROUP BY *")) {
            if (!series.path("name").asText().equals(c.metric())) {
                continue;
            }
            boolean field = false;
            for (JsonNode col : series.path("columns")) {
                field |= col.asText().equals(c.value());
            }
            if (field && hasTags(series.path("tags"), c.tags(), false)) {
                return true;
            }
        }
        return false;
    }

    private static boolean inVictoriaMetrics(VictoriaMetricsServer vm, String name, Case c) throws Exception {
        for (JsonNode series : vm.export("{case=\"" + name + "\"}")) {
            JsonNode m = series.path("metric");
            if (m.path("__name__").asText().equals(c.metric() + "_" + c.value()) && hasTags(m, c.tags(), false)) {
                return true;
            }
        }
        return false;
    }

    private static boolean inPrometheus(PrometheusServer prometheus, String name, Case c) throws Exception {
        JsonNode r = JSON.readTree(ServerProcess.get(prometheus.url() + "/api/v1/series?match[]="
                + URLEncoder.encode("{case=\"" + name + "\"}", StandardCharsets.UTF_8)));
        for (JsonNode m : r.path("data")) {
            if (m.path("__name__").asText().equals(promName(c.metric() + "_" + c.value(), true)) && hasTags(m, c.tags(), true)) {
                return true;
            }
        }
        return false;
    }

    /** Whether {@code got} has every tag of {@code want}, values unchanged (names sanitised for Prometheus). */
    private static boolean hasTags(JsonNode got, Map<String, String> want, boolean prometheus) {
        Set<String> names = new TreeSet<>();
        for (Iterator<String> it = got.fieldNames(); it.hasNext(); ) {
            names.add(it.next());
        }
        for (Map.Entry<String, String> t : want.entrySet()) {
            String key = prometheus ? promName(t.getKey(), false) : t.getKey();
            if (!names.contains(key) || !got.path(key).asText().equals(t.getValue())) {
                return false;
            }
        }
        return true;
    }

    /** Prometheus' name rule, as docs/OUTPUTS.md states it: any other character becomes {@code _}; a leading digit gets one before it. */
    private static String promName(String s, boolean colon) {
        StringBuilder b = new StringBuilder();
        s.codePoints().forEach(cp -> {
            boolean ok = (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || cp == '_' || (colon && cp == ':')
                    || (b.length() > 0 && cp >= '0' && cp <= '9');
            if (ok) {
                b.append((char) cp);
            } else if (b.length() == 0 && cp >= '0' && cp <= '9') {
                b.append('_').append((char) cp);
            } else {
                b.append('_');
            }
        });
        return b.toString();
    }
}
