package io.aegisquartz.alert.channel;

import io.aegisquartz.output.http.TrustStores;
import org.apache.hc.client5.http.classic.methods.HttpPost;
import org.apache.hc.client5.http.config.ConnectionConfig;
import org.apache.hc.client5.http.config.RequestConfig;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManagerBuilder;
import org.apache.hc.client5.http.ssl.DefaultClientTlsStrategy;
import org.apache.hc.core5.http.ContentType;
import org.apache.hc.core5.http.io.entity.ByteArrayEntity;
import org.apache.hc.core5.util.Timeout;

import javax.net.ssl.SSLException;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * POSTs a JSON body to a channel's URL and reads the answer (at most 64 KiB): TLS verified against the
 * system trust store or the channel's ca_file, no redirects (a redirect could carry the request
 * elsewhere), no retries of its own (the outbox retries), one connection. Errors name the channel and
 * the host, never the URL: for WeCom, DingTalk and Slack the URL is the secret.
 */
final class HttpPoster implements AutoCloseable {

    /** An answer: status and body text. */
    record Answer(int status, String body) {
    }

    static final int MAX_ANSWER = 64 * 1024;

    private final URI url;
    private final Path caFile;
    private final Duration timeout;
    /** Made at the first message: a channel that never sends never loads HttpClient or the TLS provider. */
    private CloseableHttpClient http;

    HttpPoster(URI url, Path caFile, Duration timeout) throws IOException {
        this.url = url;
        this.caFile = caFile;
        this.timeout = timeout;
        if (caFile != null) {
            TrustStores.certificates(caFile); // a bad ca_file is a config error at start and in check-config, not at the first alert
        }
    }

    private synchronized CloseableHttpClient http() throws IOException {
        if (http != null) {
            return http;
        }
        Timeout t = Timeout.of(timeout);
        http = HttpClients.custom()
                .setConnectionManager(PoolingHttpClientConnectionManagerBuilder.create()
                        .setTlsSocketStrategy(new DefaultClientTlsStrategy(TrustStores.context(caFile, null, null)))
                        .setDefaultConnectionConfig(ConnectionConfig.custom().setConnectTimeout(t).setSocketTimeout(t).build())
                        .setMaxConnTotal(1)
                        .setMaxConnPerRoute(1)
                        .build())
                .setDefaultRequestConfig(RequestConfig.custom().setResponseTimeout(t).build())
                .disableAutomaticRetries()
                .disableRedirectHandling()
                .disableCookieManagement()
                .setUserAgent("aegis-quartz")
                .build();
        return http;
    }

    /** Where the channel posts, for messages: scheme, host and port only. */
    String where() {
        return url.getScheme() + "://" + url.getHost() + (url.getPort() > 0 ? ":" + url.getPort() : "");
    }

    /** POSTs {@code body} to the channel's URL plus {@code extraQuery} ("a=1&b=2", or empty) with {@code headers}. */
    Answer post(String extraQuery, String body, Map<String, String> headers) throws DeliveryException {
        String target = url.toString();
        if (!extraQuery.isEmpty()) {
            target += (url.getRawQuery() == null ? "?" : "&") + extraQuery;
        }
        HttpPost post = new HttpPost(target);
        headers.forEach(post::setHeader);
        post.setEntity(new ByteArrayEntity(body.getBytes(StandardCharsets.UTF_8), ContentType.APPLICATION_JSON.withCharset(StandardCharsets.UTF_8)));
        try {
            return http().execute(post, response -> {
                String text = "";
                if (response.getEntity() != null) {
                    try (InputStream in = response.getEntity().getContent()) {
                        text = new String(in.readNBytes(MAX_ANSWER), StandardCharsets.UTF_8);
                    }
                }
                return new Answer(response.getCode(), text);
            });
        } catch (SSLException e) {
            throw new DeliveryException("TLS with " + where() + " failed: " + e.getMessage());
        } catch (IOException e) {
            throw new DeliveryException("cannot reach " + where() + ": " + e.getClass().getSimpleName()
                    + (e.getMessage() == null ? "" : ": " + strip(e.getMessage())));
        }
    }

    /** An exception's message without the URL's query (where tokens are). */
    private String strip(String message) {
        String q = url.getRawQuery();
        return q == null ? message : message.replace(q, "***");
    }

    /** The first 200 characters of an answer, escaped, for an error message. */
    static String quote(String body) {
        return MessageText.clean(body.length() > 200 ? body.substring(0, 200) + "..." : body);
    }

    @Override
    public synchronized void close() {
        if (http == null) {
            return;
        }
        try {
            http.close();
        } catch (IOException e) {
            // Closing idle connections: nothing to do about a failure.
        }
    }
}
