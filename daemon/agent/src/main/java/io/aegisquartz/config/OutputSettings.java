package io.aegisquartz.config;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * One configured output, validated: an {@code [output.NAME]} section, the {@code [upload]} section
 * (the output named {@code aegis}), or, when neither is there, the {@code [sink]} file (the output
 * named {@code file}).
 */
public sealed interface OutputSettings permits OutputSettings.Aegis, OutputSettings.File, OutputSettings.Influx,
        OutputSettings.Prometheus, OutputSettings.Otlp, OutputSettings.Kafka {

    /** The output's name: the spool cursor, the log lines and the dead-letter file carry it. */
    String name();

    /** aegis, file, ... */
    String type();

    /** Line of the section (or key) that defines it, for messages; 0 for the built-in default. */
    int line();

    /**
     * How its worker sends.
     *
     * @param batchSamples samples per request
     * @param batchBytes   bytes of sample JSON per request
     * @param rate         requests per second, at most
     * @param backoffMax   longest wait between retries
     * @param timeout      connect and response timeout
     * @param linger       how long the oldest pending sample waits for others to share its request
     * @param live         send the newest samples ahead of a backlog
     */
    record Delivery(int batchSamples, long batchBytes, int rate, Duration backoffMax, Duration timeout, Duration linger, boolean live) {
    }

    /** Our own protocol to a receiver (docs/PROTOCOL.md). Optional paths are null when not set. */
    record Aegis(String name, int line, URI endpoint, Path credentialsFile, Path caFile, Path clientKeystore,
                 Path clientKeystorePasswordFile, boolean allowHttpLoopback, Delivery delivery) implements OutputSettings {
        @Override
        public String type() {
            return "aegis";
        }
    }

    /** A local JSON-lines file, rotated by size. */
    record File(String name, int line, Path file, long maxSize, int maxFiles) implements OutputSettings {
        @Override
        public String type() {
            return "file";
        }
    }

    /** How an output authenticates to its backend, with the secrets of its credentials file. */
    enum Auth {
        /** Nothing sent. */
        NONE,
        /** {@code Authorization: Basic}, from {@code username} and {@code password}. */
        BASIC,
        /** {@code Authorization: Token}, from {@code token} (InfluxDB). */
        TOKEN,
        /** {@code Authorization: Bearer}, from {@code bearer_token}. */
        BEARER
    }

    /**
     * Where an HTTP output sends, and how it proves who it is. Optional paths are null when not set;
     * {@code credentialsFile} is read only when {@code auth} is not {@link Auth#NONE}.
     */
    record Http(URI endpoint, Auth auth, Path credentialsFile, Path caFile, Path clientKeystore, Path clientKeystorePasswordFile,
                boolean allowHttpLoopback) {
    }

    /**
     * InfluxDB line protocol (docs/OUTPUTS.md, "influx").
     *
     * @param flavour   influxdb1, influxdb2 or victoriametrics
     * @param database  influxdb1: the database (required); else empty
     * @param retention influxdb1: the retention policy, or empty for the default
     * @param org       influxdb2: the organisation
     * @param bucket    influxdb2: the bucket
     * @param precision ns, us, ms or s
     */
    record Influx(String name, int line, Http http, String flavour, String database, String retention, String org, String bucket,
                  String precision, boolean gzip, Delivery delivery) implements OutputSettings {
        @Override
        public String type() {
            return "influx";
        }
    }

    /** Prometheus remote write 1.0 (docs/OUTPUTS.md, "prometheus"); never the live lane. */
    record Prometheus(String name, int line, Http http, Delivery delivery) implements OutputSettings {
        @Override
        public String type() {
            return "prometheus";
        }
    }

    /** OTLP/HTTP metrics (docs/OUTPUTS.md, "otlp"); {@code json} for http/json, else http/protobuf. */
    record Otlp(String name, int line, Http http, boolean json, Delivery delivery) implements OutputSettings {
        @Override
        public String type() {
            return "otlp";
        }
    }

    /**
     * A Kafka topic (docs/OUTPUTS.md, "kafka"); never the live lane (Kafka keeps every copy).
     *
     * @param bootstrapServers HOST:PORT of the brokers to start from
     * @param tls              TLS, verified (false only for loopback brokers with allow_plaintext_loopback)
     * @param caFile           PEM certificates to trust instead of the system's, or null
     * @param saslMechanism    PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, or null for none
     * @param credentialsFile  username and password, read only when saslMechanism is set
     */
    record Kafka(String name, int line, List<String> bootstrapServers, String topic, boolean tls, Path caFile, String saslMechanism,
                 Path credentialsFile, Delivery delivery) implements OutputSettings {
        @Override
        public String type() {
            return "kafka";
        }
    }
}
