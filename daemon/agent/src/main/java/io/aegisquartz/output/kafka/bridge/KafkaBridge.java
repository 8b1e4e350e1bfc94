package io.aegisquartz.output.kafka.bridge;

import java.util.List;

/**
 * What the kafka output and the Kafka client, loaded in a class loader of its own
 * ({@code output.kafka.KafkaClientLoader}), say to each other. Only JDK types and the types declared
 * here cross it, so that neither side needs the other's classes: this package is the one the client's
 * loader takes from the agent's.
 */
public interface KafkaBridge extends AutoCloseable {

    /** One record: key, value, and the values of the {@code status} and {@code metric} headers (UTF-8). */
    record Message(byte[] key, byte[] value, byte[] status, byte[] metric) {
    }

    /** What a failure means for the batch. */
    enum Kind {
        /** The broker or the network may get better: send again later (a timeout, no leader, the broker down). */
        RETRIABLE,
        /** The record is over the producer's or the broker's size limit. */
        TOO_LARGE,
        /** SASL or TLS authentication failed, or an ACL refuses us the topic or the cluster. */
        AUTH,
        /** The broker refuses this record as it is (an invalid record); sending it again will not help. */
        REJECTED,
        /** Anything else (a configuration the broker refuses, a producer in a fatal state). */
        FAILED
    }

    /**
     * A record that was not acknowledged: its index in the batch, what it means, the client's
     * exception class (simple name) and message. A record the client was not asked to send because
     * an earlier {@code send} failed is not listed; the failure of that earlier one stands for it.
     */
    record Failure(int index, Kind kind, String exception, String message) {
    }

    /**
     * Sends {@code messages} to {@code topic} in order and waits until each is acknowledged
     * (acks=all) or has failed, or the wait is over (a {@link Kind#RETRIABLE} failure for each record
     * still in flight; called again with the same batch, it waits for those records rather than
     * sending them again).
     *
     * @return the failures; empty if and only if every record was acknowledged
     */
    List<Failure> send(String topic, List<Message> messages) throws InterruptedException;

    /** Stops the client's threads and frees its buffers; aborts a send in progress. */
    @Override
    void close();
}
