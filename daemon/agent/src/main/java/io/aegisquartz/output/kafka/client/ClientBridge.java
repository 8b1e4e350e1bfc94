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
import java.util.HashMap;
import java.util.IdentityHashMap;
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
    /**
     * Every record of the worker's current batch handed to the client, by its value (the very array the
     * worker sends again), with its acknowledgement: so that a retry, a split half or the rest after a
     * rejection waits for what the client has or had acknowledged instead of producing it again.
     * Cleared when a send shares no record with it (the worker has moved on to a new batch).
     */
    private final Map<byte[], Future<RecordMetadata>> handed = new IdentityHashMap<>();
    private String handedTopic;

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
        boolean sameBatch = topic.equals(handedTopic) && messages.stream().anyMatch(m -> handed.containsKey(m.value()));
        if (!sameBatch) {
            handed.clear();
            handedTopic = topic;
        }
        Future<RecordMetadata>[] acks = new Future[messages.size()];
        List<Failure> failures = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            Future<RecordMetadata> before = handed.get(messages.get(i).value());
            if (before != null && !(before.isDone() && failedAck(before))) {
                acks[i] = before;
                continue; // still with the client, or acknowledged: never produced twice
            }
            Message m = messages.get(i);
            RecordHeaders h = new RecordHeaders();
            h.add("status", m.status());
            h.add("metric", m.metric());
            try {
                acks[i] = p.send(new ProducerRecord<>(topic, null, m.key(), m.value(), h));
                handed.put(m.value(), acks[i]);
            } catch (RuntimeException e) {
                // No metadata in max.block.ms (the broker down, a wrong password), or a full buffer: the records
                // after this one would each wait as long, so they are not sent; the batch is sent again later.
                acks[i] = null;
                failures.add(failure(i, e));
                break;
            }
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMillis);
        for (int i = 0; i < acks.length; i++) {
            if (acks[i] == null) {
                continue;
            }
            try {
                acks[i].get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (ExecutionException e) {
                failures.add(failure(i, e.getCause()));
            } catch (TimeoutException e) {
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
        // What was acknowledged stays so; what the old producer still held is produced again by the new one.
        handed.values().removeIf(f -> !f.isDone() || failedAck(f));
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
