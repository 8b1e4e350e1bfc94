package io.aegisquartz.alert.channel;

import io.aegisquartz.output.aegis.RequestSigning;

import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Any HTTP endpoint: the notification's JSON form ({@link NotificationJson}) posted to the URL; any 2xx
 * is delivered. With a secret the request is signed as our upload protocol signs a batch
 * (docs/PROTOCOL.md): the same headers and string to sign, the notification id in the batch id's place,
 * so a receiver can check it with the same code and drop a repeat by id.
 */
final class WebhookChannel implements Channel {

    public static final String HEADER_ID = "X-Aegis-Notification-Id";

    private final String name;
    private final HttpPoster http;
    private final String target;
    private final String secret;
    private final MessageText text;
    private final Clock clock;

    WebhookChannel(String name, HttpPoster http, java.net.URI url, String secret, MessageText text, Clock clock) {
        this.name = name;
        this.http = http;
        String path = url.getRawPath() == null || url.getRawPath().isEmpty() ? "/" : url.getRawPath();
        this.target = url.getRawQuery() == null ? path : path + "?" + url.getRawQuery();
        this.secret = secret;
        this.text = text;
        this.clock = clock;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String type() {
        return "webhook";
    }

    @Override
    public void send(Notification n) throws DeliveryException {
        String body = NotificationJson.of(n, text);
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put(HEADER_ID, n.id());
        if (secret != null) {
            long ts = clock.millis() / 1000;
            String nonce = RequestSigning.newNonce();
            String hash = RequestSigning.sha256Hex(body.getBytes(StandardCharsets.UTF_8));
            headers.put(RequestSigning.HEADER_TIMESTAMP, Long.toString(ts));
            headers.put(RequestSigning.HEADER_NONCE, nonce);
            headers.put(RequestSigning.HEADER_CONTENT_SHA256, hash);
            headers.put(RequestSigning.HEADER_BATCH_ID, n.id());
            headers.put(RequestSigning.HEADER_SIGNATURE,
                    RequestSigning.sign(secret, RequestSigning.stringToSign("POST", target, ts, nonce, hash, n.id())));
        }
        HttpPoster.Answer a = http.post("", body, headers);
        if (a.status() / 100 != 2) {
            throw new DeliveryException("webhook at " + http.where() + " answered HTTP " + a.status() + ": " + HttpPoster.quote(a.body()));
        }
    }

    @Override
    public void close() {
        http.close();
    }
}
