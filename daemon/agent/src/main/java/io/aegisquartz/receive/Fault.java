package io.aegisquartz.receive;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * A wrong answer the reference receiver can be told to give on purpose ({@code aegis-quartz receive
 * --faults}), so that an agent can be tested against every failure the protocol allows
 * (docs/PROTOCOL.md, "Fault injection"). Each one, except {@link #SLOW}, is applied to a request that
 * passed every check (its nonce is recorded, as for any signed request), in place of storing it.
 */
public enum Fault {
    S500("500", 500, 0, "500"),
    S503("503", 503, 0, "503 without Retry-After"),
    S503_RETRY_AFTER("503-retry-after", 503, Fault.RETRY_AFTER_SECONDS, "503 with Retry-After: 2"),
    S429("429", 429, 0, "429 without Retry-After"),
    S429_RETRY_AFTER("429-retry-after", 429, Fault.RETRY_AFTER_SECONDS, "429 with Retry-After: 2"),
    S401("401", 401, 0, "401"),
    S403("403", 403, 0, "403"),
    S413("413", 413, 0, "413 (batch too large)"),
    S400("400", 400, 0, "400 without a rejected list"),
    S400_REJECTED("400-rejected", 400, 0, "400, rejected list naming the first sample (index 0, its id)"),
    S400_BAD_INDEX("400-bad-index", 400, 0, "400, rejected list naming an index past the end"),
    S400_WRONG_ID("400-wrong-id", 400, 0, "400, rejected list naming index 0 with another id"),
    S400_EMPTY("400-empty", 400, 0, "400 with an empty rejected list"),
    CLOSE_BEFORE_STORE("close-before-store", 0, 0, "connection closed without an answer, nothing stored"),
    CLOSE_AFTER_STORE("close-after-store", 0, 0, "stored, then connection closed without an answer"),
    SLOW("slow", 0, 0, "handled normally, after --fault-delay");

    /** The Retry-After of the {@code -retry-after} variants, in seconds. */
    public static final int RETRY_AFTER_SECONDS = 2;

    private final String id;
    private final int status;
    private final int retryAfter;
    private final String description;

    Fault(String id, int status, int retryAfter, String description) {
        this.id = id;
        this.status = status;
        this.retryAfter = retryAfter;
        this.description = description;
    }

    /** The name used on the command line and in the log. */
    public String id() {
        return id;
    }

    /** The status answered, or 0 for a fault that answers no status of its own. */
    int status() {
        return status;
    }

    /** Retry-After seconds to send, or 0 for none. */
    int retryAfter() {
        return retryAfter;
    }

    /** True for the faults that close the connection instead of answering. */
    boolean closes() {
        return this == CLOSE_BEFORE_STORE || this == CLOSE_AFTER_STORE;
    }

    /** One line per fault, for --help. */
    public static String describeAll() {
        return Arrays.stream(values()).map(f -> String.format("  %-19s %s", f.id, f.description)).collect(Collectors.joining("\n"));
    }

    /**
     * A comma-separated list of fault names, or {@code all} for every fault in declaration order.
     *
     * @throws IllegalArgumentException naming the unknown fault and the known ones
     */
    public static List<Fault> parseList(String text) {
        if (text.strip().equalsIgnoreCase("all")) {
            return List.of(values());
        }
        List<Fault> out = new ArrayList<>();
        for (String part : text.split(",")) {
            String name = part.strip().toLowerCase(Locale.ROOT);
            Fault f = Arrays.stream(values()).filter(v -> v.id.equals(name)).findFirst().orElseThrow(() ->
                    new IllegalArgumentException("unknown fault '" + part.strip() + "'; known: all, "
                            + Arrays.stream(values()).map(Fault::id).collect(Collectors.joining(", "))));
            out.add(f);
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("no fault named");
        }
        return List.copyOf(out);
    }
}
