package io.aegisquartz.output;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What an encoder could not carry from one batch: samples it refused (by their index in the batch,
 * with the reason, for the dead-letter path) and single values it left out (counted by reason, for
 * the log). Never silent: whatever an output cannot send is in here.
 */
public final class EncodeReport {

    /** A refused sample: its index in the batch and why. */
    public record Refusal(int index, String reason) {
    }

    /** Thrown while encoding a sample that cannot be sent: the encoder rolls back what it wrote of it and refuses it. */
    public static final class Refused extends Exception {
        public Refused(String why) {
            super(why, null, false, false);
        }
    }

    private final List<Refusal> refused = new ArrayList<>();
    private final Map<String, Long> skipped = new LinkedHashMap<>();

    /** Records that the sample at {@code index} cannot be sent, and why. */
    public void refuse(int index, String reason) {
        refused.add(new Refusal(index, reason));
    }

    /** Records that one value was left out of a point, and why ("not a finite number"). */
    public void skip(String reason) {
        skipped.merge(reason, 1L, Long::sum);
    }

    public List<Refusal> refused() {
        return Collections.unmodifiableList(refused);
    }

    /** Values left out, by reason, in the order first seen. */
    public Map<String, Long> skipped() {
        return Collections.unmodifiableMap(skipped);
    }

    public long skippedTotal() {
        long n = 0;
        for (long v : skipped.values()) {
            n += v;
        }
        return n;
    }

    /**
     * The refused samples as the worker takes them (dead-lettered by index, the rest sent again, encoded
     * anew), or null if none was refused: a batch with refusals is never sent as it is.
     */
    public SendResult.Rejected rejection() {
        if (refused.isEmpty()) {
            return null;
        }
        List<SendResult.Rejection> items = new ArrayList<>(refused.size());
        for (Refusal r : refused) {
            items.add(new SendResult.Rejection(r.index(), "refused by the agent: " + r.reason()));
        }
        return new SendResult.Rejected(items, 0, refused.size() + " sample(s) of the batch cannot be sent as they are");
    }

    public boolean isClean() {
        return refused.isEmpty() && skipped.isEmpty();
    }

    /**
     * A name from a sample, as reasons quote it: in single quotes, control characters as \\uXXXX, cut
     * at 40 characters. Reasons reach the log and the dead-letter file; plugin text must not forge
     * lines there.
     */
    public static String quote(String name) {
        StringBuilder b = new StringBuilder(Math.min(name.length(), 40) + 8).append('\'');
        int n = Math.min(name.length(), 40);
        for (int i = 0; i < n; i++) {
            char c = name.charAt(i);
            if (Character.isISOControl(c) || Character.isSurrogate(c) || c == '\u2028' || c == '\u2029') {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        if (name.length() > 40) {
            b.append("...");
        }
        return b.append('\'').toString();
    }
}
