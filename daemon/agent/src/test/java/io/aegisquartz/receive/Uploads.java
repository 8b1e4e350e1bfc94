package io.aegisquartz.receive;

import io.aegisquartz.output.aegis.Credentials;
import io.aegisquartz.output.aegis.RequestSigning;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.zip.GZIPOutputStream;

/** A minimal client side of the protocol for receiver tests: builds, signs and sends batches. */
final class Uploads {

    private Uploads() {
    }

    /** An HTTPS client that trusts only the given PEM certificate (hostname checks stay on). */
    static HttpClient client(Path pem) throws Exception {
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        try (InputStream in = Files.newInputStream(pem)) {
            trust.setCertificateEntry("receiver", CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        return HttpClient.newBuilder().sslContext(ctx).version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10)).build();
    }

    /** A valid sample in the docs/SAMPLES.md format. */
    static String sample(String id) {
        return "{\"id\":\"" + id + "\",\"time\":\"2026-11-22T01:32:30.236Z\",\"host_uuid\":\"3d1219c7-c4c5-404a-aa1f-6d2a48adfda4\","
                + "\"hostname\":\"vm\",\"job\":\"disk\",\"plugin\":\"default/sampler.groovy\",\"metric\":\"memory\",\"status\":\"ok\","
                + "\"values\":{\"used_pct\":1.49,\"total_bytes\":25325268992},\"units\":{\"used_pct\":\"%\"},\"tags\":{},"
                + "\"duration_ms\":15.87,\"cpu_ms\":15.353}";
    }

    static String newId() {
        return UUID.randomUUID().toString();
    }

    static String batchJson(String batchId, List<String> samples) {
        return "{\"batch_id\":\"" + batchId + "\",\"samples\":[" + String.join(",", samples) + "]}";
    }

    static byte[] gzip(byte[] data) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream g = new GZIPOutputStream(out)) {
            g.write(data);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    /** One request, with every part that tests may want to get wrong on purpose. */
    static final class Req {
        String keyId;
        String secret;
        String batchId = UUID.randomUUID().toString();
        byte[] body;
        long timestamp = System.currentTimeMillis() / 1000;
        String nonce = RequestSigning.newNonce();
        String contentSha;
        String target = "/aegis/v1/samples";
        /** Sent instead of {@link #body} after signing, to model tampering in transit. */
        byte[] sentBody;
        String omitHeader;

        Req(Credentials c) {
            keyId = c.accessKeyId();
            secret = c.accessKeySecret();
        }

        Req samples(List<String> samples) {
            body = gzip(batchJson(batchId, samples).getBytes(StandardCharsets.UTF_8));
            return this;
        }

        HttpRequest build(URI endpoint) {
            String sha = contentSha != null ? contentSha : RequestSigning.sha256Hex(body);
            String sig = RequestSigning.sign(secret, RequestSigning.stringToSign("POST", target, timestamp, nonce, sha, batchId));
            HttpRequest.Builder b = HttpRequest.newBuilder(endpoint.resolve(target)).timeout(Duration.ofSeconds(20))
                    .POST(HttpRequest.BodyPublishers.ofByteArray(sentBody != null ? sentBody : body))
                    .header("Content-Type", "application/json").header("Content-Encoding", "gzip");
            String[][] headers = {
                {RequestSigning.HEADER_KEY_ID, keyId}, {RequestSigning.HEADER_TIMESTAMP, Long.toString(timestamp)},
                {RequestSigning.HEADER_NONCE, nonce}, {RequestSigning.HEADER_CONTENT_SHA256, sha},
                {RequestSigning.HEADER_BATCH_ID, batchId}, {RequestSigning.HEADER_SIGNATURE, sig}};
            for (String[] h : headers) {
                if (!h[0].equals(omitHeader)) {
                    b.header(h[0], h[1]);
                }
            }
            return b.build();
        }

        HttpResponse<String> send(HttpClient client, URI endpoint) throws Exception {
            return client.send(build(endpoint), HttpResponse.BodyHandlers.ofString());
        }
    }
}
