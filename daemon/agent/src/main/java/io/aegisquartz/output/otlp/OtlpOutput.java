package io.aegisquartz.output.otlp;

import io.aegisquartz.log.LogText;
import io.aegisquartz.output.SendResult;
import io.aegisquartz.output.http.BackendOutput;
import io.aegisquartz.output.http.HttpAuth;
import io.aegisquartz.output.http.HttpTransport;
import org.apache.hc.core5.http.ContentType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * OTLP/HTTP metrics (docs/OUTPUTS.md, "otlp"), protobuf or JSON, to an OpenTelemetry Collector or
 * any OTLP receiver. Answers as the OTLP specification says: a success with a partial success
 * (some data points rejected) is not retried, as the specification requires, and its count and
 * message are logged; 400 is a rejection (the worker finds the refused sample by halves and
 * dead-letters it); 429, 502, 503 and 504 are retried, after Retry-After if given.
 */
public final class OtlpOutput extends BackendOutput<OtlpBody> {

    public static final String TYPE = "otlp";
    private static final Logger LOG = LoggerFactory.getLogger("output");

    private final OtlpEncoder encoder;
    private final boolean json;
    private final AtomicLong rejectedPoints = new AtomicLong();

    public OtlpOutput(String name, HttpTransport http, HttpAuth auth, OtlpEncoder.Encoding encoding) {
        super(name, http, auth);
        this.encoder = new OtlpEncoder(encoding);
        this.json = encoding == OtlpEncoder.Encoding.JSON;
    }

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    protected OtlpBody encodeSamples(List<byte[]> samples) {
        return encoder.encode(samples);
    }

    @Override
    protected ContentType contentType(OtlpBody body) {
        return ContentType.create(body.contentType());
    }

    @Override
    protected void headers(OtlpBody body, Map<String, String> h) {
        // no protocol headers beyond the content type
    }

    /** Data points the server said it rejected in partial successes, since the start. */
    public long rejectedPoints() {
        return rejectedPoints.get();
    }

    @Override
    protected SendResult classify(HttpTransport.Response r) {
        int s = r.status();
        if (s >= 200 && s < 300) {
            OtlpAnswer a = OtlpAnswer.success(r.body(), json);
            if (a.rejectedPoints() > 0) {
                long total = rejectedPoints.addAndGet(a.rejectedPoints());
                LOG.warn("output {}: the OTLP server stored the batch but rejected {} data point(s) of it ({} since the start): {}",
                        name(), a.rejectedPoints(), total, LogText.escape(a.message(), 300));
            }
            return new SendResult.Accepted(0);
        }
        if (s == 400) {
            String m = OtlpAnswer.failure(r.body(), json);
            return new SendResult.Rejected(List.of(), s, "the OTLP server refused the request (400)"
                    + (m.isEmpty() ? "" : ": " + LogText.escape(m, 300)));
        }
        return common(r, "the OTLP server");
    }
}
