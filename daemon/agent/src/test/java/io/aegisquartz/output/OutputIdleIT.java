package io.aegisquartz.output;

import io.aegisquartz.output.aegis.Credentials;
import io.aegisquartz.receive.Receiver;
import io.aegisquartz.testing.AgentHome;
import io.aegisquartz.testing.AgentProcesses;
import io.aegisquartz.testing.ProcReadings;
import io.aegisquartz.testing.StartedProcesses;
import io.aegisquartz.testing.servers.InfluxServer;
import io.aegisquartz.testing.servers.KafkaBroker;
import io.aegisquartz.testing.servers.OtlpReceiver;
import io.aegisquartz.testing.servers.PrometheusServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What each output costs an idle agent, beside collectd, in one run (bench/output-idle): seven packaged
 * agents at once (daemon/bin/aegis-quartz run, no class-data archive), each with one job every 30 s
 * and the agent's own health samples, all with the file output; one with nothing else (the baseline),
 * five with one output each (aegis to the reference receiver, influx to InfluxDB 1.6, prometheus to
 * Prometheus 2.42, otlp to an OTLP receiver, kafka to a real broker), one with all five; and collectd
 * (cpu, load, memory, swap, df, disk, interface, processes every 10 s, to CSV) as the peer. After
 * every agent has delivered and a warm-up (aegis.bench.warmup, default 60 s), it measures over a
 * window (aegis.bench.seconds, default 120): CPU time of
 * each JVM and its children (/proc/PID/stat) and PSS (/proc/PID/smaps_rollup, the median of readings
 * every 5 s), and prints each output's added CPU as a ratio of collectd's and its added PSS (issue 19:
 * at most 0.1x collectd's CPU each; kafka at most 16 MB). With {@code aegis.bench.settled} (seconds, default 0:
 * not measured) it measures the same agents again that long after the first window, when the send path
 * has run often enough to be compiled. Checks only that every output delivered and
 * none failed: the figures are for docs/BENCHMARKS.md, not asserted (a shared machine's noise). Runs
 * only when asked ({@code -Daegis.bench=output-idle}), not in {@code mvn verify}.
 */
@EnabledIfSystemProperty(named = "aegis.bench", matches = "output-idle",
        disabledReason = "a benchmark of several minutes: bench/output-idle runs it")
class OutputIdleIT {

    private static final long HZ = 100;

    @TempDir
    Path dir;

    @RegisterExtension
    final StartedProcesses started = new StartedProcesses();

    private Process launch(AgentHome home) throws IOException {
        return AgentProcesses.launchPackaged(started, home, dir.resolve(home.home().getFileName() + ".out"), null);
    }





    @Test
    void eachOutputsIdleCostBesideCollectd() throws Exception {
        assertTrue(Files.isExecutable(Path.of("/usr/sbin/collectd")), "apt-get install collectd-core");
        for (String d : List.of("influxd", "prometheus", "broker", "receiver", "collectd/csv")) {
            Files.createDirectories(dir.resolve(d));
        }
        long seconds = Long.getLong("aegis.bench.seconds", 120);
        long warmup = Long.getLong("aegis.bench.warmup", 60);
        long settled = Long.getLong("aegis.bench.settled", 0);
        String secret = "idle-" + Long.toHexString(System.nanoTime());
        Path creds = dir.resolve("aegis.credentials");
        Files.writeString(creds, "[credentials]\naccess_key_id = AKID-idle\naccess_key_secret = " + secret + "\n");
        Files.setPosixFilePermissions(creds, PosixFilePermissions.fromString("rw-------"));
        try (Receiver receiver = Receiver.start(new Receiver.Config().listen(new InetSocketAddress("127.0.0.1", 0))
                .out(dir.resolve("receiver/samples.jsonl")).stateDir(dir.resolve("receiver"))
                .credentials(List.of(Credentials.of("AKID-idle", secret, null))));
             InfluxServer influx = InfluxServer.start(dir.resolve("influxd"));
             PrometheusServer prometheus = PrometheusServer.start(dir.resolve("prometheus"));
             OtlpReceiver otlp = OtlpReceiver.start();
             KafkaBroker broker = KafkaBroker.start(dir.resolve("broker"))) {
            influx.execute("CREATE DATABASE aegis");
            broker.createTopic("samples", 1);
            String often = "linger = 1s\n";
            Map<String, String> outputs = new LinkedHashMap<>();
            outputs.put("aegis", "[output.aegis]\ntype = aegis\nendpoint = https://127.0.0.1:" + receiver.address().getPort()
                    + Receiver.PATH + "\ncredentials_file = " + creds + "\nca_file = " + receiver.certificatePem() + "\n" + often);
            outputs.put("influx", "[output.influx]\ntype = influx\nendpoint = " + influx.url() + "\ndatabase = aegis\nallow_http_loopback = true\n"
                    + often);
            outputs.put("prometheus", "[output.prometheus]\ntype = prometheus\nendpoint = " + prometheus.url()
                    + "/api/v1/write\nallow_http_loopback = true\n" + often);
            outputs.put("otlp", "[output.otlp]\ntype = otlp\nendpoint = " + otlp.url() + "\nallow_http_loopback = true\n" + often);
            outputs.put("kafka", "[output.kafka]\ntype = kafka\nbootstrap_servers = " + broker.bootstrap()
                    + "\ntopic = samples\nallow_plaintext_loopback = true\n" + often);
            Map<String, String> agents = new LinkedHashMap<>();
            agents.put("file only", "");
            outputs.forEach((k, v) -> agents.put("+" + k, v));
            agents.put("+all five", String.join("", outputs.values()));

            Path collectdConf = dir.resolve("collectd/collectd.conf");
            Files.writeString(collectdConf, String.join("\n", "Hostname \"idle\"", "FQDNLookup false", "BaseDir \"" + dir.resolve("collectd") + "\"",
                    "PIDFile \"" + dir.resolve("collectd/collectd.pid") + "\"", "Interval 10", "LoadPlugin cpu", "LoadPlugin load",
                    "LoadPlugin memory", "LoadPlugin swap", "LoadPlugin df", "LoadPlugin disk", "LoadPlugin interface", "LoadPlugin processes",
                    "LoadPlugin csv", "<Plugin csv>", "  DataDir \"" + dir.resolve("collectd/csv") + "\"", "</Plugin>", ""));
            Process collectd = started.add(new ProcessBuilder("/usr/sbin/collectd", "-f", "-C", collectdConf.toString()).redirectErrorStream(true)
                    .redirectOutput(dir.resolve("collectd.out").toFile()).start());

            Map<String, Process> launched = new LinkedHashMap<>();
            Map<String, AgentHome> homes = new LinkedHashMap<>();
            int n = 0;
            for (Map.Entry<String, String> a : agents.entrySet()) {
                AgentHome home = new AgentHome(dir.resolve("agent" + n++), "[plugins]\nwatch = false\n"
                        + "[output.local]\ntype = file\nfile = log/local.jsonl\n" + a.getValue());
                home.userPlugin("tick.sh", "#!/bin/sh\necho 'TICK OK | n=1'\n");
                home.cron("aegis_quartz.conf.user", "[0/30 * * * * ?] name=tick user/tick.sh\n");
                homes.put(a.getKey(), home);
                launched.put(a.getKey(), launch(home));
            }
            // Warm: every agent has run its job and sent its first samples everywhere.
            await().atMost(Duration.ofSeconds(240)).until(() -> homes.values().stream()
                    .allMatch(h -> AgentHome.text(h.home().resolve("log/local.jsonl")).contains("\"job\":\"tick\"")));
            await().atMost(Duration.ofSeconds(120)).until(() -> receiver.stats().acceptedSamples() >= 2
                    && influx.query("aegis", "SHOW MEASUREMENTS").size() > 0
                    && otlp.stored().size() >= 2 && broker.readAll("samples").size() >= 2);

            // Then a warm-up as bench/footprint's: the first health samples sent (the send path is compiled much later: --settled).
            collectd.waitFor(warmup, TimeUnit.SECONDS);
            Map<String, Long> pids = new LinkedHashMap<>();
            launched.forEach((k, p) -> pids.put(k, AgentProcesses.jvmOf(p).pid()));
            pids.put("collectd", collectd.pid());
            measure("early", pids, seconds, collectd);
            if (settled > 0) {
                // The same agents again once the send path has been sent through often enough to be compiled
                // (C1 compiles a method after about 200 calls; once-per-send code needs that many sends).
                collectd.waitFor(settled, TimeUnit.SECONDS);
                measure("settled", pids, seconds, collectd);
            }

            for (Map.Entry<String, AgentHome> h : homes.entrySet()) {
                String log = AgentHome.text(h.getValue().home().resolve("log/aegis_quartz.log"));
                assertTrue(!log.contains(" failing since "), h.getKey() + ": an output failed:\n" + log);
            }
            for (Process p : launched.values()) {
                p.destroy();
                assertTrue(p.waitFor(30, TimeUnit.SECONDS));
            }
            assertEquals(true, collectd.isAlive(), "collectd ran throughout");
        }
    }

    /** Measures CPU and PSS of every process over {@code seconds} and prints the table, each row named {@code window}. */
    private static void measure(String window, Map<String, Long> pids, long seconds, Process collectd) throws Exception {
        Map<String, Long> before = new LinkedHashMap<>();
        for (Map.Entry<String, Long> e : pids.entrySet()) {
            before.put(e.getKey(), ProcReadings.cpuTicks(e.getValue()));
        }
        Map<String, List<Long>> pss = new LinkedHashMap<>();
        long t0 = System.nanoTime();
        long until = t0 + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < until) {
            for (Map.Entry<String, Long> e : pids.entrySet()) {
                pss.computeIfAbsent(e.getKey(), k -> new ArrayList<>()).add(ProcReadings.pssKib(e.getValue()));
            }
            // Sampling memory at an interval over the window: there is nothing to wait for but time.
            collectd.waitFor(5, TimeUnit.SECONDS);
        }
        double elapsed = (System.nanoTime() - t0) / 1e9;
        Map<String, Double> cpu = new LinkedHashMap<>();
        for (Map.Entry<String, Long> e : pids.entrySet()) {
            cpu.put(e.getKey(), 100.0 * (ProcReadings.cpuTicks(e.getValue()) - before.get(e.getKey())) / HZ / elapsed);
        }
        double collectdCpu = cpu.get("collectd");
        double baseCpu = cpu.get("file only");
        long basePss = ProcReadings.median(pss.get("file only"));
        System.out.printf("output-idle: %s window, %d s, load average %s%n", window, Math.round(elapsed),
                Files.readString(Path.of("/proc/loadavg")).trim());
        System.out.printf("output-idle: %-8s %-12s %9s %9s %16s %9s%n", "window", "process", "cpu_pct", "pss_mb", "added_cpu/collectd",
                "added_mb");
        for (String k : pids.keySet()) {
            long p = ProcReadings.median(pss.get(k));
            boolean agent = !k.equals("collectd");
            System.out.printf("output-idle: %-8s %-12s %9.3f %9.1f %16s %9s%n", window, k, cpu.get(k), p / 1024.0,
                    agent ? String.format("%.3f", collectdCpu > 0 ? (cpu.get(k) - baseCpu) / collectdCpu : Double.NaN) : "-",
                    agent ? String.format("%+.1f", (p - basePss) / 1024.0) : "-");
        }
    }
}
