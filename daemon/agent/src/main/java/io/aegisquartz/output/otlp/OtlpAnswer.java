package io.aegisquartz.output.otlp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * What an OTLP/HTTP server says in its answer's body: of a success, the partial success
 * ({@code ExportMetricsServiceResponse.partial_success}: data points rejected and why); of a failure,
 * the {@code google.rpc.Status} message. Read from protobuf or JSON, as the request was sent; a body
 * that cannot be read is taken as saying nothing.
 *
 * @param rejectedPoints data points the server rejected (0 if none or not said)
 * @param message        its message, or empty
 */
public record OtlpAnswer(long rejectedPoints, String message) {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final OtlpAnswer NOTHING = new OtlpAnswer(0, "");

    /** The partial success of a 2xx answer. */
    public static OtlpAnswer success(byte[] body, boolean json) {
        try {
            if (json) {
                JsonNode p = JSON.readTree(body).path("partialSuccess");
                return new OtlpAnswer(p.path("rejectedDataPoints").asLong(0), p.path("errorMessage").asText(""));
            }
            byte[] partial = field(body, 1);
            if (partial == null) {
                return NOTHING;
            }
            Proto p = new Proto(partial);
            long rejected = 0;
            String message = "";
            while (p.more()) {
                int tag = (int) p.varint();
                if (tag == (1 << 3)) {
                    rejected = p.varint();
                } else if (tag == (2 << 3 | 2)) {
                    message = new String(p.bytes(), StandardCharsets.UTF_8);
                } else {
                    p.skip(tag & 7);
                }
            }
            return new OtlpAnswer(rejected, message);
        } catch (IOException | RuntimeException e) {
            return NOTHING;
        }
    }

    /** The message of a failure's {@code google.rpc.Status}, or empty. */
    public static String failure(byte[] body, boolean json) {
        try {
            if (json) {
                return JSON.readTree(body).path("message").asText("");
            }
            byte[] m = field(body, 2);
            return m == null ? "" : new String(m, StandardCharsets.UTF_8);
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }

    /** The last length-delimited field {@code number} of a message, or null. */
    private static byte[] field(byte[] message, int number) {
        Proto p = new Proto(message);
        byte[] found = null;
        while (p.more()) {
            int tag = (int) p.varint();
            if (tag == (number << 3 | 2)) {
                found = p.bytes();
            } else {
                p.skip(tag & 7);
            }
        }
        return found;
    }

    /** Just enough of the protobuf wire format to walk a message; throws on a malformed one. */
    private static final class Proto {
        private final byte[] b;
        private int i;

        Proto(byte[] b) {
            this.b = b;
        }

        boolean more() {
            return i < b.length;
        }

        long varint() {
            long v = 0;
            for (int shift = 0; shift < 64; shift += 7) {
                byte x = b[i++];
                v |= (long) (x & 0x7f) << shift;
                if (x >= 0) {
                    return v;
                }
            }
            throw new IllegalArgumentException("varint too long");
        }

        byte[] bytes() {
            int n = (int) varint();
            if (n < 0 || n > b.length - i) {
                throw new IllegalArgumentException("length out of range");
            }
            byte[] out = java.util.Arrays.copyOfRange(b, i, i + n);
            i += n;
            return out;
        }

        void skip(int wireType) {
            switch (wireType) {
                case 0 -> varint();
                case 1 -> i += 8;
                case 2 -> bytes();
                case 5 -> i += 4;
                default -> throw new IllegalArgumentException("wire type " + wireType);
            }
            if (i > b.length) {
                throw new IllegalArgumentException("truncated");
            }
        }
    }
}
