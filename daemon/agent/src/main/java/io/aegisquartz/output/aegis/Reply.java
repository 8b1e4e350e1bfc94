package io.aegisquartz.output.aegis;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The fields of a receiver's response body the uploader acts on (docs/PROTOCOL.md): {@code duplicates}
 * of a 2xx, {@code error} and {@code rejected} of a failure.
 *
 * <p>Read with Jackson's streaming parser rather than into a tree: an ObjectMapper loads about 280
 * classes, 3-4 MB of the agent's memory, for three fields.
 *
 * @param duplicates samples the receiver already had; 0 if not given
 * @param error      the receiver's reason, or the start of a body that is not JSON; null if none
 * @param rejected   the samples a 400 names as invalid, in order; null if the body has no such list
 */
record Reply(long duplicates, String error, List<Rejection> rejected) {

    /**
     * One entry of {@code rejected}: {@code index} is -1 when it is missing or not a whole number;
     * {@code id} is null when the entry has none (or it is not a string).
     */
    record Rejection(int index, String id, String reason) {
    }

    static final Reply EMPTY = new Reply(0, null, null);

    private static final JsonFactory JSON = new JsonFactory();

    /** The reason to log: the receiver's, or a placeholder. */
    String reason() {
        return error != null ? error : "(no reason given)";
    }

    static Reply parse(byte[] body) {
        if (body.length == 0) {
            return EMPTY;
        }
        try (JsonParser p = JSON.createParser(body)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return notJson(body);
            }
            long duplicates = 0;
            String error = null;
            List<Rejection> rejected = null;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken value = p.nextToken();
                switch (field) {
                    case "duplicates" -> duplicates = value == JsonToken.VALUE_NUMBER_INT ? p.getLongValue() : 0;
                    case "error" -> error = value.isScalarValue() && value != JsonToken.VALUE_NULL ? p.getText() : skip(p, error);
                    case "rejected" -> rejected = value == JsonToken.START_ARRAY ? rejections(p) : skip(p, null);
                    default -> p.skipChildren();
                }
            }
            if (p.currentToken() != JsonToken.END_OBJECT || p.nextToken() != null) {
                return notJson(body);
            }
            return new Reply(duplicates, error, rejected);
        } catch (IOException e) {
            return notJson(body);
        }
    }

    private static List<Rejection> rejections(JsonParser p) throws IOException {
        List<Rejection> out = new ArrayList<>();
        for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken()) {
            if (t != JsonToken.START_OBJECT) {
                p.skipChildren();
                out.add(new Rejection(-1, null, null));
                continue;
            }
            int index = -1;
            String id = null;
            String reason = null;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken value = p.nextToken();
                if (field.equals("index") && value == JsonToken.VALUE_NUMBER_INT && p.getNumberType() == JsonParser.NumberType.INT) {
                    index = p.getIntValue();
                } else if (field.equals("id") && value == JsonToken.VALUE_STRING) {
                    id = p.getText();
                } else if (field.equals("reason") && value == JsonToken.VALUE_STRING) {
                    reason = p.getText();
                } else {
                    p.skipChildren();
                }
            }
            out.add(new Rejection(index, id, reason));
        }
        return out;
    }

    /** Skips a structured value and keeps what the field had. */
    private static <T> T skip(JsonParser p, T keep) throws IOException {
        p.skipChildren();
        return keep;
    }

    private static Reply notJson(byte[] body) {
        String t = new String(body, StandardCharsets.UTF_8).strip().replace('\n', ' ');
        return new Reply(0, t.length() > 200 ? t.substring(0, 200) + "..." : t, null);
    }
}
