package io.aegisquartz.testing.servers;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * Prometheus (Debian's {@code prometheus}, 2.42) with the remote-write receiver enabled, no scrape
 * targets, on a free loopback port, its TSDB under the test's directory.
 */
public final class PrometheusServer extends ServerProcess {

    private static final ObjectMapper JSON = new ObjectMapper();

    private int port;

    private PrometheusServer(Path dir) {
        super("prometheus", dir.resolve("prometheus.log"));
    }

    public static PrometheusServer start(Path dir) throws IOException {
        String prometheus = binary("/usr/bin/prometheus", "prometheus");
        PrometheusServer s = new PrometheusServer(dir);
        Path conf = dir.resolve("prometheus.yml");
        Files.writeString(conf, "global:\n  scrape_interval: 1h\nscrape_configs: []\n");
        s.startWithRetries(() -> {
            s.port = freePort();
            return s.start(List.of(prometheus, "--config.file=" + conf, "--storage.tsdb.path=" + dir.resolve("tsdb"),
                            "--web.listen-address=127.0.0.1:" + s.port, "--web.enable-remote-write-receiver",
                            "--log.level=warn"),
                    dir, () -> answers(s.url() + "/-/ready"), Duration.ofSeconds(60));
        });
        return s;
    }

    /** http://127.0.0.1:PORT */
    public String url() {
        return "http://127.0.0.1:" + port;
    }

    /** The "result" of an instant PromQL query at {@code timeMillis}. */
    public JsonNode query(String promql, long timeMillis) throws IOException, InterruptedException {
        JsonNode r = JSON.readTree(get(url() + "/api/v1/query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8)
                + "&time=" + timeMillis / 1000.0));
        if (!"success".equals(r.path("status").asText())) {
            throw new IOException(promql + ": " + r);
        }
        return r.path("data").path("result");
    }

    /** The times (epoch ms, sorted) of every sample of the series {@code selector} in the 10 minutes before {@code atMillis}. */
    public List<Long> times(String selector, long atMillis) throws IOException, InterruptedException {
        List<Long> out = new java.util.ArrayList<>();
        for (JsonNode series : query(selector + "[10m]", atMillis)) {
            series.path("values").forEach(v -> out.add(Math.round(v.get(0).asDouble() * 1000)));
        }
        out.sort(null);
        return out;
    }
}
