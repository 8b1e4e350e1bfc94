package io.aegisquartz.output.http;

import io.aegisquartz.log.LogText;
import io.aegisquartz.output.EncodeReport;
import io.aegisquartz.output.EncodedBatch;
import io.aegisquartz.output.Item;
import io.aegisquartz.output.Output;
import io.aegisquartz.output.SendResult;
import io.aegisquartz.output.SkippedValues;
import org.apache.hc.core5.http.ContentType;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What the outputs to other people's backends (influx, prometheus, otlp) share: one HTTP POST per
 * batch over {@link HttpTransport}, the Authorization header, samples the encoder refused handed to
 * the worker before anything is sent, values it left out counted in the log, and the answers every
 * such backend gives the same way (413, 429/503 with Retry-After, 401/403, 5xx). Each subclass
 * encodes and says what its backend's other answers mean.
 *
 * @param <E> the encoded batch
 */
public abstract class BackendOutput<E extends EncodedBatch> implements Output<E> {

    private final String name;
    private final HttpTransport http;
    private final HttpAuth auth;
    private final SkippedValues skipped;

    protected BackendOutput(String name, HttpTransport http, HttpAuth auth) {
        this.name = name;
        this.http = http;
        this.auth = auth;
        this.skipped = new SkippedValues(name);
    }

    @Override
    public final String name() {
        return name;
    }

    /** The batch as the backend takes it, from the samples' JSON as stored. */
    protected abstract E encodeSamples(List<byte[]> samples);

    @Override
    public final E encode(List<Item> items) {
        List<byte[]> samples = new ArrayList<>(items.size());
        for (Item i : items) {
            samples.add(i.json());
        }
        return encodeSamples(samples);
    }

    protected abstract ContentType contentType(E body);

    /** Headers of the protocol (encoding, version), besides Authorization. */
    protected abstract void headers(E body, Map<String, String> h);

    /** What the backend's answer means. */
    protected abstract SendResult classify(HttpTransport.Response r);

    @Override
    public final SendResult send(E body) throws IOException {
        EncodeReport report = body.report();
        SendResult.Rejected refused = report.rejection();
        if (refused != null) {
            return refused;
        }
        skipped.note(report);
        if (body.points() == 0) {
            return new SendResult.Accepted(0); // nothing the backend could store: every value left out, counted above
        }
        Map<String, String> h = new LinkedHashMap<>();
        headers(body, h);
        auth.addTo(h);
        return classify(http.post(h, body.bytes(), contentType(body)));
    }

    /**
     * The answers every backend gives alike: 2xx stored; 413 too large; 429, 502, 503 and 504 busy
     * (after Retry-After if given); 401 and 403 our credentials; anything else a retry. A backend with
     * its own meaning for a status classifies it before calling this.
     */
    protected static SendResult common(HttpTransport.Response r, String backend) {
        int s = r.status();
        if (s >= 200 && s < 300) {
            return new SendResult.Accepted(0);
        }
        if (s == 413) {
            return new SendResult.TooLarge(s, backend + " refuses this batch as too large (413)");
        }
        Duration after = r.retryAfter();
        if (s == 429 || s == 502 || s == 503 || s == 504) {
            return new SendResult.Retry(after, backend + " busy (" + s + (after != null ? ", Retry-After " + after.toSeconds() + " s"
                    : "") + ")" + said(r), "busy");
        }
        if (s == 401 || s == 403) {
            return new SendResult.Retry(null, backend + " refuses our credentials (" + s + ")" + said(r)
                    + "; check auth and the credentials file", "auth");
        }
        return new SendResult.Retry(after, backend + " answered " + s + said(r), "status " + s);
    }

    /** ": " and the start of the answer's body, escaped (it may quote plugin text back), or nothing if empty. */
    protected static String said(HttpTransport.Response r) {
        String text = new String(r.body(), StandardCharsets.UTF_8).strip();
        return text.isEmpty() ? "" : ": " + LogText.escape(text, 300);
    }

    @Override
    public void close() {
        http.close();
    }
}
