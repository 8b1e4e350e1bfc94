package io.aegisquartz.testing.servers;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * VictoriaMetrics single-node (Debian's {@code victoria-metrics}, 1.79) on a free loopback port, data
 * under the test's directory. Takes InfluxDB line protocol at {@code /write} and Prometheus remote
 * write at {@code /api/v1/write}; {@link #export} reads back raw samples with every label as stored.
 */
public final class VictoriaMetricsServer extends ServerProcess {

    private static final ObjectMapper JSON = new ObjectMapper();

    private int port;

    private VictoriaMetricsServer(Path dir) {
        super("victoria-metrics", dir.resolve("victoria-metrics.log"));
    }

    public static VictoriaMetricsServer start(Path dir) throws IOException {
        return start(dir, List.of());
    }

    /** As {@link #start(Path)}, with more command-line flags (such as {@code -dedup.minScrapeInterval=1ms}). */
    public static VictoriaMetricsServer start(Path dir, List<String> flags) throws IOException {
        String vm = binary("/usr/bin/victoria-metrics", "victoria-metrics");
        VictoriaMetricsServer s = new VictoriaMetricsServer(dir);
        s.startWithRetries(() -> {
            s.port = freePort();
            List<String> command = new java.util.ArrayList<>(List.of(vm, "-httpListenAddr=127.0.0.1:" + s.port,
                    "-storageDataPath=" + dir.resolve("data"), "-loggerLevel=WARN", "-search.latencyOffset=0s", "-memory.allowedBytes=256MiB"));
            command.addAll(flags);
            return s.start(command, dir, () -> answers(s.url() + "/health"), Duration.ofSeconds(60));
        });
        return s;
    }

    /** http://127.0.0.1:PORT */
    public String url() {
        return "http://127.0.0.1:" + port;
    }

    /** Every stored series matching the series selector {@code match}, as /api/v1/export gives them (one JSON object each). */
    public List<JsonNode> export(String match) throws IOException, InterruptedException {
        // Data just written sits in memory for a second or so; make it searchable now.
        get(url() + "/internal/force_flush");
        String body = get(url() + "/api/v1/export?match[]=" + URLEncoder.encode(match, StandardCharsets.UTF_8));
        List<JsonNode> out = new ArrayList<>();
        for (String line : body.split("\n")) {
            if (!line.isBlank()) {
                out.add(JSON.readTree(line));
            }
        }
        return out;
    }
}
