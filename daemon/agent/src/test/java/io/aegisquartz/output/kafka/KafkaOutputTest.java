package io.aegisquartz.output.kafka;

import io.aegisquartz.config.OutputSettings;
import io.aegisquartz.output.SendResult;
import io.aegisquartz.output.http.HttpAuth;
import io.aegisquartz.output.kafka.bridge.KafkaBridge;
import io.aegisquartz.output.kafka.bridge.KafkaBridge.Failure;
import io.aegisquartz.output.kafka.bridge.KafkaBridge.Kind;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.config.types.Password;
import org.apache.kafka.common.security.JaasContext;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;

import javax.security.auth.login.AppConfigurationEntry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The kafka output's two pure parts: what the client's failures mean for the worker, and the
 * producer's settings, checked by the Kafka client's own config parser (ProducerConfig) and JAAS
 * parser, so that a setting the client would refuse, or a password that could end its JAAS entry,
 * shows here.
 */
class KafkaOutputTest {

    private static OutputSettings.Kafka kafka(boolean tls, String sasl, Path ca) {
        return new OutputSettings.Kafka("bus", 1, List.of("k1.example.com:9093", "k2.example.com:9093"), "t", tls, ca, sasl,
                Path.of("creds"), new OutputSettings.Delivery(100, 500_000, 20, Duration.ofMinutes(5), Duration.ofSeconds(30),
                Duration.ofSeconds(15), false));
    }

    /** As the client parses it; the serializers are instances in the agent, named here. */
    private static ProducerConfig parse(Map<String, Object> c) {
        Map<String, Object> all = new java.util.HashMap<>(c);
        all.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        all.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        return new ProducerConfig(all);
    }

    @Test
    void failuresMapToTheWorkersResults() {
        assertInstanceOf(SendResult.Accepted.class, KafkaOutput.classify(List.of(), 3));
        SendResult auth = KafkaOutput.classify(List.of(new Failure(0, Kind.RETRIABLE, "TimeoutException", "t"),
                new Failure(1, Kind.AUTH, "TopicAuthorizationException", "Not authorized to access topics: [t]")), 3);
        assertEquals("auth", ((SendResult.Retry) auth).kind(), "an auth failure anywhere in the batch is the batch's");
        assertTrue(((SendResult.Retry) auth).why().contains("TopicAuthorizationException: Not authorized"), auth.toString());
        SendResult retry = KafkaOutput.classify(List.of(new Failure(2, Kind.RETRIABLE, "NotEnoughReplicasException", "x")), 3);
        assertEquals("network", ((SendResult.Retry) retry).kind());
        assertTrue(((SendResult.Retry) retry).why().startsWith("1 of 3 record(s) not acknowledged"), retry.toString());
        assertEquals("kafka", ((SendResult.Retry) KafkaOutput.classify(List.of(new Failure(0, Kind.FAILED, "KafkaException", "x")), 1)).kind());
        assertInstanceOf(SendResult.TooLarge.class, KafkaOutput.classify(List.of(new Failure(1, Kind.TOO_LARGE, "RecordTooLargeException",
                "x")), 2));
        SendResult.Rejected rejected = (SendResult.Rejected) KafkaOutput.classify(List.of(new Failure(1, Kind.REJECTED,
                "InvalidRecordException", "bad\nline")), 2);
        assertEquals(1, rejected.items().size());
        assertEquals(1, rejected.items().get(0).index());
        assertTrue(!rejected.items().get(0).reason().contains("\n"), "broker text is escaped before the log: " + rejected);
        // A retry wins over a split: the records that failed for a passing reason are sent again first.
        assertInstanceOf(SendResult.Retry.class, KafkaOutput.classify(List.of(new Failure(0, Kind.TOO_LARGE, "RecordTooLargeException", "x"),
                new Failure(1, Kind.RETRIABLE, "TimeoutException", "x")), 2));
    }

    @Test
    void settingsAreWhatTheClientAcceptsWithAcksAllIdempotenceAndVerifiedTls() {
        Map<String, Object> c = ProducerSettings.of(kafka(true, null, Path.of("/etc/ca.pem")), null);
        ProducerConfig parsed = parse(c);
        assertEquals("-1", parsed.getString(ProducerConfig.ACKS_CONFIG), "acks=all, as the client writes it");
        assertTrue(parsed.getBoolean(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG));
        assertEquals("SSL", parsed.getString("security.protocol"));
        assertEquals("https", parsed.getString("ssl.endpoint.identification.algorithm"));
        assertEquals("PEM", parsed.getString("ssl.truststore.type"));
        assertEquals("/etc/ca.pem", parsed.getString("ssl.truststore.location"));
        assertEquals(List.of(), parsed.getList(ProducerConfig.METRIC_REPORTER_CLASSES_CONFIG));
        assertEquals(Integer.MAX_VALUE, parsed.getInt(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG));
        assertEquals(30_000L, (long) parsed.getLong(ProducerConfig.MAX_BLOCK_MS_CONFIG));
        assertEquals("PLAINTEXT", parse(ProducerSettings.of(kafka(false, null, null), null)).getString("security.protocol"));
    }

    @Test
    void aPasswordWithQuotesAndBackslashesStaysOnePasswordInTheJaasEntry() {
        String password = "p\"a\\ss\"; evil=\"1";
        Map<String, Object> c = ProducerSettings.of(kafka(true, "SCRAM-SHA-512", null), new HttpAuth.UserPassword("aegis", password));
        ProducerConfig parsed = parse(c);
        assertEquals("SASL_SSL", parsed.getString("security.protocol"));
        assertEquals("SCRAM-SHA-512", parsed.getString("sasl.mechanism"));
        Password jaas = parsed.getPassword("sasl.jaas.config");
        assertEquals("[hidden]", jaas.toString(), "the client never prints it");
        JaasContext ctx = JaasContext.loadClientContext(Map.of("sasl.jaas.config", jaas));
        AppConfigurationEntry entry = ctx.configurationEntries().get(0);
        assertEquals("org.apache.kafka.common.security.scram.ScramLoginModule", entry.getLoginModuleName());
        assertEquals(Map.of("username", "aegis", "password", password), entry.getOptions());
    }

    @Test
    void theBridgeIsTheOnlyTypeSharedWithTheClientsLoader() {
        // The implementation is named as a string; this fails if it moves without the loader knowing.
        assertEquals(KafkaBridge.class.getPackageName().replace(".bridge", ".client") + ".ClientBridge",
                io.aegisquartz.output.kafka.client.ClientBridge.class.getName());
    }
}
