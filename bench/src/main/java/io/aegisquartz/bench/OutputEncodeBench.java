package io.aegisquartz.bench;

import io.aegisquartz.output.influx.InfluxEncoder;
import io.aegisquartz.output.influx.InfluxFlavour;
import io.aegisquartz.output.influx.InfluxPrecision;
import io.aegisquartz.output.kafka.KafkaRecords;
import io.aegisquartz.output.otlp.OtlpEncoder;
import io.aegisquartz.output.prometheus.RemoteWriteEncoder;
import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Sample;
import io.aegisquartz.sample.SampleJson;
import io.aegisquartz.sample.SampleStamper;
import io.aegisquartz.sample.Status;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.ToIntFunction;
import java.util.zip.GZIPOutputStream;

/**
 * Samples encoded per second of CPU, on one thread, by each output's encoder, beside the native
 * protocol's body (the stored JSON in an array, gzipped: what the aegis output sends) in the same run.
 * Each encoder turns batches of stored samples (their JSON, as the spool holds them) into what its
 * backend takes: line protocol, a snappy-compressed remote-write request, an OTLP request, Kafka
 * records.
 */
public final class OutputEncodeBench {

    private static final String USAGE = """
            usage: bench/output-encode [--seconds S] [--rounds N] [--batch N]
              --seconds  measured CPU time per encoder and round, after 2 s of warm-up (default 3)
              --rounds   rounds over all encoders; the median round is reported (default 3)
              --batch    samples per batch (default 1000, a batch as the outputs send them)""";

    private static final int POOL = 100_000;

    private OutputEncodeBench() {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> o = Bench.options(args, USAGE, "seconds", "rounds", "batch");
        double seconds = Double.parseDouble(o.getOrDefault("seconds", "3"));
        int rounds = Integer.parseInt(o.getOrDefault("rounds", "3"));
        int batch = Integer.parseInt(o.getOrDefault("batch", "1000"));
        Bench.printEnvironment(Path.of("."));
        List<byte[]> pool = hostRuns();
        System.out.printf("samples: %d distinct, mean %.0f bytes of JSON each, %d per batch%n", pool.size(),
                pool.stream().mapToInt(b -> b.length).average().orElse(0), batch);
        List<List<byte[]>> batches = new ArrayList<>();
        for (int i = 0; i + batch <= pool.size(); i += batch) {
            batches.add(pool.subList(i, i + batch));
        }

        Map<String, ToIntFunction<List<byte[]>>> encoders = new LinkedHashMap<>();
        encoders.put("aegis (native: JSON array, gzip)", OutputEncodeBench::nativeBody);
        InfluxEncoder influx1 = new InfluxEncoder(InfluxFlavour.INFLUXDB1, InfluxPrecision.MS, true);
        encoders.put("influx (influxdb1, gzip)", b -> influx1.encode(b).bytes().length);
        InfluxEncoder influxPlain = new InfluxEncoder(InfluxFlavour.INFLUXDB1, InfluxPrecision.MS, false);
        encoders.put("influx (influxdb1, no gzip)", b -> influxPlain.encode(b).bytes().length);
        InfluxEncoder vm = new InfluxEncoder(InfluxFlavour.VICTORIAMETRICS, InfluxPrecision.MS, true);
        encoders.put("influx (victoriametrics, gzip)", b -> vm.encode(b).bytes().length);
        RemoteWriteEncoder prometheus = new RemoteWriteEncoder();
        encoders.put("prometheus (protobuf, snappy)", b -> prometheus.encode(b).bytes().length);
        OtlpEncoder otlp = new OtlpEncoder(OtlpEncoder.Encoding.PROTOBUF);
        encoders.put("otlp (protobuf)", b -> otlp.encode(b).bytes().length);
        OtlpEncoder otlpJson = new OtlpEncoder(OtlpEncoder.Encoding.JSON);
        encoders.put("otlp (json)", b -> otlpJson.encode(b).bytes().length);
        encoders.put("kafka (records)", b -> {
            int n = 0;
            for (KafkaRecords.Record r : KafkaRecords.of(b).records()) {
                n += r.value().length + r.key().length + r.status().length + r.metric().length;
            }
            return n;
        });

        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        for (ToIntFunction<List<byte[]>> e : encoders.values()) {
            run(e, batches, 2.0, threads); // warm-up: the JIT, as in a running agent
        }
        // Rounds over all encoders, so that a noisy neighbour slows every encoder alike; the median is shown.
        Map<String, List<Double>> rates = new LinkedHashMap<>();
        Map<String, Double> bytesPerSample = new LinkedHashMap<>();
        for (int round = 0; round < rounds; round++) {
            for (Map.Entry<String, ToIntFunction<List<byte[]>>> e : encoders.entrySet()) {
                long[] r = run(e.getValue(), batches, seconds, threads);
                rates.computeIfAbsent(e.getKey(), k -> new ArrayList<>()).add(r[0] / (r[1] / 1e9));
                bytesPerSample.put(e.getKey(), r[2] / (double) r[0]);
            }
        }
        System.out.printf("%n%-34s %14s %12s %14s   %s%n", "encoder", "samples/cpu-s", "vs native", "bytes/sample", "rounds");
        double nativeRate = median(rates.values().iterator().next());
        for (Map.Entry<String, List<Double>> e : rates.entrySet()) {
            double rate = median(e.getValue());
            System.out.printf("%-34s %,14.0f %11.2fx %14.1f   %s%n", e.getKey(), rate, rate / nativeRate, bytesPerSample.get(e.getKey()),
                    e.getValue().stream().map(v -> String.format("%,.0f", v)).toList());
        }
    }

    private static double median(List<Double> v) {
        List<Double> s = new ArrayList<>(v);
        s.sort(null);
        return s.get(s.size() / 2);
    }

    /**
     * Runs of a host-metrics job every 10 s, as the agent spools them (stamped, written by
     * SampleJson): per run, CPU busy per core (tag cpu), filesystem use per mount (tags mount, device,
     * three values with units), network rates per interface, load, memory. Every sample of a run is
     * its own series, as with the default sampler; a batch holds many points of each series.
     */
    private static List<byte[]> hostRuns() {
        SampleStamper stamper = Bench.stamper();
        SplittableRandom r = new SplittableRandom(42);
        List<byte[]> out = new ArrayList<>(POOL);
        long t = System.currentTimeMillis() - POOL / 20 * 10_000L;
        while (out.size() < POOL) {
            List<Measurement> run = new ArrayList<>();
            for (int cpu = 0; cpu < 8; cpu++) {
                run.add(new Measurement(t, "cpu", Status.OK, null, Map.of("busy_pct", round(r.nextDouble(100))),
                        Map.of("busy_pct", "%"), Map.of("cpu", Integer.toString(cpu))));
            }
            for (int fs = 0; fs < 4; fs++) {
                Map<String, Double> v = new LinkedHashMap<>();
                v.put("used_bytes", (double) r.nextLong(1L << 40));
                v.put("available_bytes", (double) r.nextLong(1L << 40));
                v.put("used_pct", round(r.nextDouble(100)));
                run.add(new Measurement(t, "filesystem", Status.OK, null, v,
                        Map.of("used_bytes", "B", "available_bytes", "B", "used_pct", "%"),
                        Map.of("mount", "/data" + fs, "device", "/dev/sd" + (char) ('a' + fs) + "1", "fstype", "ext4")));
            }
            for (String nic : new String[] {"eth0", "eth1", "lo"}) {
                run.add(new Measurement(t, "network", Status.OK, null, Map.of("rx_bytes_per_s", round(r.nextDouble(1e8)),
                        "tx_bytes_per_s", round(r.nextDouble(1e8))), Map.of("rx_bytes_per_s", "B/s", "tx_bytes_per_s", "B/s"),
                        Map.of("interface", nic)));
            }
            run.add(new Measurement(t, "load", Status.OK, null, Map.of("load1", round(r.nextDouble(8)), "load5", round(r.nextDouble(8)),
                    "load15", round(r.nextDouble(8))), Map.of(), Map.of()));
            run.add(new Measurement(t, "memory", Status.OK, null, Map.of("used_bytes", (double) r.nextLong(1L << 36),
                    "used_pct", round(r.nextDouble(100))), Map.of("used_bytes", "B", "used_pct", "%"), Map.of()));
            for (Sample s : stamper.stamp("default/sampler.groovy", "default/sampler.groovy", run, 15_000_000, 14_000_000, false)) {
                out.add(SampleJson.toJson(s).getBytes(StandardCharsets.UTF_8));
            }
            t += 10_000;
        }
        return out;
    }

    private static double round(double v) {
        return Math.round(v * 100) / 100.0;
    }

    /** Encodes batches for {@code seconds} of this thread's CPU; returns samples, CPU ns, output bytes. */
    private static long[] run(ToIntFunction<List<byte[]>> encoder, List<List<byte[]>> batches, double seconds, ThreadMXBean threads) {
        long start = threads.getCurrentThreadCpuTime();
        long until = start + (long) (seconds * 1e9);
        long samples = 0;
        long bytes = 0;
        long now = start;
        for (int i = 0; now < until; i++) {
            List<byte[]> b = batches.get(i % batches.size());
            bytes += encoder.applyAsInt(b);
            samples += b.size();
            now = threads.getCurrentThreadCpuTime();
        }
        return new long[] {samples, now - start, bytes};
    }

    /** The native protocol's request body as the aegis output writes it (docs/PROTOCOL.md): the stored JSON in an array, gzipped. */
    private static int nativeBody(List<byte[]> samples) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(8 * 1024);
        try (GZIPOutputStream gz = new GZIPOutputStream(bytes, 8 * 1024)) {
            gz.write("{\"batch_id\":\"00000000-0000-0000-0000-000000000000\",\"samples\":[".getBytes(StandardCharsets.UTF_8));
            for (int i = 0; i < samples.size(); i++) {
                if (i > 0) {
                    gz.write(',');
                }
                gz.write(samples.get(i));
            }
            gz.write("]}".getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.size();
    }
}
