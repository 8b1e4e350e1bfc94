package io.aegisquartz.output.kafka;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.aegisquartz.agent.Agent;
import io.aegisquartz.output.OutputState;
import io.aegisquartz.spool.Spool;
import io.aegisquartz.spool.SpoolBatch;
import io.aegisquartz.spool.SpoolConfig;
import io.aegisquartz.spool.SpoolRecord;
import io.aegisquartz.testing.AgentHome;
import io.aegisquartz.testing.servers.KafkaBroker;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The agent with a kafka output to a real broker (KRaft, a child JVM on loopback), its Kafka client
 * loaded from a lib/kafka directory by its own class loader as installed: every sample the local file
 * got is in the topic exactly once, keyed by the host uuid, with its status and metric headers; with
 * the broker stopped the output fails and its samples wait, and after the restart they all arrive
 * (none lost, none twice); SASL with a wrong password is a failing output with a readable error, and
 * no password reaches the log. The client's threads exist only while the output does.
 */
class KafkaOutputAgentTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path shared;

    static KafkaBroker broker;

    @TempDir
    Path dir;

    private Agent agent;

    @BeforeAll
    static void start() throws Exception {
        Files.createDirectories(shared.resolve("broker"));
        broker = KafkaBroker.start(shared.resolve("broker"));
        // lib/kafka as the package installs it: the kafka-clients jar alone (here, the one Maven resolved for the tests).
        Path lib = Files.createDirectories(shared.resolve("lib-kafka"));
        Path jar = Path.of(KafkaProducer.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        Files.createSymbolicLink(lib.resolve(jar.getFileName()), jar);
        System.setProperty(KafkaClientLoader.LIB_PROPERTY, lib.toString());
    }

    @AfterAll
    static void stopBroker() {
        if (broker != null) {
            broker.close();
        }
    }

    private ListAppender<ILoggingEvent> logged;
    private Level rootLevel;

    /** Every log line, the Kafka client's included, at INFO (more than the agent's log keeps of Kafka: its errors). */
    @BeforeEach
    void captureLog() {
        logged = new ListAppender<>();
        logged.start();
        Logger root = (Logger) LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME);
        rootLevel = root.getLevel();
        root.setLevel(Level.INFO);
        root.addAppender(logged);
        ((Logger) LoggerFactory.getLogger("org.apache.kafka")).setLevel(Level.INFO);
    }

    @AfterEach
    void stop() {
        if (agent != null) {
            agent.stop();
        }
        Logger root = (Logger) LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME);
        root.detachAppender(logged);
        root.setLevel(rootLevel);
        ((Logger) LoggerFactory.getLogger("org.apache.kafka")).setLevel(null);
    }

    private String log() {
        StringBuilder b = new StringBuilder();
        synchronized (logged) {
            for (ILoggingEvent e : logged.list) {
                b.append(e.getLevel()).append(' ').append(e.getLoggerName()).append(' ').append(e.getFormattedMessage()).append('\n');
                for (IThrowableProxy t = e.getThrowableProxy(); t != null; t = t.getCause()) {
                    b.append("  ").append(t.getClassName()).append(": ").append(t.getMessage()).append('\n');
                }
            }
        }
        return b.toString();
    }

    private OutputState state(String name) {
        return agent.outputStates().stream().filter(s -> s.name().equals(name)).findFirst().orElseThrow();
    }

    private static List<Thread> kafkaThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().startsWith("kafka-producer-network-thread | aegis-quartz-"))
                .toList();
    }

    private AgentHome home(String kafkaSection) {
        AgentHome home = new AgentHome(dir.resolve("home"), "[plugins]\nwatch = false\n"
                + kafkaSection + "backoff_max = 1s\nlinger = 1s\ntimeout = 5s\n"
                + "[output.local]\ntype = file\nfile = log/local.jsonl\n");
        home.userPlugin("tick.sh", "#!/bin/sh\necho '{\"metric\":\"tick\",\"values\":{\"n\":1}}'\n");
        home.userPlugin("broken.sh", "#!/bin/sh\necho 'disk gone' >&2\nexit 5\n");
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] user/tick.sh\n[*/2 * * * * ?] user/broken.sh\n");
        return home;
    }

    @Test
    void everySampleArrivesOnceWithKeyAndHeadersAndTheBacklogCatchesUpAfterTheBrokerRestarts() throws Exception {
        broker.createTopic("samples", 3);
        AgentHome home = home("[output.kafka]\ntype = kafka\nbootstrap_servers = " + broker.bootstrap()
                + "\ntopic = samples\nallow_plaintext_loopback = true\n");
        assertEquals(List.of(), kafkaThreads(), "no Kafka client before the agent starts");
        agent = new Agent(home.settings());
        agent.start();
        await().atMost(Duration.ofSeconds(90)).until(() -> state("kafka").sentSamples() >= 4);
        assertEquals(1, kafkaThreads().size(), "one producer, one network thread");
        assertTrue(kafkaThreads().get(0).getContextClassLoader() instanceof KafkaClientLoader, "the client runs in its own loader");

        // The broker goes away: the output fails, its samples wait in the spool; the file keeps receiving.
        broker.close();
        await().atMost(Duration.ofSeconds(90)).until(() -> state("kafka").failing());
        long sentThen = state("kafka").sentSamples();
        await().atMost(Duration.ofSeconds(90)).until(() -> state("kafka").pendingSamples() >= 6);
        assertEquals(sentThen, state("kafka").sentSamples());
        assertNotNull(state("kafka").lastError());

        broker.restart();
        await().atMost(Duration.ofSeconds(180)).until(() -> !state("kafka").failing() && state("kafka").pendingSamples() < 3
                && state("kafka").sentSamples() > sentThen + 6);
        String log = log();
        agent.stop();
        agent = null;
        await().atMost(Duration.ofSeconds(30)).until(() -> kafkaThreads().isEmpty());

        // The reference: every sample the file got; the topic has each once, unless still pending in the kafka cursor.
        List<String> all = AgentHome.wholeLines(home.home().resolve("log/local.jsonl"));
        List<String> pending = new ArrayList<>();
        try (Spool spool = Spool.open(home.home().resolve("spool"), SpoolConfig.defaults(), List.of("kafka", "local"), null)) {
            for (SpoolBatch b; !(b = spool.cursor("kafka").read(1000, Long.MAX_VALUE)).isEmpty(); ) {
                for (SpoolRecord r : b.records()) {
                    pending.add(new String(r.payload(), StandardCharsets.UTF_8));
                }
            }
        }
        Map<String, Integer> expected = new HashMap<>();
        for (String line : all) {
            expected.merge(line, 1, Integer::sum);
        }
        pending.forEach(p -> expected.merge(p, -1, Integer::sum));
        expected.values().removeIf(n -> n == 0);
        List<ConsumerRecord<byte[], byte[]>> records = broker.readAll("samples");
        Map<String, Integer> got = new HashMap<>();
        int partitions = 0;
        for (ConsumerRecord<byte[], byte[]> r : records) {
            String value = new String(r.value(), StandardCharsets.UTF_8);
            got.merge(value, 1, Integer::sum);
            JsonNode sample = JSON.readTree(value);
            assertEquals(sample.get("host_uuid").asText(), new String(r.key(), StandardCharsets.UTF_8), "key = host uuid");
            assertEquals(sample.get("status").asText(), KafkaBroker.header(r, "status"));
            assertEquals(sample.get("metric").asText(), KafkaBroker.header(r, "metric"));
            partitions |= 1 << r.partition();
        }
        assertEquals(1, Integer.bitCount(partitions), "one host's samples in one partition");
        assertTrue(all.size() >= 12 && all.stream().anyMatch(l -> l.contains("\"status\":\"error\"")), all.size() + " samples");
        List<String> missing = new ArrayList<>();
        List<String> twice = new ArrayList<>();
        for (Map.Entry<String, Integer> e : expected.entrySet()) {
            int n = got.getOrDefault(e.getKey(), 0);
            if (n < e.getValue()) {
                missing.add(JSON.readTree(e.getKey()).get("time").asText());
            } else if (n > e.getValue()) {
                twice.add(JSON.readTree(e.getKey()).get("time").asText() + " x" + n);
            }
        }
        got.keySet().removeAll(expected.keySet());
        assertEquals(List.of(), missing, "samples the file got that are neither in the topic nor pending (of " + expected.size() + ")");
        assertEquals(List.of(), twice, "samples in the topic more than once");
        assertEquals(0, got.size(), "records no file sample explains: " + got.size());
        assertTrue(log.contains("output kafka (kafka): samples go to topic samples at " + broker.bootstrap()), log);
    }

    @Test
    void saslWithAWrongPasswordIsAFailingOutputWithAReadableErrorAndNoSecretInTheLog() throws Exception {
        broker.createTopic("secured", 1);
        String secret = "wr0ng\\pass'word-" + System.nanoTime();
        Path creds = dir.resolve("home/conf/kafka.credentials");
        AgentHome home = home("[output.kafka]\ntype = kafka\nbootstrap_servers = " + broker.saslBootstrap()
                + "\ntopic = secured\nallow_plaintext_loopback = true\nsasl_mechanism = scram-sha-256\ncredentials_file = " + creds + "\n");
        Files.writeString(creds, "[credentials]\nusername = " + KafkaBroker.USER + "\npassword = " + secret + "\n");
        Files.setPosixFilePermissions(creds, PosixFilePermissions.fromString("rw-------"));
        agent = new Agent(home.settings());
        agent.start();
        await().atMost(Duration.ofSeconds(90)).until(() -> state("kafka").failing() && state("local").sentSamples() >= 2);
        String error = state("kafka").lastError();
        assertTrue(error.contains("Kafka refuses our credentials or permissions") && error.contains("SaslAuthenticationException")
                && error.contains("check sasl_mechanism, the credentials file"), error);
        assertEquals(0, state("kafka").sentSamples());
        await().atMost(Duration.ofSeconds(30)).until(() -> log().contains("Kafka refuses our credentials"));
        agent.stop();
        agent = null;
        String log = log();
        assertTrue(log.contains("sasl.jaas.config = [hidden]"), "the Kafka client's own settings line is in the capture:\n" + log);
        assertFalse(log.contains("wr0ng") || log.contains(KafkaBroker.PASSWORD), log);
        assertTrue(log.contains("SASL SCRAM-SHA-256 as " + KafkaBroker.USER), log);

        // The right password (PLAIN this time): delivered.
        Files.writeString(creds, "[credentials]\nusername = " + KafkaBroker.USER + "\npassword = " + KafkaBroker.PASSWORD + "\n");
        Files.writeString(home.conf().resolve("aegis_config.ini"), Files.readString(home.conf().resolve("aegis_config.ini"))
                .replace("scram-sha-256", "plain"));
        agent = new Agent(home.settings());
        agent.start();
        await().atMost(Duration.ofSeconds(90)).until(() -> state("kafka").sentSamples() >= 3);
        assertFalse(log().contains(KafkaBroker.PASSWORD));
    }

    /**
     * TLS and SCRAM-SHA-512 against the broker's SASL_SSL listener: without a CA file the broker's
     * self-signed certificate is not trusted (the system trust store is the default), which is a failing
     * output with the TLS error and nothing sent; with the broker's certificate as ca_file (host name
     * checked: it is for 127.0.0.1) every sample arrives, and no password reaches the log.
     */
    @Test
    void tlsWithScramSha512DeliversOnlyToABrokerWhoseCertificateIsTrusted() throws Exception {
        broker.createTopic("tls", 1);
        Path creds = dir.resolve("home/conf/kafka.credentials");
        String section = "[output.kafka]\ntype = kafka\nbootstrap_servers = " + broker.tlsBootstrap()
                + "\ntopic = tls\nsasl_mechanism = scram-sha-512\ncredentials_file = " + creds + "\n";
        AgentHome home = home(section);
        Files.writeString(creds, "[credentials]\nusername = " + KafkaBroker.USER + "\npassword = " + KafkaBroker.PASSWORD + "\n");
        Files.setPosixFilePermissions(creds, PosixFilePermissions.fromString("rw-------"));
        agent = new Agent(home.settings());
        agent.start();
        await().atMost(Duration.ofSeconds(90)).until(() -> state("kafka").failing() && state("local").sentSamples() >= 2);
        assertTrue(state("kafka").lastError().contains("SslAuthenticationException"), state("kafka").lastError());
        assertEquals(0, state("kafka").sentSamples());
        assertEquals(0, broker.readAll("tls").size());
        agent.stop();
        agent = null;

        Files.writeString(home.conf().resolve("aegis_config.ini"), Files.readString(home.conf().resolve("aegis_config.ini"))
                .replace(section, section + "ca_file = " + broker.caPem() + "\n"));
        agent = new Agent(home.settings());
        agent.start();
        await().atMost(Duration.ofSeconds(90)).until(() -> state("kafka").sentSamples() >= 3 && !state("kafka").failing());
        List<ConsumerRecord<byte[], byte[]>> records = broker.readAll("tls");
        assertTrue(records.size() >= 3, "records: " + records.size());
        for (ConsumerRecord<byte[], byte[]> r : records) {
            assertEquals(JSON.readTree(r.value()).get("status").asText(), KafkaBroker.header(r, "status"));
        }
        String log = log();
        assertTrue(log.contains("over TLS, SASL SCRAM-SHA-512 as " + KafkaBroker.USER), log);
        assertFalse(log.contains(KafkaBroker.PASSWORD), log);
    }

    /**
     * A record too large for the topic in the middle of a batch: the client has the others
     * acknowledged when the worker splits the batch to find the large one, and the halves must not
     * produce them again. Every other sample is in the topic exactly once; the large one is dead-lettered.
     */
    @Test
    void splittingABatchForATooLargeRecordDoesNotProduceTheAcknowledgedRecordsAgain() throws Exception {
        broker.createTopic("small", 1, Map.of("max.message.bytes", "4096"));
        AgentHome home = home("[output.kafka]\ntype = kafka\nbootstrap_servers = " + broker.bootstrap()
                + "\ntopic = small\nallow_plaintext_loopback = true\n");
        var settings = (io.aegisquartz.config.OutputSettings.Kafka) home.settings().outputs().stream()
                .filter(o -> o.name().equals("kafka")).findFirst().orElseThrow();
        long t = System.currentTimeMillis() - 60_000;
        List<byte[]> batch = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            var s = io.aegisquartz.output.TestSamples.of("m").value("v", i).at(t + i);
            batch.add((i == 10 ? s.tag("big", "x".repeat(8_000)) : s).json());
        }
        try (Spool spool = Spool.open(dir.resolve("spool"), SpoolConfig.defaults(), List.of("kafka"), null)) {
            spool.append(batch);
            var output = new KafkaOutput("kafka", "small", new io.aegisquartz.output.kafka.client.ClientBridge(
                    ProducerSettings.of(settings, null), 30_000L));
            var config = new io.aegisquartz.output.WorkerConfig(100, 1_000_000, 50,
                    io.aegisquartz.util.ExponentialBackoff.jittered(Duration.ofMillis(50), Duration.ofMillis(400)), Duration.ZERO, false);
            try (var worker = new io.aegisquartz.output.OutputWorker<>(output, spool.cursor("kafka"), config,
                    new io.aegisquartz.output.DeadLetters(dir.resolve("dead.jsonl"), "kafka"),
                    new io.aegisquartz.sample.SampleStamper("h", "h")).start()) {
                await().atMost(Duration.ofSeconds(90)).until(() -> spool.cursor("kafka").stats().pendingRecords() == 0);
                assertEquals(1, worker.state().deadLettered(), worker.state().toString());
            }
        }
        Map<String, Integer> copies = new HashMap<>();
        for (ConsumerRecord<byte[], byte[]> r : broker.readAll("small")) {
            copies.merge(JSON.readTree(r.value()).get("id").asText(), 1, Integer::sum);
        }
        Map<String, Integer> expected = new HashMap<>();
        for (int i = 0; i < 20; i++) {
            if (i != 10) {
                expected.put(JSON.readTree(batch.get(i)).get("id").asText(), 1);
            }
        }
        assertEquals(expected, copies, "every other sample once");
        assertTrue(Files.readString(dir.resolve("dead.jsonl")).contains("RecordTooLargeException"), Files.readString(dir.resolve("dead.jsonl")));
    }
}
