package io.aegisquartz.output.kafka.client;

import io.aegisquartz.output.kafka.bridge.KafkaBridge;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.InvalidRecordException;
import org.apache.kafka.common.errors.AuthenticationException;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.RecordBatchTooLargeException;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The bridge's Kafka side: an idempotent producer (its config made by the kafka output), created at
 * the first send and again after a failure that may have left it unusable. Defined by the Kafka
 * client's class loader, never by the agent's: the agent names this class only as a string.
 */
public final class ClientBridge implements KafkaBridge {

    private final Map<String, Object> config;
    private final long waitMillis;
    private KafkaProducer<byte[], byte[]> producer;
    private volatile boolean closed;
    /** The batch of the last send that was not acknowledged in time, with its records' futures (null: not handed to the client). */
    private List<Message> pendingBatch;
    private String pendingTopic;
    private Future<RecordMetadata>[] pendingAcks;

    /**
     * {@code config}: the producer's settings (bootstrap.servers, acks, security, ...); {@code waitMillis}:
     * how long one send waits for its acknowledgements before it says "retry".
     */
    public ClientBridge(Map<String, Object> config, Long waitMillis) {
        this.config = new HashMap<>(config);
        this.waitMillis = waitMillis;
    }

    /**
     * Hands the records to the client and waits up to the wait for every acknowledgement. The client
     * retries on its own, idempotently, until the delivery timeout (no duplicate within one producer);
     * so when the wait ends first, the records stay in its hands, and the worker's retry of the same
     * batch waits for them again rather than producing them a second time: a broker that restarts
     * gets each record once.
     */
    @Override
    @SuppressWarnings("unchecked")
    public List<Failure> send(String topic, List<Message> messages) throws InterruptedException {
        KafkaProducer<byte[], byte[]> p;
        try {
            p = producer();
        } catch (RuntimeException e) {
            return List.of(failure(0, e));
        }
        Future<RecordMetadata>[] acks = topic.equals(pendingTopic) && same(pendingBatch, messages) ? pendingAcks
                : new Future[messages.size()];
        pendingBatch = null;
        pendingAcks = null;
        pendingTopic = null;
        List<Failure> failures = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            if (acks[i] != null && !(acks[i].isDone() && failedAck(acks[i]))) {
                continue; // still with the client, or acknowledged
            }
            Message m = messages.get(i);
            RecordHeaders h = new RecordHeaders();
            h.add("status", m.status());
            h.add("metric", m.metric());
            try {
                acks[i] = p.send(new ProducerRecord<>(topic, null, m.key(), m.value(), h));
            } catch (RuntimeException e) {
                // No metadata in max.block.ms (the broker down, a wrong password), or a full buffer: the records
                // after this one would each wait as long, so they are not sent; the batch is sent again later.
                acks[i] = null;
                failures.add(failure(i, e));
                break;
            }
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMillis);
        boolean inFlight = false;
        for (int i = 0; i < acks.length; i++) {
            if (acks[i] == null) {
                continue;
            }
            try {
                acks[i].get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (ExecutionException e) {
                failures.add(failure(i, e.getCause()));
            } catch (TimeoutException e) {
                inFlight = true;
                failures.add(new Failure(i, Kind.RETRIABLE, "TimeoutException", "not acknowledged in " + waitMillis
                        + " ms (the client keeps trying to deliver it)"));
            }
        }
        failures.sort((a, b) -> Integer.compare(a.index(), b.index()));
        for (Failure f : failures) {
            if (f.kind() == Kind.AUTH || f.kind() == Kind.FAILED) {
                // Authentication and fatal errors can leave the producer refusing everything: a new one next time.
                drop();
                return failures;
            }
        }
        if (inFlight || !failures.isEmpty()) {
            pendingBatch = messages;
            pendingAcks = acks;
            pendingTopic = topic;
        }
        return failures;
    }

    private static boolean failedAck(Future<RecordMetadata> f) {
        try {
            f.get();
            return false;
        } catch (ExecutionException | InterruptedException e) {
            return true;
        }
    }

    /** Whether {@code b} is the batch {@code a} again (the worker's retry): the same records, byte for byte. */
    private static boolean same(List<Message> a, List<Message> b) {
        if (a == null || a.size() != b.size()) {
            return false;
        }
        for (int i = 0; i < a.size(); i++) {
            if (!Arrays.equals(a.get(i).value(), b.get(i).value()) || !Arrays.equals(a.get(i).key(), b.get(i).key())) {
                return false;
            }
        }
        return true;
    }

    private synchronized KafkaProducer<byte[], byte[]> producer() {
        if (closed) {
            throw new IllegalStateException("the kafka output is closed");
        }
        if (producer == null) {
            Thread t = Thread.currentThread();
            ClassLoader before = t.getContextClassLoader();
            // JAAS loads the SASL login module through the context class loader, and the client's network
            // thread inherits it: both must see this loader's Kafka classes.
            t.setContextClassLoader(ClientBridge.class.getClassLoader());
            try {
                producer = new KafkaProducer<>(config, new ByteArraySerializer(), new ByteArraySerializer());
            } finally {
                t.setContextClassLoader(before);
            }
        }
        return producer;
    }

    private synchronized void drop() {
        pendingBatch = null;
        pendingAcks = null;
        pendingTopic = null;
        if (producer != null) {
            producer.close(Duration.ZERO);
            producer = null;
        }
    }

    static Failure failure(int index, Throwable t) {
        String type = t.getClass().getSimpleName();
        String message = t.getMessage() == null ? type : t.getMessage();
        return new Failure(index, kind(t), type, message);
    }

    /** The client's exception, classified (docs/OUTPUTS.md, "kafka", "Answers"). */
    static Kind kind(Throwable t) {
        if (t instanceof RecordTooLargeException || t instanceof RecordBatchTooLargeException) {
            return Kind.TOO_LARGE;
        }
        if (t instanceof AuthenticationException || t instanceof AuthorizationException) {
            return Kind.AUTH;
        }
        if (t instanceof InvalidRecordException || t instanceof SerializationException) {
            return Kind.REJECTED;
        }
        if (t instanceof RetriableException) {
            return Kind.RETRIABLE;
        }
        return Kind.FAILED;
    }

    @Override
    public void close() {
        closed = true;
        KafkaProducer<byte[], byte[]> p;
        synchronized (this) {
            p = producer;
            producer = null;
        }
        if (p != null) {
            // Not synchronized with send: closing from another thread aborts the records a send waits for.
            p.close(Duration.ZERO);
        }
    }
}
