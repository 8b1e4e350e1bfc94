package io.aegisquartz.receive;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.time.format.ResolverStyle;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A decompressed upload body: {@code {"batch_id": "...", "samples": [...]}}, with every sample checked
 * and kept as the bytes it arrived as, so the stored line is what the agent sent.
 */
final class Batch {

    /** Statuses a stored sample may carry: those of docs/SAMPLES.md plus {@code dropped}, for spool losses. */
    static final Set<String> STATUSES = Set.of("ok", "warning", "critical", "unknown", "error", "timeout", "cpu_limit",
            "mem_limit", "killed", "skipped", "dropped");
    private static final Pattern METRIC = Pattern.compile("[A-Za-z_][A-Za-z0-9_.:-]{0,199}");
    private static final Pattern TIME = Pattern.compile("\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z");
    private static final DateTimeFormatter TIME_STRICT = DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSS'Z'")
            .withResolverStyle(ResolverStyle.STRICT);
    /** Ids are stored in memory for deduplication; an unbounded id would be an unbounded entry. Counted in code points. */
    static final int MAX_ID_LENGTH = 200;

    private static final ObjectMapper MAPPER = new ObjectMapper(JsonFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build());

    /**
     * One valid sample: its id and its JSON, on one line, and the host it says it comes from
     * ({@code host_uuid} and {@code hostname}, empty when absent or not strings: for the silence check).
     */
    record Sample(String id, String json, String hostUuid, String hostname) {
    }

    /** One invalid sample: where it is in the batch and why. */
    record Rejection(String id, int index, String reason) {
    }

    /** The body is not a batch at all; the whole request is answered 400. */
    static final class MalformedException extends Exception {
        private static final long serialVersionUID = 1L;

        MalformedException(String message) {
            super(message);
        }
    }

    private final String batchId;
    private final List<Sample> samples;
    private final List<Rejection> rejected;

    private Batch(String batchId, List<Sample> samples, List<Rejection> rejected) {
        this.batchId = batchId;
        this.samples = samples;
        this.rejected = rejected;
    }

    String batchId() {
        return batchId;
    }

    List<Sample> samples() {
        return samples;
    }

    List<Rejection> rejected() {
        return rejected;
    }

    /**
     * Parses a batch body. Unknown top-level fields are ignored (later versions may add some).
     *
     * @param maxSamples more samples than this is a {@link MalformedException} naming the limit
     */
    static Batch parse(byte[] json, int maxSamples) throws MalformedException {
        String batchId = null;
        List<Sample> samples = null;
        List<Rejection> rejected = new ArrayList<>();
        try (JsonParser p = MAPPER.createParser(json)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new MalformedException("body is not a JSON object");
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken t = p.nextToken();
                if (field.equals("batch_id")) {
                    if (t != JsonToken.VALUE_STRING) {
                        throw new MalformedException("batch_id is not a string");
                    }
                    batchId = p.getText();
                } else if (field.equals("samples")) {
                    if (t != JsonToken.START_ARRAY) {
                        throw new MalformedException("samples is not an array");
                    }
                    samples = new ArrayList<>();
                    int index = 0;
                    while (p.nextToken() != JsonToken.END_ARRAY) {
                        if (index >= maxSamples) {
                            throw new MalformedException("batch has more than " + maxSamples + " samples");
                        }
                        readSample(p, json, index++, samples, rejected);
                    }
                } else {
                    p.skipChildren();
                }
            }
            if (p.nextToken() != null) {
                throw new MalformedException("unexpected data after the JSON object");
            }
        } catch (IOException e) {
            throw new MalformedException("body is not valid JSON: " + firstLine(e.getMessage()));
        }
        if (batchId == null) {
            throw new MalformedException("batch_id is missing");
        }
        if (samples == null) {
            throw new MalformedException("samples is missing");
        }
        return new Batch(batchId, samples, rejected);
    }

    private static void readSample(JsonParser p, byte[] json, int index, List<Sample> samples, List<Rejection> rejected)
            throws IOException {
        if (p.currentToken() != JsonToken.START_OBJECT) {
            p.skipChildren();
            rejected.add(new Rejection(null, index, "not a JSON object"));
            return;
        }
        long start = p.currentTokenLocation().getByteOffset();
        JsonNode node = MAPPER.readTree(p);
        long end = p.currentTokenLocation().getByteOffset() + 1; // just past the closing '}'
        JsonNode idNode = node.get("id");
        String id = idNode != null && idNode.isTextual() ? idNode.textValue() : null;
        String reason = problem(node, id);
        if (reason != null) {
            rejected.add(new Rejection(id, index, reason));
            return;
        }
        String raw = start >= 0 && end <= json.length ? new String(json, (int) start, (int) (end - start), StandardCharsets.UTF_8) : null;
        // Keep the bytes as sent unless they span lines (pretty-printed): a stored sample is one line.
        String line = raw != null && raw.indexOf('\n') < 0 && raw.indexOf('\r') < 0 ? raw : node.toString();
        samples.add(new Sample(id, line, text(node.get("host_uuid")), text(node.get("hostname"))));
    }

    /** Why the sample cannot be stored, or null. */
    private static String problem(JsonNode s, String id) {
        if (id == null) {
            return "id is missing or not a string";
        }
        if (id.isEmpty() || id.codePointCount(0, id.length()) > MAX_ID_LENGTH) {
            return "id must be 1-" + MAX_ID_LENGTH + " characters (Unicode code points)";
        }
        JsonNode time = s.get("time");
        if (time == null || !time.isTextual()) {
            return "time is missing or not a string";
        }
        if (!TIME.matcher(time.textValue()).matches() || !parses(time.textValue())) {
            return "time is not YYYY-MM-DDTHH:MM:SS.mmmZ";
        }
        JsonNode metric = s.get("metric");
        if (metric == null || !metric.isTextual()) {
            return "metric is missing or not a string";
        }
        if (!METRIC.matcher(metric.textValue()).matches()) {
            return "metric does not match [A-Za-z_][A-Za-z0-9_.:-]{0,199}";
        }
        JsonNode status = s.get("status");
        if (status == null || !status.isTextual()) {
            return "status is missing or not a string";
        }
        if (!STATUSES.contains(status.textValue())) {
            return "status '" + abbreviate(status.textValue()) + "' is not one of " + String.join(" ", STATUSES.stream().sorted().toList());
        }
        return null;
    }

    /**
     * A real date and time: Instant.parse alone would also take 24:00:00 and a leap second 23:59:60,
     * which no agent writes and docs/PROTOCOL.md does not allow.
     */
    private static boolean parses(String time) {
        try {
            TIME_STRICT.parse(time);
            return true;
        } catch (DateTimeParseException e) {
            return false;
        }
    }

    private static String text(JsonNode n) {
        return n != null && n.isTextual() ? n.textValue() : "";
    }

    private static String abbreviate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 40) + "...";
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
