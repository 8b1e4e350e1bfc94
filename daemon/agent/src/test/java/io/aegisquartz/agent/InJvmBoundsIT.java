package io.aegisquartz.agent;

import com.fasterxml.jackson.databind.JsonNode;
import io.aegisquartz.testing.AgentHome;
import io.aegisquartz.testing.JarBuilder;
import io.aegisquartz.testing.StartedProcesses;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The packaged launcher (its JVM options: a 128 MB heap, exit on OutOfMemoryError) running plugins that
 * allocate without bound and emit huge samples, beside a healthy job: the hostile runs are stopped and
 * say why, the agent never dies, and the healthy job never misses a beat.
 */
class InJvmBoundsIT {

    /** Groovy and JAR plugins of plugins-user/ in the agent's own JVM (not the plugin host): what these tests are about. */
    static final String IN_AGENT_JVM = "[plugins]\nwatch = false\nisolation = inproc\n";

    static final Path REPO = Path.of(System.getProperty("aegis.repo", "../..")).toAbsolutePath().normalize();

    @TempDir
    Path dir;

    @RegisterExtension
    final StartedProcesses started = new StartedProcesses();

    @Test
    void hostileAllocationAndHugeSamplesDoNotStopTheAgentNorTheHealthyJob() throws Exception {
        AgentHome home = new AgentHome(dir.resolve("home"), IN_AGENT_JVM);
        home.userPlugin("hog.groovy", "def keep = []\nwhile (true) { keep << new byte[1 << 20] }\n");
        home.userPlugin("wide.groovy", """
                def wide = sample('wide')
                for (int i = 0; i < 20000; i++) { wide.value('v' + i, i) }
                for (int i = 0; i < 2000; i++) { wide.tag('t' + i, 'x') }
                wide.emit()
                String big = 'x' * 1000
                for (int n = 0; n < 300; n++) {
                    def s = sample('flood').value('n', n)
                    for (int i = 0; i < 100; i++) { s.tag('t' + i, big) }
                    s.emit()
                }
                """);
        home.userPlugin("tick.groovy", "emit('tick', [n: 1])\n");
        Path classes = Files.createDirectories(dir.resolve("jar-classes"));
        JarBuilder.compile(Map.of("org/example/QuietHog.java", """
                package org.example;
                public class QuietHog implements io.aegisquartz.api.Sampler {
                    public void sample(io.aegisquartz.api.SampleContext ctx) throws Exception {
                        java.util.List<byte[]> keep = new java.util.ArrayList<>();
                        while (true) { keep.add(new byte[1 << 20]); Thread.sleep(1); }
                    }
                }
                """), classes);
        JarBuilder.services(classes, "org.example.QuietHog");
        JarBuilder.jar(home.home().resolve("plugins-user/quiethog.jar"), classes);
        home.cron("aegis_quartz.conf.user", """
                [0/3 * * * * ?] name=hog user/hog.groovy
                [1/3 * * * * ?] name=quiethog user/quiethog.jar
                [2/3 * * * * ?] name=wide user/wide.groovy
                [* * * * * ?] name=tick user/tick.groovy
                """);

        Process launcher = launch(home, dir.resolve("launcher.out"));
        Instant firstHog = await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(500))
                .until(() -> firstTime(home, "hog", "mem_limit"), t -> t != null);
        await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(500)).until(() ->
                home.samples("hog", "mem_limit").size() >= 4 && home.samples("quiethog", "mem_limit").size() >= 4
                        && home.samples("wide", "error").size() >= 8);
        assertTrue(launcher.isAlive(), "the launcher still runs: " + read(dir.resolve("launcher.out")));

        JsonNode hog = home.samples("hog", "mem_limit").get(0);
        assertTrue(hog.get("message").asText().startsWith("mem_limit: stopped after allocating "), hog.toString());
        JsonNode quiet = home.samples("quiethog", "mem_limit").get(0);
        assertTrue(quiet.get("message").asText().contains("past the 64MiB allocation budget"), quiet.toString());
        List<String> wide = home.samples("wide", "error").stream().map(s -> s.get("message").asText()).toList();
        assertTrue(wide.contains("1 invalid sample(s) dropped; first: metric wide: more than 1000 values and more than 100 tags; "
                + "at most 1000 values and 100 tags per sample; sample dropped"), wide.toString());
        assertTrue(wide.stream().anyMatch(m -> m.startsWith("280 sample(s) dropped: the run's samples reached max_bytes=2MiB")), wide.toString());
        assertEquals(List.of(), home.samples("wide", s -> List.of("timeout", "cpu_limit", "mem_limit", "killed").contains(s.get("status").asText())),
                "the wide job's runs complete (a slow one may make the next fire skip)");

        // The healthy job ran every second from the first hostile run on: no gap of more than 3 s.
        List<Instant> ticks = home.samples("tick", "ok").stream().map(s -> Instant.parse(s.get("time").asText()))
                .filter(t -> !t.isBefore(firstHog.minusSeconds(1))).sorted().toList();
        assertTrue(ticks.size() >= 8, "ticks since the first hostile run: " + ticks.size());
        for (int i = 1; i < ticks.size(); i++) {
            assertTrue(Duration.between(ticks.get(i - 1), ticks.get(i)).toMillis() <= 3_000, "gap before " + ticks.get(i));
        }
        String log = read(home.home().resolve("log/aegis_quartz.log"));
        assertEquals(1, log.split(" starting: pid ", -1).length - 1, "one JVM all along: " + log);
        assertTrue(!log.contains("OutOfMemoryError"), log);
    }

    private static Instant firstTime(AgentHome home, String job, String status) {
        return home.samples(job, status).stream().map(s -> Instant.parse(s.get("time").asText())).min(Instant::compareTo).orElse(null);
    }

    private Process launch(AgentHome home, Path out) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(REPO.resolve("daemon/bin/aegis-quartz").toString(), "--home", home.home().toString(), "run")
                .redirectErrorStream(true).redirectOutput(out.toFile()).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.environment().remove("AEGIS_HOME");
        pb.environment().remove("AEGIS_CONF");
        // No class-data archive: this test is about the heap, and making one takes 10 s.
        pb.environment().put("AEGIS_CDS_ARCHIVE", dir.resolve("no-such-dir/aq.jsa").toString());
        return started.add(pb.start());
    }

    private static String read(Path f) {
        try {
            return Files.exists(f) ? Files.readString(f) : "";
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
