package io.aegisquartz.output.prometheus;

import io.aegisquartz.output.SendResult;
import io.aegisquartz.output.http.BackendOutput;
import io.aegisquartz.output.http.HttpAuth;
import io.aegisquartz.output.http.HttpTransport;
import org.apache.hc.core5.http.ContentType;

import java.util.List;
import java.util.Map;

/**
 * Prometheus remote write 1.0 (docs/OUTPUTS.md, "prometheus"): protobuf, snappy, version header
 * 0.1.0, to Prometheus with {@code --web.enable-remote-write-receiver} or VictoriaMetrics'
 * {@code /api/v1/write}. Prometheus stores a request whole or not at all: a 400 (a sample out of
 * order, older than the head block, or a different value at a time it already has) is a rejection
 * that will never pass as sent, so the worker sends the batch again in halves, the rest is stored and
 * the refused sample dead-lettered, never retried forever. Never the live lane: newest samples ahead
 * of a backlog would make the backlog out of order.
 */
public final class PrometheusOutput extends BackendOutput<RemoteWriteBody> {

    public static final String TYPE = "prometheus";
    private static final ContentType PROTOBUF = ContentType.create("application/x-protobuf");

    private final RemoteWriteEncoder encoder = new RemoteWriteEncoder();

    public PrometheusOutput(String name, HttpTransport http, HttpAuth auth) {
        super(name, http, auth);
    }

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    protected RemoteWriteBody encodeSamples(List<byte[]> samples) {
        return encoder.encode(samples);
    }

    @Override
    protected ContentType contentType(RemoteWriteBody body) {
        return PROTOBUF;
    }

    @Override
    protected void headers(RemoteWriteBody body, Map<String, String> h) {
        h.put("Content-Encoding", "snappy");
        h.put("X-Prometheus-Remote-Write-Version", "0.1.0");
    }

    @Override
    protected SendResult classify(HttpTransport.Response r) {
        return classifyAnswer(r);
    }

    /**
     * Prometheus refuses a sample older than its series' newest as "out of order sample": sent again
     * after a crash, a sample it stored is refused so once the ones after it are stored too (the same
     * time and value as the newest one is taken as a duplicate).
     */
    @Override
    public boolean refusedBecauseStored(SendResult.Rejected refusal) {
        return refusal.why() != null && refusal.why().contains("out of order sample");
    }

    /** The receiver's answers (docs/OUTPUTS.md, "prometheus", "Answers"). */
    static SendResult classifyAnswer(HttpTransport.Response r) {
        if (r.status() == 400 || r.status() == 422) {
            return new SendResult.Rejected(List.of(), r.status(), "Prometheus refused the request" + said(r));
        }
        return common(r, "Prometheus");
    }
}
