package io.aegisquartz.bench;

import io.aegisquartz.output.DeadLetters;
import io.aegisquartz.output.Output;
import io.aegisquartz.output.OutputWorker;
import io.aegisquartz.output.WorkerConfig;
import io.aegisquartz.output.aegis.AegisOutput;
import io.aegisquartz.output.aegis.Credentials;
import io.aegisquartz.output.http.HttpAuth;
import io.aegisquartz.output.http.HttpTransport;
import io.aegisquartz.output.influx.InfluxFlavour;
import io.aegisquartz.output.influx.InfluxOutput;
import io.aegisquartz.output.influx.InfluxPrecision;
import io.aegisquartz.output.prometheus.PrometheusOutput;
import io.aegisquartz.receive.Receiver;
import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Sample;
import io.aegisquartz.sample.SampleJson;
import io.aegisquartz.sample.SampleStamper;
import io.aegisquartz.sample.Status;
import io.aegisquartz.spool.Spool;
import io.aegisquartz.spool.SpoolConfig;
import io.aegisquartz.util.ExponentialBackoff;

import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Drain of one backlog to each backend on loopback, in one run, beside the native protocol: the
 * aegis output to the reference receiver (in this JVM, over HTTPS) is the baseline, run first and
 * last so that drift falls on both; influx to a real InfluxDB 1.x and to VictoriaMetrics, and
 * prometheus to a real Prometheus (remote-write receiver), each server started here on loopback and
 * stopped after, and otlp (protobuf) to a sink in this JVM that reads each request and answers an
 * OTLP full success (no OTLP backend is packaged for the test machine: the figure is the agent's side). Every output gets the same batch size and rate cap. Printed per output: drain time,
 * samples/s, the sender thread's CPU per sample (the agent's cost) and the server's CPU, and the
 * ratios of time and sender CPU to aegis. Issue 19's target: 1,000,000 samples in at most 60 s, none
 * slower than 1.5 times aegis.
 */
public final class OutputDrainBench {

    private static final String USAGE = """
            usage: bench/output-drain [--samples N] [--outputs LIST] [--batch N] [--rate R] [--timeout S] [--dir DIR]
              --samples  backlog size (default 1000000)
              --outputs  comma-separated, from aegis, influx, vm, prometheus, otlp (default all; aegis runs first and last)
              --batch    samples per request, every output (default 1000)
              --rate     requests per second at most, every output (default 1000, i.e. no cap in reach)
              --timeout  give up one drain after this many seconds (default 600)
              --dir      where spools and server data go (default: bench/target)""";

    private static final String KEY_ID = "bench-key";
    private static final String SECRET = "bench-secret-not-for-production-0123456789";
    /** Ten series per run, each one point per run: a time-ordered backlog, as Prometheus needs. */
    private static final int PER_RUN = 10;

    private OutputDrainBench() {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> o = Bench.options(args, USAGE, "samples", "outputs", "batch", "rate", "timeout", "dir");
        long samples = Long.parseLong(o.getOrDefault("samples", "1000000").replace("_", ""));
        List<String> outputs = new ArrayList<>(List.of(o.getOrDefault("outputs", "aegis,influx,vm,prometheus,otlp").split(",")));
        int batch = Integer.parseInt(o.getOrDefault("batch", "1000"));
        double rate = Double.parseDouble(o.getOrDefault("rate", "1000"));
        double timeout = Double.parseDouble(o.getOrDefault("timeout", "600"));
        Path base = Paths.get(o.getOrDefault("dir", "bench/target")).toAbsolutePath();
        for (String out : outputs) {
            if (!List.of("aegis", "influx", "vm", "prometheus", "otlp").contains(out)) {
                System.err.println("unknown output " + out + "\n" + USAGE);
                System.exit(2);
            }
        }
        if (outputs.contains("aegis") && outputs.size() > 1) {
            outputs.remove("aegis");
            outputs.add(0, "aegis");
            outputs.add("aegis");
        }
        Files.createDirectories(base);
        Bench.printEnvironment(base);
        System.out.printf("backlog %,d samples (%d series, one point each per run, times 1 ms apart), batch %d, rate cap %.0f/s%n",
                samples, PER_RUN, batch, rate);
        Map<String, List<Result>> results = new LinkedHashMap<>();
        boolean ok = true;
        for (String out : outputs) {
            Path dir = Files.createTempDirectory(base, "output-drain-" + out + "-");
            try {
                Result r = run(out, dir, samples, batch, rate, timeout);
                ok &= r.drained;
                results.computeIfAbsent(out, k -> new ArrayList<>()).add(r);
            } finally {
                Bench.deleteTree(dir);
            }
        }
        List<Result> native_ = results.get("aegis");
        if (native_ != null && results.size() > 1) {
            double secs = native_.stream().mapToDouble(r -> r.seconds).average().orElse(0);
            double cpu = native_.stream().mapToDouble(r -> r.senderCpuSeconds).average().orElse(0);
            System.out.printf("%nbeside aegis (mean of its %d runs: %.1f s, sender CPU %.1f s):%n", native_.size(), secs, cpu);
            for (Map.Entry<String, List<Result>> e : results.entrySet()) {
                if (!e.getKey().equals("aegis")) {
                    Result r = e.getValue().get(0);
                    System.out.printf("  %-10s time %.2f x, sender CPU %.2f x (%.1f s, %,.0f samples/s; target <= 60 s and <= 1.5 x)%n",
                            e.getKey(), r.seconds / secs, r.senderCpuSeconds / cpu, r.seconds, samples / r.seconds);
                }
            }
        }
        System.exit(ok ? 0 : 1);
    }

    private record Result(boolean drained, double seconds, double senderCpuSeconds) {
    }

    private static Result run(String out, Path dir, long samples, int batch, double rate, double timeout) throws Exception {
        System.out.printf("%n== %s ==%n", out);
        long maxBytes = Math.max(SpoolConfig.DEFAULT_MAX_BYTES, samples * 1024);
        try (Spool spool = Spool.open(dir.resolve("spool"), SpoolConfig.forLimits(maxBytes, 0), List.of(out), null)) {
            fill(spool, samples);
            List<AutoCloseable> servers = new ArrayList<>();
            try {
                Target t = target(out, dir, servers);
                WorkerConfig c = new WorkerConfig(batch, 4096L * batch, rate, ExponentialBackoff.jittered(Duration.ofSeconds(1),
                        Duration.ofSeconds(5)), Duration.ZERO, false);
                long server0 = t.serverCpuNanos();
                long t0 = System.nanoTime();
                OutputWorker<?> w = worker(t.output, spool, c, dir);
                long deadline = t0 + (long) (timeout * 1e9);
                boolean drained = true;
                while (spool.cursor(out).stats().pendingRecords() > 0) {
                    if (System.nanoTime() > deadline) {
                        drained = false;
                        break;
                    }
                    Thread.sleep(5);
                }
                double secs = (System.nanoTime() - t0) / 1e9;
                double sender = w.cpuNanos() / 1e9;
                double server = (t.serverCpuNanos() - server0) / 1e9;
                var st = w.state();
                w.close();
                System.out.printf("drain: %s in %.1f s = %,.0f samples/s; %,d requests, %,d failed, %,d dead-lettered%n",
                        drained ? "all sent" : "TIMED OUT", secs, samples / secs, st.requests(), st.failedAttempts(), st.deadLettered());
                System.out.printf("  CPU: sender thread %.1f s (%.1f µs/sample), server %.1f s (%s)%n", sender, sender * 1e6 / samples,
                        server, t.serverWhat);
                return new Result(drained && st.deadLettered() == 0, secs, sender);
            } finally {
                for (int i = servers.size() - 1; i >= 0; i--) {
                    servers.get(i).close();
                }
            }
        }
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static OutputWorker<?> worker(Output<?> output, Spool spool, WorkerConfig c, Path dir) {
        return new OutputWorker(output, spool.cursor(output.name()), c, new DeadLetters(dir.resolve("dead-letters.jsonl"), output.name()),
                Bench.stamper()).start();
    }

    /** An output and where its server's CPU time comes from. */
    private record Target(Output<?> output, java.util.function.LongSupplier serverCpu, String serverWhat) {
        long serverCpuNanos() {
            return serverCpu.getAsLong();
        }
    }

    private static Target target(String out, Path dir, List<AutoCloseable> servers) throws Exception {
        Duration timeout = Duration.ofSeconds(60);
        switch (out) {
            case "aegis" -> {
                Receiver r = Receiver.start(new Receiver.Config().listen(new InetSocketAddress("127.0.0.1", 0))
                        .out(dir.resolve("received.jsonl")).stateDir(dir.resolve("receiver"))
                        .credentials(List.of(Credentials.of(KEY_ID, SECRET, null))).maxSamples(100_000).maxBody(64 << 20));
                servers.add(r);
                HttpTransport http = new HttpTransport(r.endpoint(), false, r.certificatePem(), null, null, timeout);
                return new Target(new AegisOutput("aegis", http, Credentials.of(KEY_ID, SECRET, null), Bench.HOST_UUID),
                        Bench::processCpuNanos, "the reference receiver, in this JVM: whole process");
            }
            case "influx" -> {
                int port = freePort();
                Path conf = dir.resolve("influxdb.conf");
                Files.writeString(conf, String.join("\n", "reporting-disabled = true", "bind-address = \"127.0.0.1:" + freePort() + "\"",
                        "[meta]", "  dir = \"" + dir.resolve("meta") + "\"", "[data]", "  dir = \"" + dir.resolve("data") + "\"",
                        "  wal-dir = \"" + dir.resolve("wal") + "\"", "  query-log-enabled = false", "[monitor]", "  store-enabled = false",
                        "[http]", "  bind-address = \"127.0.0.1:" + port + "\"", "  log-enabled = false", "[logging]", "  level = \"warn\"", ""));
                Server s = Server.start(dir, List.of("/usr/bin/influxd", "-config", conf.toString()), "http://127.0.0.1:" + port + "/ping");
                servers.add(s);
                post("http://127.0.0.1:" + port + "/query?q=CREATE%20DATABASE%20bench");
                URI uri = InfluxOutput.writeUri(URI.create("http://127.0.0.1:" + port), InfluxFlavour.INFLUXDB1, InfluxPrecision.MS,
                        "bench", "", "", "");
                return new Target(new InfluxOutput("influx", new HttpTransport(uri, true, null, null, null, timeout), HttpAuth.none(),
                        InfluxFlavour.INFLUXDB1, InfluxPrecision.MS, true), s::cpuNanos, "influxd 1.x");
            }
            case "vm" -> {
                int port = freePort();
                Server s = Server.start(dir, List.of("/usr/bin/victoria-metrics", "-storageDataPath=" + dir.resolve("vm"),
                        "-httpListenAddr=127.0.0.1:" + port, "-loggerLevel=ERROR"), "http://127.0.0.1:" + port + "/health");
                servers.add(s);
                URI uri = InfluxOutput.writeUri(URI.create("http://127.0.0.1:" + port), InfluxFlavour.VICTORIAMETRICS, InfluxPrecision.MS,
                        "", "", "", "");
                return new Target(new InfluxOutput("vm", new HttpTransport(uri, true, null, null, null, timeout), HttpAuth.none(),
                        InfluxFlavour.VICTORIAMETRICS, InfluxPrecision.MS, true), s::cpuNanos, "victoria-metrics");
            }
            case "otlp" -> {
                com.sun.net.httpserver.HttpServer sink = com.sun.net.httpserver.HttpServer.create(
                        new InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0), 64);
                sink.createContext("/v1/metrics", x -> {
                    try (x) {
                        x.getRequestBody().transferTo(java.io.OutputStream.nullOutputStream());
                        x.getResponseHeaders().set("Content-Type", "application/x-protobuf");
                        x.sendResponseHeaders(200, -1); // an empty ExportMetricsServiceResponse: a full success
                    }
                });
                sink.start();
                servers.add(() -> sink.stop(0));
                URI uri = URI.create("http://127.0.0.1:" + sink.getAddress().getPort() + "/v1/metrics");
                return new Target(new io.aegisquartz.output.otlp.OtlpOutput("otlp", new HttpTransport(uri, true, null, null, null, timeout),
                        HttpAuth.none(), io.aegisquartz.output.otlp.OtlpEncoder.Encoding.PROTOBUF), Bench::processCpuNanos,
                        "an OTLP sink that reads and discards, in this JVM: whole process");
            }
            default -> {
                int port = freePort();
                Path conf = dir.resolve("prometheus.yml");
                Files.writeString(conf, "global:\n  scrape_interval: 1h\nscrape_configs: []\n");
                Server s = Server.start(dir, List.of("/usr/bin/prometheus", "--config.file=" + conf, "--storage.tsdb.path=" + dir.resolve("tsdb"),
                        "--web.listen-address=127.0.0.1:" + port, "--web.enable-remote-write-receiver", "--log.level=warn"),
                        "http://127.0.0.1:" + port + "/-/ready");
                servers.add(s);
                URI uri = URI.create("http://127.0.0.1:" + port + "/api/v1/write");
                return new Target(new PrometheusOutput("prometheus", new HttpTransport(uri, true, null, null, null, timeout), HttpAuth.none()),
                        s::cpuNanos, "prometheus");
            }
        }
    }

    /** Appends the backlog: runs of {@value #PER_RUN} samples of distinct series, 1 ms apart, ending now; 100 runs per append. */
    private static void fill(Spool spool, long samples) throws IOException {
        SampleStamper stamper = Bench.stamper();
        long runs = (samples + PER_RUN - 1) / PER_RUN;
        long t0 = System.currentTimeMillis() - runs;
        long start = System.nanoTime();
        List<byte[]> chunk = new ArrayList<>();
        long left = samples;
        for (long k = 0; k < runs; k++) {
            List<Measurement> ms = new ArrayList<>(PER_RUN);
            long t = t0 + k;
            for (int i = 0; i < PER_RUN && i < left; i++) {
                Map<String, Double> values = new LinkedHashMap<>();
                Map<String, String> tags = new LinkedHashMap<>();
                String metric;
                if (i < 4) {
                    metric = "cpu";
                    values.put("busy_pct", (k * 7 + i) % 10_000 / 100.0);
                    tags.put("core", "c" + i);
                } else if (i < 8) {
                    metric = "disk";
                    values.put("used_pct", (k + i) % 1000 / 10.0);
                    tags.put("mount", "/data" + (i - 4));
                } else if (i == 8) {
                    metric = "load";
                    values.put("1m", (k % 800) / 100.0);
                    values.put("5m", (k % 700) / 100.0);
                } else {
                    metric = "memory";
                    values.put("used_bytes", 1e9 + k);
                }
                ms.add(new Measurement(t, metric, Status.OK, null, values, Map.of(), tags));
            }
            left -= ms.size();
            for (Sample s : stamper.stamp("default/host.groovy", "default/host.groovy", ms, 20_000_000, 10_000_000, false)) {
                chunk.add(SampleJson.toJson(s).getBytes(StandardCharsets.UTF_8));
            }
            if (chunk.size() >= 100 * PER_RUN || k == runs - 1) {
                spool.append(chunk);
                chunk = new ArrayList<>();
            }
        }
        System.out.printf("fill: %,d samples in %.1f s%n", spool.cursor(spool.cursorNames().get(0)).stats().pendingRecords(),
                (System.nanoTime() - start) / 1e9);
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static void post(String url) throws IOException {
        HttpURLConnection c = (HttpURLConnection) URI.create(url).toURL().openConnection();
        c.setRequestMethod("POST");
        c.setDoOutput(true);
        c.getOutputStream().close();
        if (c.getResponseCode() / 100 != 2) {
            throw new IOException(url + ": " + c.getResponseCode());
        }
        c.disconnect();
    }

    /** A server process started for one drain; its CPU read from /proc; stopped by PID. */
    private static final class Server implements AutoCloseable {
        private final Process process;

        private Server(Process process) {
            this.process = process;
        }

        static Server start(Path dir, List<String> command, String readyUrl) throws Exception {
            if (!Files.isExecutable(Path.of(command.get(0)))) {
                throw new IllegalStateException(command.get(0) + " is missing (apt-get install influxdb victoria-metrics prometheus)");
            }
            Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                    .redirectOutput(dir.resolve("server.log").toFile()).start();
            Server s = new Server(p);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (System.nanoTime() < deadline && p.isAlive()) {
                try {
                    HttpURLConnection c = (HttpURLConnection) URI.create(readyUrl).toURL().openConnection();
                    c.setConnectTimeout(1000);
                    if (c.getResponseCode() / 100 == 2) {
                        return s;
                    }
                } catch (IOException notYet) {
                    // not listening yet
                }
                p.waitFor(100, TimeUnit.MILLISECONDS);
            }
            s.close();
            throw new IOException(command.get(0) + " did not get ready: " + Files.readString(dir.resolve("server.log")));
        }

        /** utime + stime of the server process (its own threads), from /proc/PID/stat, in nanoseconds. */
        long cpuNanos() {
            try {
                String stat = Files.readString(Path.of("/proc/" + process.pid() + "/stat"));
                String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * 10_000_000L; // clock ticks of 10 ms
            } catch (IOException | RuntimeException e) {
                return 0;
            }
        }

        @Override
        public void close() {
            process.destroy();
            try {
                if (!process.waitFor(15, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                    process.waitFor(15, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
