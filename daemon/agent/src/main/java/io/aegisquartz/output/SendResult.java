package io.aegisquartz.output;

import java.time.Duration;
import java.util.List;

/**
 * Everything a backend can tell the worker about one send. Outputs classify their backend's answers
 * into these; the worker alone decides what to do about them (retries, splits, dead letters), the
 * same way for every output.
 */
public sealed interface SendResult {

    /** Stored; {@code duplicates} of the items the backend already had. */
    record Accepted(long duplicates) implements SendResult {
    }

    /** The batch is too large for the backend: the worker splits it; a single item is dead-lettered. */
    record TooLarge(int status, String why) implements SendResult {
    }

    /**
     * Items the backend will never take, as sent: those named are dead-lettered and the rest sent
     * again; if none is named, or the list does not fit the batch (an index out of range, an id that
     * is not the id of the sample at its index), the worker finds them by halves.
     */
    record Rejected(List<Rejection> items, int status, String why) implements SendResult {
    }

    /** One refused item, by its index in the batch, with the sample id the backend gave for it (null if none). */
    record Rejection(int index, String id, String reason) {
        /** An item named by its index only (the backend gives no id). */
        public Rejection(int index, String reason) {
            this(index, null, reason);
        }
    }

    /**
     * Not stored now; send the same batch again later: after {@code after} if the backend said when
     * (Retry-After), else after the worker's backoff. {@code kind} groups failures for the log
     * ("network", "auth", "busy", "status 500"): a change of kind is a new log line.
     */
    record Retry(Duration after, String why, String kind) implements SendResult {
    }
}
