package io.aegisquartz.output.kafka;

import io.aegisquartz.testing.AgentHome;
import io.aegisquartz.testing.AgentProcesses;
import io.aegisquartz.testing.ProcReadings;
import io.aegisquartz.testing.StartedProcesses;
import io.aegisquartz.testing.servers.KafkaBroker;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The packaged agent (daemon/bin/aegis-quartz run, the jars of target/lib and target/lib/kafka as
 * Maven built them), two at once with the same jobs: one writing to a file only, one also to a kafka
 * output on a real broker. The first never loads a Kafka class (nor the bridge's Kafka side); the
 * second loads them from lib/kafka, not from the agent's classpath, and delivers. Both idle agents'
 * PSS is measured in the same run and printed: what a kafka output costs (issue 19: at most 16 MB).
 */
class KafkaOutputIT {


    @TempDir
    Path dir;

    @RegisterExtension
    final StartedProcesses started = new StartedProcesses();

    private Process launch(AgentHome home, Path classes) throws IOException {
        return AgentProcesses.launchPackaged(started, home, dir.resolve(home.home().getFileName() + ".out"), "-Xlog:class+load=info:file=" + classes);
    }

    private static AgentHome home(Path at, String outputs) {
        AgentHome home = new AgentHome(at, "[plugins]\nwatch = false\n[agent]\nhealth_interval = 0\n"
                + "[output.local]\ntype = file\nfile = log/local.jsonl\n" + outputs);
        home.userPlugin("tick.sh", "#!/bin/sh\necho 'TICK OK | n=1'\n");
        home.cron("aegis_quartz.conf.user", "[0/5 * * * * ?] name=tick user/tick.sh\n");
        return home;
    }



    /** Where the memory is: anonymous and file-backed PSS, and the JVM's heap and class metadata (jcmd). */
    private static String breakdown(ProcessHandle h) throws Exception {
        StringBuilder b = new StringBuilder();
        for (String line : Files.readAllLines(Path.of("/proc/" + h.pid() + "/smaps_rollup"))) {
            if (line.startsWith("Pss_Anon:") || line.startsWith("Pss_File:")) {
                b.append(line.replaceAll("\\s+", " ")).append("; ");
            }
        }
        String jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd").toString();
        for (String what : List.of("GC.heap_info", "VM.metaspace")) {
            Process p = new ProcessBuilder(jcmd, String.valueOf(h.pid()), what).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            p.waitFor(30, TimeUnit.SECONDS);
            out.lines().filter(l -> l.contains("total") || l.contains("Both:") || l.contains("Metaspace") && l.contains("used"))
                    .limit(4).forEach(l -> b.append(l.strip()).append("; "));
        }
        return b.toString();
    }


    @Test
    void anAgentWithoutAKafkaOutputLoadsNoKafkaClassAndOneWithItLoadsThemFromLibKafka() throws Exception {
        Files.createDirectories(dir.resolve("broker"));
        try (KafkaBroker broker = KafkaBroker.start(dir.resolve("broker"))) {
            broker.createTopic("samples", 1);
            AgentHome plain = home(dir.resolve("plain"), "");
            AgentHome withKafka = home(dir.resolve("kafka"), "[output.bus]\ntype = kafka\nbootstrap_servers = " + broker.bootstrap()
                    + "\ntopic = samples\nallow_plaintext_loopback = true\nlinger = 1s\n");
            Path plainClasses = dir.resolve("plain-classes.txt");
            Path kafkaClasses = dir.resolve("kafka-classes.txt");
            Process a = launch(plain, plainClasses);
            Process b = launch(withKafka, kafkaClasses);
            Path plainLocal = plain.home().resolve("log/local.jsonl");
            Path kafkaLocal = withKafka.home().resolve("log/local.jsonl");
            await().atMost(Duration.ofSeconds(120)).until(() -> AgentHome.wholeLines(plainLocal).size() >= 2
                    && AgentHome.wholeLines(kafkaLocal).size() >= 2 && broker.readAll("samples").size() >= 2);

            // Idle (one tick every 5 s), both warmed up the same way: PSS every 2 s for 20 s, median.
            List<Long> plainPss = new ArrayList<>();
            List<Long> kafkaPss = new ArrayList<>();
            ProcessHandle ja = AgentProcesses.jvmOf(a);
            ProcessHandle jb = AgentProcesses.jvmOf(b);
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (System.nanoTime() < until) {
                plainPss.add(ProcReadings.pssKib(ja.pid()));
                kafkaPss.add(ProcReadings.pssKib(jb.pid()));
                // Sampling memory at an interval: there is nothing to wait for but time.
                a.waitFor(2, TimeUnit.SECONDS);
            }
            long p = ProcReadings.median(plainPss);
            long k = ProcReadings.median(kafkaPss);
            System.out.printf("kafka-footprint: idle agent PSS, file output only: %.1f MB; with a kafka output too: %.1f MB;"
                    + " the kafka output adds %.1f MB (%.2fx) [%d samples each, 2 s apart]%n", p / 1024.0, k / 1024.0, (k - p) / 1024.0,
                    (double) k / p, plainPss.size());

            for (ProcessHandle h : List.of(ja, jb)) {
                System.out.println("kafka-footprint: " + (h == ja ? "without" : "with") + ": " + breakdown(h));
            }
            List<String> plainLoaded = Files.readAllLines(plainClasses);
            List<String> kafkaLoadedAll = Files.readAllLines(kafkaClasses);
            System.out.printf("kafka-footprint: classes loaded: %d without, %d with a kafka output (%d org.apache.kafka, %d javax.management)%n",
                    plainLoaded.size(), kafkaLoadedAll.size(), kafkaLoadedAll.stream().filter(l -> l.contains(" org.apache.kafka.")).count(),
                    kafkaLoadedAll.stream().filter(l -> l.contains(" javax.management.")).count());
            assertTrue(plainLoaded.stream().anyMatch(l -> l.contains(" io.aegisquartz.output.file.FileOutput ")), "the class-load log works");
            assertEquals(List.of(), plainLoaded.stream().filter(l -> l.contains(" org.apache.kafka.") || l.contains(" io.aegisquartz.output.kafka."))
                    .toList(), "an agent without a kafka output loads no Kafka class and none of the kafka output's");

            List<String> kafkaLoaded = Files.readAllLines(kafkaClasses);
            List<String> producer = kafkaLoaded.stream().filter(l -> l.contains(" org.apache.kafka.clients.producer.KafkaProducer ")).toList();
            assertEquals(1, producer.size(), String.join("\n", producer));
            Path lib = AgentProcesses.REPO.resolve("daemon/agent/target/lib/kafka");
            assertTrue(producer.get(0).contains("source: file:" + lib + "/kafka-clients-"), producer.get(0));
            try (var jars = Files.list(AgentProcesses.REPO.resolve("daemon/agent/target/lib"))) {
                assertEquals(List.of(), jars.filter(j -> j.getFileName().toString().startsWith("kafka")).filter(Files::isRegularFile).toList(),
                        "no Kafka jar on the agent's classpath (lib/*)");
            }
            List<String> bridge = kafkaLoaded.stream().filter(l -> l.contains(" io.aegisquartz.output.kafka.client.ClientBridge ")).toList();
            // Defined once, by the Kafka client's loader (its code source is the agent's jar; that it sees the
            // client's classes at all shows whose it is: lib/kafka is on no other loader's path).
            assertEquals(1, bridge.size());
            for (Process x : List.of(a, b)) {
                x.destroy();
                assertTrue(x.waitFor(30, TimeUnit.SECONDS));
            }
        }
    }
}
