package io.aegisquartz.testing.servers;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * A real Kafka broker in KRaft mode (combined broker and controller, one node), from the
 * {@code org.apache.kafka:kafka_2.13} test dependency, run as a child JVM on free loopback ports:
 * PLAINTEXT for producers and consumers, SASL_PLAINTEXT with PLAIN and SCRAM-SHA-256 users
 * {@value #USER} / {@value #PASSWORD}, and SASL_SSL with SCRAM-SHA-512 (same user) over TLS with a
 * self-signed certificate for 127.0.0.1. Formats its log directory, starts, and reads topics back with
 * a plain consumer.
 */
public final class KafkaBroker extends ServerProcess {

    public static final String USER = "aegis";
    public static final String PASSWORD = "broker-secret";

    private int port;
    private int saslPort;
    private int tlsPort;
    private Path caPem;

    private KafkaBroker(Path dir) {
        super("kafka", dir.resolve("kafka.log"));
    }

    public static KafkaBroker start(Path dir) throws IOException {
        KafkaBroker b = new KafkaBroker(dir);
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String classpath = System.getProperty("java.class.path");
        Path logback = dir.resolve("logback.xml");
        Files.writeString(logback, "<configuration><appender name=\"OUT\" class=\"ch.qos.logback.core.ConsoleAppender\">"
                + "<encoder><pattern>%d %level %logger{20} %msg%n</pattern></encoder></appender>"
                + "<root level=\"WARN\"><appender-ref ref=\"OUT\"/></root></configuration>\n");
        // The TLS listener's certificate: self-signed, for 127.0.0.1 (an IP subject alternative name, which the
        // client's host-name check needs), made with the JDK's keytool; the PEM is what a client trusts.
        Path keystore = dir.resolve("broker.p12");
        String storePassword = "broker-store-" + Long.toHexString(System.nanoTime());
        b.caPem = dir.resolve("broker-ca.pem");
        String keytool = Path.of(System.getProperty("java.home"), "bin", "keytool").toString();
        run(dir, keytool, "-genkeypair", "-alias", "broker", "-keyalg", "RSA", "-keysize", "2048", "-dname", "CN=127.0.0.1",
                "-ext", "SAN=IP:127.0.0.1", "-validity", "3", "-storetype", "PKCS12", "-keystore", keystore.toString(),
                "-storepass", storePassword, "-keypass", storePassword);
        run(dir, keytool, "-exportcert", "-rfc", "-alias", "broker", "-keystore", keystore.toString(), "-storepass", storePassword,
                "-file", b.caPem.toString());
        b.startWithRetries(() -> {
            b.port = freePort();
            b.saslPort = freePort();
            b.tlsPort = freePort();
            int controller = freePort();
            Path data = dir.resolve("data-" + b.port);
            Path conf = dir.resolve("server.properties");
            String jaas = "org.apache.kafka.common.security.plain.PlainLoginModule required user_" + USER + "=\"" + PASSWORD + "\";";
            Files.writeString(conf, String.join("\n",
                    "process.roles=broker,controller",
                    "node.id=1",
                    "controller.quorum.voters=1@127.0.0.1:" + controller,
                    "listeners=PLAINTEXT://127.0.0.1:" + b.port + ",SASL_PLAINTEXT://127.0.0.1:" + b.saslPort
                            + ",SASL_SSL://127.0.0.1:" + b.tlsPort + ",CONTROLLER://127.0.0.1:" + controller,
                    "advertised.listeners=PLAINTEXT://127.0.0.1:" + b.port + ",SASL_PLAINTEXT://127.0.0.1:" + b.saslPort
                            + ",SASL_SSL://127.0.0.1:" + b.tlsPort,
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,"
                            + "CONTROLLER:PLAINTEXT",
                    "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256",
                    "listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512",
                    "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;",
                    "listener.name.sasl_ssl.ssl.keystore.type=PKCS12",
                    "listener.name.sasl_ssl.ssl.keystore.location=" + keystore,
                    "listener.name.sasl_ssl.ssl.keystore.password=" + storePassword,
                    "listener.name.sasl_ssl.ssl.key.password=" + storePassword,
                    "listener.name.sasl_plaintext.plain.sasl.jaas.config=" + jaas,
                    "listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config="
                            + "org.apache.kafka.common.security.scram.ScramLoginModule required;",
                    "log.dirs=" + data,
                    "num.partitions=3",
                    "offsets.topic.replication.factor=1",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=true",
                    ""));
            List<String> jvm = List.of(java, "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                    "-Dlogback.configurationFile=" + logback, "-cp", classpath);
            List<String> format = new ArrayList<>(jvm);
            format.addAll(List.of("kafka.tools.StorageTool", "format", "-t", Uuid.randomUuid().toString(), "-c", conf.toString(),
                    "--add-scram", "SCRAM-SHA-256=[name=" + USER + ",password=" + PASSWORD + "]",
                    "--add-scram", "SCRAM-SHA-512=[name=" + USER + ",password=" + PASSWORD + "]"));
            Process f = new ProcessBuilder(format).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("kafka.log").toFile())).start();
            try {
                if (!f.waitFor(120, TimeUnit.SECONDS) || f.exitValue() != 0) {
                    f.destroyForcibly();
                    throw new IOException("kafka-storage format failed; log:\n" + b.tail());
                }
            } catch (InterruptedException e) {
                f.destroyForcibly();
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", e);
            }
            List<String> run = new ArrayList<>(jvm);
            run.addAll(List.of("kafka.Kafka", conf.toString()));
            return b.start(run, dir, () -> listening(b.port) && listening(b.saslPort) && listening(b.tlsPort), Duration.ofSeconds(180));
        });
        return b;
    }

    private static boolean listening(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 500);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** 127.0.0.1:PORT of the PLAINTEXT listener. */
    public String bootstrap() {
        return "127.0.0.1:" + port;
    }

    /** 127.0.0.1:PORT of the SASL_SSL listener (TLS with the certificate of {@link #caPem()}; SCRAM-SHA-512). */
    public String tlsBootstrap() {
        return "127.0.0.1:" + tlsPort;
    }

    /** The TLS listener's self-signed certificate for 127.0.0.1, PEM: what a client trusts. */
    public Path caPem() {
        return caPem;
    }

    private static void run(Path dir, String... command) throws IOException {
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        try {
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", command).replaceAll("-storepass \\S+", "-storepass ***") + " failed: " + out);
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    /** 127.0.0.1:PORT of the SASL_PLAINTEXT listener (PLAIN and SCRAM-SHA-256). */
    public String saslBootstrap() {
        return "127.0.0.1:" + saslPort;
    }

    /** Creates {@code topic} with {@code partitions} partitions, waiting until it exists. */
    public void createTopic(String topic, int partitions) throws Exception {
        createTopic(topic, partitions, Map.of());
    }

    /** As {@link #createTopic(String, int)}, with topic configs (such as {@code max.message.bytes}). */
    public void createTopic(String topic, int partitions, Map<String, String> configs) throws Exception {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap(),
                AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 60_000))) {
            admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1).configs(configs))).all().get(90, TimeUnit.SECONDS);
        }
    }

    /**
     * Every record now in {@code topic}, partition by partition from the beginning, read with a plain
     * consumer (no group: assigned partitions, read to their end offsets).
     */
    public List<ConsumerRecord<byte[], byte[]>> readAll(String topic) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap());
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
            List<TopicPartition> parts = c.partitionsFor(topic, Duration.ofSeconds(60)).stream()
                    .map(i -> new TopicPartition(topic, i.partition())).collect(Collectors.toList());
            c.assign(parts);
            c.seekToBeginning(parts);
            Map<TopicPartition, Long> end = c.endOffsets(parts, Duration.ofSeconds(60));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (parts.stream().anyMatch(tp -> c.position(tp, Duration.ofSeconds(30)) < end.get(tp))) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("could not read " + topic + " to its end in 60 s");
                }
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500))) {
                    out.add(r);
                }
            }
        }
        return out;
    }

    /** A header's value as text, or null. */
    public static String header(ConsumerRecord<byte[], byte[]> r, String name) {
        var h = r.headers().lastHeader(name);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }
}
