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
 * InfluxDB 1.x (Debian's {@code influxdb}, 1.6) on two free loopback ports (HTTP and the RPC port it
 * insists on), data under the test's directory, no reporting, no internal monitor database.
 */
public final class InfluxServer extends ServerProcess {

    private static final ObjectMapper JSON = new ObjectMapper();

    private int httpPort;

    private InfluxServer(Path dir) {
        super("influxd", dir.resolve("influxd.log"));
    }

    /** Starts influxd with its files under {@code dir}. */
    public static InfluxServer start(Path dir) throws IOException {
        String influxd = binary("/usr/bin/influxd", "influxdb");
        InfluxServer s = new InfluxServer(dir);
        s.startWithRetries(() -> {
            s.httpPort = freePort();
            int rpc = freePort();
            Path conf = dir.resolve("influxdb.conf");
            Files.writeString(conf, String.join("\n",
                    "reporting-disabled = true",
                    "bind-address = \"127.0.0.1:" + rpc + "\"",
                    "[meta]",
                    "  dir = \"" + dir.resolve("meta") + "\"",
                    "[data]",
                    "  dir = \"" + dir.resolve("data") + "\"",
                    "  wal-dir = \"" + dir.resolve("wal") + "\"",
                    "  query-log-enabled = false",
                    "[monitor]",
                    "  store-enabled = false",
                    "[http]",
                    "  bind-address = \"127.0.0.1:" + s.httpPort + "\"",
                    "  log-enabled = false",
                    "[logging]",
                    "  level = \"warn\"",
                    ""));
            return s.start(List.of(influxd, "-config", conf.toString()), dir, () -> answers(s.url() + "/ping"),
                    Duration.ofSeconds(60));
        });
        return s;
    }

    /** http://127.0.0.1:PORT */
    public String url() {
        return "http://127.0.0.1:" + httpPort;
    }

    /** Runs a statement that changes something (CREATE DATABASE ...); fails on an error. */
    public void execute(String statement) throws IOException, InterruptedException {
        var r = post(url() + "/query?q=" + URLEncoder.encode(statement, StandardCharsets.UTF_8), new byte[0],
                "Content-Type", "application/x-www-form-urlencoded");
        if (r.statusCode() != 200 || r.body().contains("\"error\"")) {
            throw new IOException(statement + ": " + r.statusCode() + " " + r.body());
        }
    }

    /** The series of an InfluxQL query in {@code db}, times as epoch ms: the "series" array of the first result (empty if none). */
    public JsonNode query(String db, String influxql) throws IOException, InterruptedException {
        JsonNode r = JSON.readTree(get(url() + "/query?epoch=ms&db=" + URLEncoder.encode(db, StandardCharsets.UTF_8)
                + "&q=" + URLEncoder.encode(influxql, StandardCharsets.UTF_8)));
        JsonNode result = r.path("results").path(0);
        if (result.has("error")) {
            throw new IOException(influxql + ": " + result.get("error").asText());
        }
        return result.path("series");
    }

    /** The times (epoch ms, sorted, repeats kept) of every point an InfluxQL query in {@code db} returns, over all its series. */
    public List<Long> times(String db, String influxql) throws IOException, InterruptedException {
        List<Long> out = new java.util.ArrayList<>();
        for (JsonNode series : query(db, influxql)) {
            series.path("values").forEach(v -> out.add(v.get(0).asLong()));
        }
        out.sort(null);
        return out;
    }
}
