package io.aegisquartz.output.http;

import io.aegisquartz.config.Endpoints;
import org.apache.hc.client5.http.classic.methods.HttpPost;
import org.apache.hc.client5.http.config.ConnectionConfig;
import org.apache.hc.client5.http.config.RequestConfig;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManagerBuilder;
import org.apache.hc.client5.http.ssl.DefaultClientTlsStrategy;
import org.apache.hc.core5.http.ContentType;
import org.apache.hc.core5.http.Header;
import org.apache.hc.core5.http.io.entity.ByteArrayEntity;
import org.apache.hc.core5.io.CloseMode;
import org.apache.hc.core5.util.Timeout;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Map;

/**
 * What every HTTP output shares: one connection to its endpoint over verified TLS (the system trust
 * store or a CA file, an optional client certificate), timeouts, no automatic retries or redirects
 * (the worker retries, and a signed request must never be replayed by a library), a bounded response
 * body, and Retry-After read as the RFC says (seconds or an HTTP date).
 */
public final class HttpTransport implements AutoCloseable {

    /** A response: its status, Retry-After if given (else null), and at most {@link #MAX_RESPONSE_BYTES} of its body. */
    public record Response(int status, Duration retryAfter, byte[] body) {
    }

    /** Bodies of answers are read up to this size; an answer is a verdict, not data. */
    public static final int MAX_RESPONSE_BYTES = 64 * 1024;

    private final URI endpoint;
    private final CloseableHttpClient http;

    /**
     * @throws IOException if the endpoint is not allowed (plain http other than to loopback when
     *                     allowed) or the CA file or client keystore is unusable
     */
    public HttpTransport(URI endpoint, boolean allowHttpLoopback, Path caFile, Path clientKeystore, Path clientKeystorePasswordFile,
                         Duration timeout) throws IOException {
        String problem = Endpoints.problem(endpoint, allowHttpLoopback);
        if (problem != null) {
            throw new IOException(problem);
        }
        this.endpoint = endpoint;
        Timeout t = Timeout.of(timeout);
        // No cookies, auth cache, response decompression or connection state: none of them is used (auth is a
        // header we set, answers are short verdicts, there is one route), and each is code run on every send,
        // which on an idle agent is mostly interpreted code: about 0.2 ms less of a tiny send's 1.5 ms of thread CPU
        // (measured beside the builder's defaults, sends 2-100 of fresh JVMs, docs/BENCHMARKS.md output-idle).
        this.http = HttpClients.custom()
                .disableCookieManagement()
                .disableAuthCaching()
                .disableContentCompression()
                .disableConnectionState()
                .setConnectionManager(PoolingHttpClientConnectionManagerBuilder.create()
                        .setTlsSocketStrategy(new DefaultClientTlsStrategy(TrustStores.context(caFile, clientKeystore,
                                clientKeystorePasswordFile)))
                        .setDefaultConnectionConfig(ConnectionConfig.custom().setConnectTimeout(t).setSocketTimeout(t).build())
                        .setMaxConnTotal(1)
                        .setMaxConnPerRoute(1)
                        .build())
                .setDefaultRequestConfig(RequestConfig.custom().setResponseTimeout(t).build())
                .disableAutomaticRetries()
                .disableRedirectHandling()
                .setUserAgent("aegis-quartz")
                .build();
    }

    public URI endpoint() {
        return endpoint;
    }

    /** The request target as signed: the raw path (or "/") and query. */
    public String target() {
        String path = endpoint.getRawPath() == null || endpoint.getRawPath().isEmpty() ? "/" : endpoint.getRawPath();
        return endpoint.getRawQuery() == null ? path : path + "?" + endpoint.getRawQuery();
    }

    /** POSTs {@code body} with {@code headers}; throws when there is no answer (connect, TLS, timeout). */
    public Response post(Map<String, String> headers, byte[] body, ContentType type) throws IOException {
        HttpPost post = new HttpPost(endpoint);
        headers.forEach(post::setHeader);
        post.setEntity(new ByteArrayEntity(body, type));
        return http.execute(post, response -> {
            byte[] b = new byte[0];
            if (response.getEntity() != null) {
                try (InputStream in = response.getEntity().getContent()) {
                    b = in.readNBytes(MAX_RESPONSE_BYTES);
                }
            }
            return new Response(response.getCode(), retryAfter(response.getFirstHeader("Retry-After")), b);
        });
    }

    /** Retry-After as seconds or an HTTP date (RFC 9110), or null if absent or unreadable. */
    static Duration retryAfter(Header h) {
        if (h == null) {
            return null;
        }
        String v = h.getValue().strip();
        try {
            return Duration.ofSeconds(Math.max(0, Long.parseLong(v)));
        } catch (NumberFormatException e) {
            try {
                long at = ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant().toEpochMilli();
                return Duration.ofMillis(Math.max(0, at - System.currentTimeMillis()));
            } catch (DateTimeParseException e2) {
                return null;
            }
        }
    }

    /** Closes the connection at once, aborting a request in flight, so a stop never waits out a slow server. */
    @Override
    public void close() {
        http.close(CloseMode.IMMEDIATE);
    }
}
