package io.aegisquartz.output.kafka;

import io.aegisquartz.output.TestSamples;
import io.aegisquartz.sample.Status;
import io.aegisquartz.testing.servers.KafkaBroker;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Kafka records from the kafka mapping, produced with the official client (idempotent, acks=all) to a
 * real broker in KRaft mode started by the test, and read back with a plain consumer: key, value
 * (the sample's JSON byte for byte), headers, one host's samples in one partition in order; and the
 * broker's SASL PLAIN and SCRAM listeners.
 */
class KafkaRoundTripTest {

    @TempDir
    static Path dir;

    static KafkaBroker broker;

    @BeforeAll
    static void start() throws Exception {
        broker = KafkaBroker.start(dir);
    }

    @AfterAll
    static void stop() {
        if (broker != null) {
            broker.close();
        }
    }

    private static Properties producer(String bootstrap) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 60_000);
        return p;
    }

    private static List<RecordMetadata> send(Properties config, String topic, KafkaRecords.Batch batch) throws Exception {
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(config)) {
            List<Future<RecordMetadata>> acks = new ArrayList<>();
            for (KafkaRecords.Record r : batch.records()) {
                RecordHeaders h = new RecordHeaders();
                h.add(KafkaRecords.STATUS_HEADER, r.status());
                h.add(KafkaRecords.METRIC_HEADER, r.metric());
                acks.add(producer.send(new ProducerRecord<>(topic, null, r.key(), r.value(), h)));
            }
            producer.flush();
            List<RecordMetadata> out = new ArrayList<>();
            for (Future<RecordMetadata> f : acks) {
                out.add(f.get(60, TimeUnit.SECONDS));
            }
            return out;
        }
    }

    @Test
    void recordsCarryTheHostKeyTheSampleJsonAndStatusHeadersInOrderPerHost() throws Exception {
        broker.createTopic("samples", 3);
        List<byte[]> samples = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            samples.add(TestSamples.of("memory").value("used_bytes", i, "B").tag("q\"uote", "ünï\n").at(1_795_000_000_000L + i).json());
        }
        samples.add(TestSamples.of("check_disk").job("disk_root").status(Status.TIMEOUT, "slow").at(1_795_000_001_000L).json());
        KafkaRecords.Batch batch = KafkaRecords.of(samples);
        assertTrue(batch.report().isClean());
        List<RecordMetadata> acks = send(producer(broker.bootstrap()), "samples", batch);
        assertEquals(51, acks.size());
        assertEquals(1, acks.stream().map(RecordMetadata::partition).distinct().count(), "one host, one partition");

        List<ConsumerRecord<byte[], byte[]>> read = broker.readAll("samples");
        assertEquals(51, read.size());
        for (int i = 0; i < read.size(); i++) {
            ConsumerRecord<byte[], byte[]> r = read.get(i);
            assertEquals(TestSamples.HOST_UUID, new String(r.key(), StandardCharsets.UTF_8));
            assertArrayEquals(samples.get(i), r.value(), "the sample's JSON byte for byte, in order");
        }
        assertEquals("ok", KafkaBroker.header(read.get(0), "status"));
        assertEquals("memory", KafkaBroker.header(read.get(0), "metric"));
        assertEquals("timeout", KafkaBroker.header(read.get(50), "status"));
        assertEquals("check_disk", KafkaBroker.header(read.get(50), "metric"));
    }

    private static Properties sasl(String mechanism, String password) {
        Properties p = producer(broker.saslBootstrap());
        p.put("security.protocol", "SASL_PLAINTEXT");
        p.put("sasl.mechanism", mechanism);
        String module = mechanism.equals("PLAIN") ? "org.apache.kafka.common.security.plain.PlainLoginModule"
                : "org.apache.kafka.common.security.scram.ScramLoginModule";
        p.put("sasl.jaas.config", module + " required username=\"" + KafkaBroker.USER + "\" password=\"" + password + "\";");
        return p;
    }

    @Test
    void saslPlainAndScramAuthenticateAndAWrongPasswordIsRefused() throws Exception {
        broker.createTopic("secured", 1);
        KafkaRecords.Batch batch = KafkaRecords.of(List.of(TestSamples.of("a").value("v", 1).json()));
        assertEquals(1, send(sasl("PLAIN", KafkaBroker.PASSWORD), "secured", batch).size());
        assertEquals(1, send(sasl("SCRAM-SHA-256", KafkaBroker.PASSWORD), "secured", batch).size());
        assertEquals(2, broker.readAll("secured").size());
        Properties wrong = sasl("SCRAM-SHA-256", "wrong");
        wrong.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 15_000);
        ExecutionException e = assertThrows(ExecutionException.class, () -> send(wrong, "secured", batch));
        assertInstanceOf(SaslAuthenticationException.class, e.getCause());
    }
}
