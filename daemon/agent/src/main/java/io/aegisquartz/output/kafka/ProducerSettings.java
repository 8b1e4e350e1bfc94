package io.aegisquartz.output.kafka;

import io.aegisquartz.config.OutputSettings;
import io.aegisquartz.output.http.HttpAuth;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The Kafka producer's settings for a kafka output (docs/OUTPUTS.md, "kafka"), as the client's
 * configuration names them. Fixed, not options: acks=all and idempotence (a batch is sent only when
 * every broker in sync has each record; a retry inside the client writes no duplicate), no
 * compression (no native library to ship), TLS with hostname verification unless plaintext to
 * loopback was allowed. From the worker: the batch size (the client's buffers are sized to one
 * worker's batch, not its 32 MB default) and the timeout.
 */
public final class ProducerSettings {

    private ProducerSettings() {
    }

    /** The settings; {@code login} is null without SASL. The map holds the password: it is never logged. */
    public static Map<String, Object> of(OutputSettings.Kafka k, HttpAuth.UserPassword login) {
        OutputSettings.Delivery d = k.delivery();
        long timeoutMs = Math.max(1_000, d.timeout().toMillis());
        // The client's batches (per partition) are buffers of batch.size taken from a pool of buffer.memory;
        // a worker's batch may fill several, and a record larger than one gets a buffer of its own. Small
        // buffers keep an idle agent small: the pool keeps the ones it freed.
        int batch = 64 * 1024;
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("bootstrap.servers", String.join(",", k.bootstrapServers()));
        c.put("client.id", "aegis-quartz-" + k.name());
        c.put("acks", "all");
        c.put("enable.idempotence", "true");
        c.put("max.in.flight.requests.per.connection", "5");
        c.put("compression.type", "none");
        // The worker makes the batches: the client waits only for the rest of one to be handed over.
        c.put("linger.ms", "5");
        c.put("batch.size", String.valueOf(batch));
        c.put("buffer.memory", String.valueOf(Math.max(2L << 20, 2L * d.batchBytes())));
        // No JMX reporter: its MBeans are nobody's to read here, and they cost memory.
        c.put("metric.reporters", "");
        c.put("max.request.size", String.valueOf(1 << 20));
        c.put("max.block.ms", String.valueOf(timeoutMs));
        c.put("request.timeout.ms", String.valueOf(timeoutMs));
        // The client retries a record, idempotently, until it is acknowledged: an outage of the broker
        // never expires records it would then be given again (and write twice). A send waits `timeout`
        // for them, then tells the worker to retry, which waits for the same records again.
        c.put("delivery.timeout.ms", String.valueOf(Integer.MAX_VALUE));
        c.put("reconnect.backoff.max.ms", "10000");
        // No client metrics pushed to the broker (KIP-714): nothing of ours leaves the host unasked.
        c.put("enable.metrics.push", "false");
        boolean sasl = k.saslMechanism() != null;
        c.put("security.protocol", (sasl ? "SASL_" : "") + (k.tls() ? "SSL" : "PLAINTEXT"));
        if (k.tls()) {
            c.put("ssl.endpoint.identification.algorithm", "https");
            if (k.caFile() != null) {
                c.put("ssl.truststore.type", "PEM");
                c.put("ssl.truststore.location", k.caFile().toString());
            }
        }
        if (sasl) {
            c.put("sasl.mechanism", k.saslMechanism());
            String module = k.saslMechanism().equals("PLAIN") ? "org.apache.kafka.common.security.plain.PlainLoginModule"
                    : "org.apache.kafka.common.security.scram.ScramLoginModule";
            c.put("sasl.jaas.config", module + " required username=\"" + jaasQuoted(login.user()) + "\" password=\""
                    + jaasQuoted(login.password()) + "\";");
        }
        return c;
    }

    /** A JAAS quoted string's content: backslash and double quote escaped, so a password cannot end the entry. */
    static String jaasQuoted(String s) {
        return s.replace("\\", "\\\\").replace("\"", "\\\"");
    }
}
