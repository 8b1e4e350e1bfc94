package io.aegisquartz.output.influx;

import io.aegisquartz.output.SendResult;
import io.aegisquartz.output.http.BackendOutput;
import io.aegisquartz.output.http.HttpAuth;
import io.aegisquartz.output.http.HttpTransport;
import org.apache.hc.core5.http.ContentType;

import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Line protocol to InfluxDB 1.x ({@code /write}), 2.x ({@code /api/v2/write}) or VictoriaMetrics
 * ({@code /write}), docs/OUTPUTS.md "influx". A 400 (a line the server would not parse, a field type
 * conflict, a point outside the retention policy: InfluxDB writes the other points of the request and
 * says "partial write") is a rejection without named samples: the worker sends the batch again in
 * halves until it has the sample the server refuses, dead-letters it, and the rest is written (again:
 * a point written twice is the same point, the same series, time and fields, so InfluxDB keeps one).
 */
public final class InfluxOutput extends BackendOutput<InfluxBody> {

    public static final String TYPE = "influx";

    private final InfluxEncoder encoder;
    private final InfluxFlavour flavour;

    public InfluxOutput(String name, HttpTransport http, HttpAuth auth, InfluxFlavour flavour, InfluxPrecision precision, boolean gzip) {
        super(name, http, auth);
        this.flavour = flavour;
        this.encoder = new InfluxEncoder(flavour, precision, gzip);
    }

    /**
     * The write URL for {@code base} (scheme, host, port and any path prefix of a proxy): the flavour's
     * path and the query naming database and retention policy (1.x) or organisation and bucket (2.x),
     * and the precision.
     */
    public static URI writeUri(URI base, InfluxFlavour flavour, InfluxPrecision precision, String database, String retention, String org,
                               String bucket) {
        String path = base.getRawPath() == null ? "" : base.getRawPath().replaceAll("/+$", "");
        List<String> query = new ArrayList<>();
        switch (flavour) {
            case INFLUXDB1 -> {
                path += "/write";
                query.add("db=" + enc(database));
                if (!retention.isEmpty()) {
                    query.add("rp=" + enc(retention));
                }
            }
            case INFLUXDB2 -> {
                path += "/api/v2/write";
                query.add("org=" + enc(org));
                query.add("bucket=" + enc(bucket));
            }
            case VICTORIAMETRICS -> path += "/write";
        }
        query.add("precision=" + precision.parameter(flavour));
        String authority = base.getRawAuthority();
        return URI.create(base.getScheme() + "://" + authority + path + "?" + String.join("&", query));
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }

    @Override
    public String type() {
        return TYPE;
    }

    /**
     * InfluxDB keeps one point per series and time, so a copy sent ahead of a backlog and again later
     * is stored once. VictoriaMetrics would keep both (without its dedup flag): no live lane there.
     */
    @Override
    public boolean acceptsOutOfOrder() {
        return flavour != InfluxFlavour.VICTORIAMETRICS;
    }

    @Override
    protected InfluxBody encodeSamples(List<byte[]> samples) {
        return encoder.encode(samples);
    }

    @Override
    protected ContentType contentType(InfluxBody body) {
        return ContentType.TEXT_PLAIN.withCharset(StandardCharsets.UTF_8);
    }

    @Override
    protected void headers(InfluxBody body, Map<String, String> h) {
        if (body.gzipped()) {
            h.put("Content-Encoding", "gzip");
        }
    }

    @Override
    protected SendResult classify(HttpTransport.Response r) {
        return classify(r, flavour);
    }

    /** The server's answers (docs/OUTPUTS.md, "influx", "Answers"). */
    static SendResult classify(HttpTransport.Response r, InfluxFlavour flavour) {
        String backend = flavour == InfluxFlavour.VICTORIAMETRICS ? "VictoriaMetrics" : "InfluxDB";
        if (r.status() == 400 || r.status() == 422) {
            // 1.x and VictoriaMetrics say 400, 2.x 400 or 422 (unprocessable: a point outside the bucket's retention).
            return new SendResult.Rejected(List.of(), r.status(), backend + " refused part of the batch" + said(r));
        }
        return common(r, backend);
    }
}
