package io.aegisquartz.bench;

import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Sample;
import io.aegisquartz.sample.SampleJson;
import io.aegisquartz.sample.SampleStamper;
import io.aegisquartz.sample.Status;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;

/** What both benchmarks share: options, realistic samples, the environment line, clean-up. */
final class Bench {

    static final String HOST_UUID = "6f1c2a9e-3b7d-4e55-9c1a-0d2e4f6a8b10";

    private Bench() {
    }

    /** {@code --name value} options; anything else is an error, so a typo never runs the wrong benchmark. */
    static Map<String, String> options(String[] args, String usage, String... names) {
        Map<String, String> out = new HashMap<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("-h") || a.equals("--help")) {
                System.out.println(usage);
                System.exit(0);
            }
            if (!a.startsWith("--") || !List.of(names).contains(a.substring(2)) || i + 1 >= args.length) {
                System.err.println("unknown or incomplete option: " + a + "\n" + usage);
                System.exit(2);
            }
            out.put(a.substring(2), args[++i]);
        }
        return out;
    }

    static List<Integer> ints(String csv) {
        List<Integer> out = new ArrayList<>();
        for (String s : csv.split(",")) {
            out.add(Integer.parseInt(s.strip().replace("_", "")));
        }
        return out;
    }

    /**
     * The samples of one plugin run, as the agent would spool them: stamped (UUIDv7 id, host, job, run
     * cost) and written by SampleJson. The fields every sample carries take ~265 bytes; with a small
     * metric (one or two values, a unit, a tag) a sample is 315-350 bytes, about the
     * 300 bytes the targets assume.
     */
    static List<byte[]> pluginRun(SampleStamper stamper, int samples) {
        return pluginRun(stamper, samples, System.currentTimeMillis());
    }

    /** The samples of one plugin run taken at {@code now} (epoch ms). */
    static List<byte[]> pluginRun(SampleStamper stamper, int samples, long now) {
        ThreadLocalRandom r = ThreadLocalRandom.current();
        List<Measurement> ms = new ArrayList<>(samples);
        for (int i = 0; i < samples; i++) {
            Map<String, Double> values = new LinkedHashMap<>();
            Map<String, String> units = new LinkedHashMap<>();
            Map<String, String> tags = new LinkedHashMap<>();
            String metric;
            switch (i % 3) {
                case 0 -> {
                    metric = "cpu.busy";
                    values.put("pct", Math.round(r.nextDouble(100) * 100) / 100.0);
                    units.put("pct", "%");
                }
                case 1 -> {
                    metric = "disk.used";
                    values.put("pct", Math.round(r.nextDouble(100) * 10) / 10.0);
                    units.put("pct", "%");
                    tags.put("mount", "/data" + (i % 4));
                }
                default -> {
                    metric = "load";
                    values.put("1m", Math.round(r.nextDouble(8) * 100) / 100.0);
                    values.put("5m", Math.round(r.nextDouble(8) * 100) / 100.0);
                }
            }
            ms.add(new Measurement(now, metric, Status.OK, null, values, units, tags));
        }
        List<Sample> stamped = stamper.stamp("default/host.groovy", "default/host.groovy", ms,
                r.nextLong(5_000_000, 80_000_000), r.nextLong(1_000_000, 40_000_000), false);
        List<byte[]> out = new ArrayList<>(stamped.size());
        for (Sample s : stamped) {
            out.add(SampleJson.toJson(s).getBytes(StandardCharsets.UTF_8));
        }
        return out;
    }

    static SampleStamper stamper() {
        return new SampleStamper(HOST_UUID, "web-01");
    }

    /** Where the numbers come from, printed before them. */
    static void printEnvironment(Path dir) throws IOException {
        FileStore fs = Files.getFileStore(dir);
        System.out.printf("java %s (%s), %d CPU(s), JVM args %s%n", System.getProperty("java.version"),
                System.getProperty("java.vm.name"), Runtime.getRuntime().availableProcessors(),
                ManagementFactory.getRuntimeMXBean().getInputArguments());
        System.out.printf("dir %s on %s (%s), %.1f GiB usable%n", dir, fs.name(), fs.type(), fs.getUsableSpace() / (double) (1L << 30));
    }

    /** CPU time of the whole process, all threads including GC and JIT. */
    static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
