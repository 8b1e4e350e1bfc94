package io.aegisquartz.output;

import java.io.IOException;
import java.util.List;

/**
 * A destination: turns a batch of samples into what its backend takes, and sends it. That is all it
 * does; batching, linger, rate, retries with backoff, splitting, dead letters, the live lane, the
 * log lines of an outage and the output's state are the {@link OutputWorker}'s, the same for every
 * output. One worker thread calls {@link #encode} and {@link #send}; {@link #close} may come from
 * another thread and must abort a send in progress.
 *
 * @param <E> the encoded batch
 */
public interface Output<E> extends AutoCloseable {

    /** The name in the config ({@code [output.NAME]}), the logs and the spool. */
    String name();

    /** The type in the config: aegis, file, ... */
    String type();

    /** The batch as its backend takes it (items in order; never empty). */
    E encode(List<Item> items);

    /** An id of the encoded batch for the log and the dead-letter file, or null. */
    default String batchId(E encoded) {
        return null;
    }

    /**
     * Sends one batch and classifies the answer.
     *
     * @throws IOException when the backend could not be reached or did not answer (a retry with backoff)
     */
    SendResult send(E encoded) throws IOException, InterruptedException;

    /**
     * Whether the backend stores samples whatever their order, so that the newest may be sent
     * ahead of a backlog (the live lane) and again, in order, later.
     */
    default boolean acceptsOutOfOrder() {
        return false;
    }

    /**
     * Whether {@code refusal}, the answer to items this output had already sent once (they were in
     * flight when the previous agent stopped), means that the backend has them: Prometheus refuses a
     * sample it stored, sent again once newer ones followed it, as out of order. The worker then counts
     * such an item as a duplicate instead of dead-lettering it.
     */
    default boolean refusedBecauseStored(SendResult.Rejected refusal) {
        return false;
    }

    /** Releases connections and files; aborts a send in progress. */
    @Override
    void close();
}
