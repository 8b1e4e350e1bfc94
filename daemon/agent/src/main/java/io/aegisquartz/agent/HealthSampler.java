package io.aegisquartz.agent;

import io.aegisquartz.governor.SelfUsage;
import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Status;
import io.aegisquartz.schedule.LatencyHistogram;
import io.aegisquartz.schedule.RunCounters;
import io.aegisquartz.output.OutputState;
import io.aegisquartz.pipeline.SampleSink;
import io.aegisquartz.sample.SampleStamper;

import java.io.IOException;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * The agent's own health as samples, like Telegraf's {@code internal} input: job {@value #JOB},
 * metrics {@code agent.*} (docs/SAMPLES.md), written through the same sink as every job's samples.
 *
 * <p>Cheap by construction: it runs on the agent's existing timer thread, reads counters the jobs
 * keep anyway ({@link RunCounters}: no allocation per run), a fixed-bucket histogram of fire
 * lateness, and a few /proc files; once per interval it allocates only the samples it writes.
 * Counters are totals since the agent started (a receiver takes rates from them); the lateness
 * percentiles and the CPU percentage cover the interval since the previous health sample.
 */
final class HealthSampler {

    /** The job name health samples carry. */
    static final String JOB = "agent/health";

    private final RunCounters counters;
    private final Supplier<List<OutputState>> outputs;
    private final Supplier<AgentSnapshot.Spool> spool;
    private final LongSupplier reloads;
    private final LongSupplier failedReloads;
    private final IntSupplier jobs;
    private final SampleSink sink;
    private final SampleStamper stamper;
    private final List<GarbageCollectorMXBean> collectors = ManagementFactory.getGarbageCollectorMXBeans();
    private final ThreadMXBean threadBean = ManagementFactory.getThreadMXBean();
    private final long processStartMillis = ProcessHandle.current().info().startInstant().map(i -> i.toEpochMilli())
            .orElse(System.currentTimeMillis());
    private long lastCpuNanos;
    private long lastAtMillis;

    HealthSampler(RunCounters counters, Supplier<List<OutputState>> outputs, Supplier<AgentSnapshot.Spool> spool, LongSupplier reloads,
                  LongSupplier failedReloads, IntSupplier jobs, SampleSink sink, SampleStamper stamper) {
        this.counters = counters;
        this.outputs = outputs;
        this.spool = spool;
        this.reloads = reloads;
        this.failedReloads = failedReloads;
        this.jobs = jobs;
        this.sink = sink;
        this.stamper = stamper;
        this.lastAtMillis = processStartMillis;
    }

    /**
     * Takes one round of health samples and writes them. Their {@code cpu_ms} is the CPU time this
     * round took to gather them (the write after it is not included), so their own cost is on record.
     */
    void sample() {
        long cpu0 = threadBean.getCurrentThreadCpuTime();
        List<Measurement> ms = measurements(System.currentTimeMillis());
        long cpu = threadBean.getCurrentThreadCpuTime() - cpu0;
        sink.write(stamper.stamp(JOB, "agent", ms, 0, cpu, false));
    }

    /** The measurements of one round, as of {@code now}. */
    List<Measurement> measurements(long now) {
        List<Measurement> out = new ArrayList<>(8);

        Map<String, Double> runs = new LinkedHashMap<>();
        long failed = 0;
        long total = 0;
        for (Status s : Status.values()) {
            if (s == Status.SKIPPED || s == Status.DROPPED) {
                continue; // not states a run ends in
            }
            long n = counters.runs(s);
            runs.put(s.wire(), (double) n);
            total += n;
            failed += s.isRunFailure() ? n : 0;
        }
        runs.put("failed", (double) failed);
        runs.put("total", (double) total);
        runs.put("manual", (double) counters.manualRuns());
        out.add(measurement(now, "agent.runs", Status.OK, null, runs, Map.of()));

        Map<String, Double> skipped = new LinkedHashMap<>();
        long skips = 0;
        for (RunCounters.Skip why : RunCounters.Skip.values()) {
            long n = counters.skipped(why);
            skipped.put(why.name().toLowerCase(java.util.Locale.ROOT), (double) n);
            skips += n;
        }
        skipped.put("total", (double) skips);
        out.add(measurement(now, "agent.skipped", Status.OK, null, skipped, Map.of()));

        LatencyHistogram.Window late = counters.lateness().takeWindow();
        Map<String, Double> lateness = new LinkedHashMap<>();
        lateness.put("fires", (double) late.count());
        lateness.put("p50", late.p50Micros() / 1000.0);
        lateness.put("p99", late.p99Micros() / 1000.0);
        lateness.put("max", late.maxMicros() / 1000.0);
        out.add(new Measurement(now, "agent.fire_lateness", Status.OK, null, lateness,
                Map.of("p50", "ms", "p99", "ms", "max", "ms"), Map.of()));

        out.add(process(now));

        AgentSnapshot.Spool sp = spool.get();
        if (sp != null) {
            Map<String, Double> v = new LinkedHashMap<>();
            v.put("bytes", (double) sp.bytes());
            v.put("max_bytes", (double) sp.maxBytes());
            v.put("lost", (double) sp.lost());
            out.add(new Measurement(now, "agent.spool", Status.OK, null, v, Map.of("bytes", "B", "max_bytes", "B"), Map.of()));
        }
        for (OutputState o : outputs.get()) {
            Map<String, Double> v = new LinkedHashMap<>();
            v.put("sent", (double) o.sentSamples());
            v.put("failed", (double) o.failedAttempts());
            v.put("pending", (double) o.pendingSamples());
            v.put("pending_bytes", (double) o.pendingBytes());
            v.put("lag", Math.max(0, o.oldestPendingAgeMillis()) / 1000.0);
            v.put("failing_for", o.failing() ? Math.max(0, now - o.failingSinceMillis()) / 1000.0 : 0);
            v.put("dropped", (double) o.dropped());
            v.put("dead_lettered", (double) o.deadLettered());
            out.add(new Measurement(now, "agent.output", o.failing() ? Status.WARNING : Status.OK,
                    o.failing() ? "failing: " + o.lastError() : null, v, Map.of("pending_bytes", "B", "lag", "s", "failing_for", "s"),
                    Map.of("output", o.name(), "type", o.type())));
        }

        Map<String, Double> rel = new LinkedHashMap<>();
        rel.put("reloads", (double) reloads.getAsLong());
        rel.put("failed", (double) failedReloads.getAsLong());
        out.add(measurement(now, "agent.reloads", Status.OK, null, rel, Map.of()));
        return out;
    }

    private Measurement process(long now) {
        Map<String, Double> v = new LinkedHashMap<>();
        Map<String, String> units = new LinkedHashMap<>();
        SelfUsage u = SelfUsage.read();
        if (u != null) {
            long interval = Math.max(1, now - lastAtMillis);
            v.put("cpu", u.cpuNanos() / 1e9);
            v.put("cpu_pct", Math.max(0, 100.0 * (u.cpuNanos() - lastCpuNanos) / 1e6 / interval));
            v.put("rss", (double) u.rssBytes());
            v.put("threads", (double) u.threads());
            units.put("cpu", "s");
            units.put("cpu_pct", "%");
            units.put("rss", "B");
            lastCpuNanos = u.cpuNanos();
            lastAtMillis = now;
        }
        long fds = openDescriptors();
        if (fds >= 0) {
            v.put("open_fds", (double) fds);
        }
        long gcMillis = 0;
        long gcCount = 0;
        for (GarbageCollectorMXBean gc : collectors) {
            gcMillis += Math.max(0, gc.getCollectionTime());
            gcCount += Math.max(0, gc.getCollectionCount());
        }
        v.put("gc_time", gcMillis / 1000.0);
        v.put("gc_count", (double) gcCount);
        v.put("uptime", Math.max(0, now - processStartMillis) / 1000.0);
        v.put("jobs", (double) jobs.getAsInt());
        units.put("gc_time", "s");
        units.put("uptime", "s");
        return new Measurement(now, "agent.process", Status.OK, null, v, units, Map.of());
    }

    /** Entries of /proc/self/fd (the listing's own descriptor included), -1 if it cannot be read. */
    private static long openDescriptors() {
        long n = 0;
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(Path.of("/proc/self/fd"))) {
            for (Path ignored : fds) {
                n++;
            }
            return n;
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    private static Measurement measurement(long now, String metric, Status status, String message, Map<String, Double> values,
                                           Map<String, String> units) {
        return new Measurement(now, metric, status, message, values, units, Map.of());
    }
}
