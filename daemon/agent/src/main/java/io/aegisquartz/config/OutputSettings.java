package io.aegisquartz.config;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;

/**
 * One configured output, validated: an {@code [output.NAME]} section, the {@code [upload]} section
 * (the output named {@code aegis}), or, when neither is there, the {@code [sink]} file (the output
 * named {@code file}).
 */
public sealed interface OutputSettings permits OutputSettings.Aegis, OutputSettings.File {

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
}
