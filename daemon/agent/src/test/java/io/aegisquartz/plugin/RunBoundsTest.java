package io.aegisquartz.plugin;

import io.aegisquartz.config.JobOptions;
import io.aegisquartz.plugin.groovy.GroovyPlugin;
import io.aegisquartz.plugin.jar.JarPlugin;
import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Status;
import io.aegisquartz.testing.JarBuilder;
import io.aegisquartz.testing.PluginRunners;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static io.aegisquartz.testing.TestJobs.job;
import static io.aegisquartz.testing.TestJobs.limits;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * In-JVM runs are bounded in what they allocate and in what they emit: the allocation budget
 * ({@code mem=}), the caps on values and tags per sample and on the size of a run's samples, and the
 * rules for units and tags (docs/SAMPLES.md, "Limits").
 */
class RunBoundsTest extends PluginRunners {

    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    private static JobOptions options() {
        return limits(Duration.ofSeconds(30), Duration.ofSeconds(20));
    }

    private RunResult groovy(String name, String script, JobOptions options) throws Exception {
        Path file = dir.resolve(name + ".groovy");
        Files.writeString(file, script);
        return GroovyPlugin.compile(file, inJvm, processes).run(job(file, options), new JobMemory());
    }

    private RunResult jar(String cls, String body, JobOptions options) throws Exception {
        Path classes = Files.createDirectories(dir.resolve(cls + "-classes"));
        JarBuilder.compile(Map.of("org/example/" + cls + ".java", """
                package org.example;
                import io.aegisquartz.api.*;
                import java.util.*;
                public class %s implements Sampler {
                    public void sample(SampleContext ctx) throws Exception {
                        %s
                    }
                }
                """.formatted(cls, body)), classes);
        JarBuilder.services(classes, "org.example." + cls);
        Path jar = JarBuilder.jar(dir.resolve(cls + ".jar"), classes);
        return JarPlugin.open(jar, inJvm, processes).run(job(jar, options), new JobMemory());
    }

    private static Measurement last(RunResult r) {
        return r.measurements().get(r.measurements().size() - 1);
    }

    @Test
    void aGroovyRunThatAllocatesWithoutBoundStopsAtItsBudget() throws Exception {
        RunResult r = groovy("hog", "def keep = []\nwhile (true) { keep << new byte[1 << 20] }", options().withMem(32 * MIB));

        assertEquals(Status.MEM_LIMIT, r.outcome(), () -> r.measurements().toString());
        assertFalse(r.abandoned(), "stopped by the compiled-in check");
        assertTrue(r.allocatedBytes() >= 32 * MIB && r.allocatedBytes() < 40 * MIB, "stopped near the budget: " + r.allocatedBytes());
        assertTrue(last(r).message().startsWith("mem_limit: stopped after allocating "), last(r).message());
        assertTrue(last(r).message().contains("past the 32MiB allocation budget (mem=; garbage counts)"), last(r).message());
    }

    @Test
    void garbageCountsTowardTheBudget() throws Exception {
        // Nothing is kept, yet 200 MB go through the heap: the budget bounds the work, not only the heap.
        RunResult r = groovy("churn", "for (int i = 0; i < 200; i++) { byte[] b = new byte[1 << 20] }", options().withMem(64 * MIB));
        assertEquals(Status.MEM_LIMIT, r.outcome());

        RunResult off = groovy("churn2", "for (int i = 0; i < 200; i++) { byte[] b = new byte[1 << 20] }", options().withMem(0));
        assertEquals(Status.OK, off.outcome(), "mem=0: no allocation budget");
        assertTrue(off.allocatedBytes() >= 200 * MIB, "the run's allocation is still measured: " + off.allocatedBytes());
    }

    @Test
    void aJarSamplerIsCheckedAtEachSample() throws Exception {
        // Busy (no sleep, no interrupt check): only the check at each emitted sample can see it.
        RunResult r = jar("EmitHog", """
                List<byte[]> keep = new ArrayList<>();
                for (int i = 0; ; i++) { keep.add(new byte[1 << 20]); ctx.sample("hog").value("mb", i).emit(); }
                """, options().withMem(32 * MIB).withMaxSamples(1_000_000));

        assertEquals(Status.MEM_LIMIT, r.outcome(), () -> last(r).toString());
        assertFalse(r.abandoned());
        assertTrue(r.allocatedBytes() < 40 * MIB, "stopped at the first sample past the budget: " + r.allocatedBytes());
    }

    @Test
    void aJarSamplerThatNeverCallsTheAgentIsWatchedFromOutside() throws Exception {
        // Emits nothing: the worker reads its thread's allocation counter and stops it (here by interrupt).
        RunResult r = jar("QuietHog", """
                List<byte[]> keep = new ArrayList<>();
                while (true) { keep.add(new byte[1 << 20]); Thread.sleep(1); }
                """, options().withMem(32 * MIB));

        assertEquals(Status.MEM_LIMIT, r.outcome(), () -> last(r).toString());
        assertFalse(r.abandoned(), "it let the interrupt through");
        assertTrue(r.wallNanos() < Duration.ofSeconds(10).toNanos(), "long before the 30 s timeout: " + r.wallNanos());
    }

    @Test
    void aSampleWithThousandsOfValuesOrTagsIsDroppedWithAClearMessage() throws Exception {
        RunResult r = groovy("wide", """
                def wide = sample('wide')
                for (int i = 0; i < 50000; i++) { wide.value('v' + i, i) }
                wide.emit()
                def tagged = sample('tagged').value('x', 1)
                for (int i = 0; i < 5000; i++) { tagged.tag('t' + i, 'value ' + i) }
                tagged.emit()
                emit('fine', [a: 1, b: 2], [host: 'db1'])
                """, options());

        assertEquals(Status.OK, r.outcome(), "invalid samples do not fail the run");
        assertEquals(List.of("fine", "wide"), r.measurements().stream().map(Measurement::metric).toList());
        Measurement error = last(r);
        assertEquals(Status.ERROR, error.status());
        assertEquals("2 invalid sample(s) dropped; first: metric wide: more than 1000 values; at most 1000 values and 100 tags per "
                + "sample; sample dropped", error.message());
    }

    @Test
    void aRunsSamplesAreCappedInSize() throws Exception {
        // 400 samples of about 100,000 characters each: 40 MB offered, max_bytes=2MiB kept.
        RunResult r = groovy("flood", """
                String big = 'x' * 1000
                for (int n = 0; n < 400; n++) {
                    def s = sample('flood').value('n', n)
                    for (int i = 0; i < 100; i++) { s.tag('t' + i, big) }
                    s.emit()
                }
                """, options());

        assertEquals(Status.OK, r.outcome());
        assertTrue(r.truncated());
        long kept = r.measurements().stream().filter(m -> m.status() == Status.OK).count();
        assertEquals(20, kept, "2 MiB / about 100,000 characters each");
        assertEquals("380 sample(s) dropped: the run's samples reached max_bytes=2MiB (counted as docs/SAMPLES.md says; 20 sample(s) of "
                + "1.91 MiB kept)", last(r).message());
    }

    @Test
    void unitsAndTagsFollowTheRules() throws Exception {
        RunResult r = groovy("rules", """
                sample('ok').value('t', 1, 'ms').value('r', 2, 'B/s').value('p', 3, '%').tag('mount', '/var/log').emit()
                sample('a').value('t', 1, 'milli seconds').emit()
                sample('b').value('t', 1).tag('bad key', 'x').emit()
                sample('c').value('t', 1).tag('k', 'two\\nlines').emit()
                sample('d').value('t', 1).tag('k', 'x' * 1025).emit()
                sample('e').value('t', 1).tag('k', 'half \\ud800 pair').emit()
                """, options());

        assertEquals(List.of("ok", "rules"), r.measurements().stream().map(Measurement::metric).toList(), r.measurements().toString());
        assertEquals("5 invalid sample(s) dropped; first: metric a: unit 'milli seconds' of t must be 1-32 letters, digits or _ % / . ^ -",
                last(r).message());
    }

    @Test
    void eachRuleNamesWhatIsWrong() {
        Measurement ok = new Measurement(0, "m", Status.OK, null, Map.of("v", 1.0), Map.of("v", "ms"), Map.of("k", "v"));
        assertEquals(null, MeasurementCollector.problem(ok));
        assertEquals("metric m: tag name 'bad key' must start with a letter or '_' and hold only letters, digits, '_', '.', ':' or '-' "
                + "(at most 200)", MeasurementCollector.problem(new Measurement(0, "m", Status.OK, null, Map.of(), Map.of(),
                Map.of("bad key", "v"))));
        assertEquals("metric m: tag k: value 'a\\x1Bb' must be at most 1024 characters, without control characters or unpaired "
                + "surrogates", MeasurementCollector.problem(new Measurement(0, "m", Status.OK, null, Map.of(), Map.of(), Map.of("k", "a\u001bb"))));
        assertEquals("metric m: unit for 'w', which is not one of its values", MeasurementCollector.problem(new Measurement(0, "m",
                Status.OK, null, Map.of("v", 1.0), Map.of("w", "ms"), Map.of())));
        assertEquals("metric m: message has an unpaired surrogate (not valid Unicode)", MeasurementCollector.problem(new Measurement(0, "m",
                Status.OK, "\udc00", Map.of(), Map.of(), Map.of())));
    }
}
