package io.aegisquartz.output.aegis;

import io.aegisquartz.output.Item;
import io.aegisquartz.output.Output;
import io.aegisquartz.output.SendResult;
import io.aegisquartz.output.http.HttpTransport;
import org.apache.hc.core5.http.ContentType;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Our own protocol (docs/PROTOCOL.md): signed, gzipped JSON batches over HTTPS to a receiver such as
 * {@code aegis-quartz receive}. It encodes, signs, sends and reads the verdict; what to do about the
 * verdict is the worker's. The receiver drops repeated sample ids, so this output accepts samples
 * out of order (the live lane).
 */
public final class AegisOutput implements Output<BatchBody> {

    public static final String TYPE = "aegis";

    private final String name;
    private final HttpTransport http;
    private final Credentials credentials;
    private final String hostUuid;

    public AegisOutput(String name, HttpTransport http, Credentials credentials, String hostUuid) {
        this.name = name;
        this.http = http;
        this.credentials = credentials;
        this.hostUuid = hostUuid;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public boolean acceptsOutOfOrder() {
        return true;
    }

    @Override
    public BatchBody encode(List<Item> items) {
        return BatchBody.of(hostUuid, items);
    }

    @Override
    public String batchId(BatchBody body) {
        return body.batchId;
    }

    @Override
    public SendResult send(BatchBody body) throws IOException {
        long ts = System.currentTimeMillis() / 1000;
        String nonce = RequestSigning.newNonce();
        String sha = RequestSigning.sha256Hex(body.gzipped);
        String toSign = RequestSigning.stringToSign("POST", http.target(), ts, nonce, sha, body.batchId);
        Map<String, String> h = new LinkedHashMap<>();
        h.put("Content-Encoding", "gzip");
        h.put(RequestSigning.HEADER_KEY_ID, credentials.accessKeyId());
        h.put(RequestSigning.HEADER_TIMESTAMP, Long.toString(ts));
        h.put(RequestSigning.HEADER_NONCE, nonce);
        h.put(RequestSigning.HEADER_CONTENT_SHA256, sha);
        h.put(RequestSigning.HEADER_BATCH_ID, body.batchId);
        h.put(RequestSigning.HEADER_SIGNATURE, RequestSigning.sign(credentials.accessKeySecret(), toSign));
        if (credentials.bearerToken() != null) {
            h.put("Authorization", "Bearer " + credentials.bearerToken());
        }
        HttpTransport.Response r = http.post(h, body.gzipped, ContentType.APPLICATION_JSON);
        return classify(r.status(), r.retryAfter(), Reply.parse(r.body()));
    }

    /** The protocol's responses (docs/PROTOCOL.md, "What the agent does with each response"). */
    static SendResult classify(int s, java.time.Duration retryAfter, Reply reply) {
        if (s >= 200 && s < 300) {
            return new SendResult.Accepted(reply.duplicates());
        }
        if (s == 413) {
            return new SendResult.TooLarge(s, "the receiver refuses this batch as too large (413)");
        }
        if (s == 400) {
            List<SendResult.Rejection> named = new ArrayList<>();
            if (reply.rejected() != null) {
                for (Reply.Rejection n : reply.rejected()) {
                    named.add(new SendResult.Rejection(n.index(), n.id(), "rejected by the receiver: "
                            + (n.reason() != null ? n.reason() : reply.reason())));
                }
            }
            return new SendResult.Rejected(named, s, "rejected by the receiver: " + reply.reason());
        }
        if (s == 429 || s == 503) {
            return new SendResult.Retry(retryAfter, "receiver busy (" + s + (retryAfter != null ? ", Retry-After "
                    + retryAfter.toSeconds() + " s" : "") + ")", "busy");
        }
        if (s == 401 || s == 403) {
            return new SendResult.Retry(null, "the receiver refuses our credentials (" + s + "): " + reply.reason()
                    + "; check the key id and secret in the credentials file, and the clock", "auth");
        }
        return new SendResult.Retry(null, "receiver answered " + s + ": " + reply.reason(), "status " + s);
    }

    @Override
    public void close() {
        http.close();
    }
}
