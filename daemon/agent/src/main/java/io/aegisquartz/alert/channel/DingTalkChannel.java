package io.aegisquartz.alert.channel;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.time.Clock;
import java.util.Base64;
import java.util.Map;

/**
 * A DingTalk (钉钉) custom robot: {@code {"msgtype":"markdown","markdown":{"title":..,"text":..}}}
 * posted to its webhook URL (https://oapi.dingtalk.com/robot/send?access_token=TOKEN). With a signing
 * secret (the robot's 加签 setting, SEC...), the request carries {@code timestamp} (epoch ms) and
 * {@code sign} query parameters: the URL-encoded Base64 of HmacSHA256 over {@code timestamp + "\n" +
 * secret}, keyed with the secret, as DingTalk documents it. DingTalk refuses a timestamp more than an
 * hour off. The answer's {@code errcode} is 0 when it was delivered.
 */
final class DingTalkChannel implements Channel {

    static final int MAX_TEXT_BYTES = 20_000;

    private final String name;
    private final HttpPoster http;
    private final String secret;
    private final MessageText text;
    private final Clock clock;

    DingTalkChannel(String name, HttpPoster http, String secret, MessageText text, Clock clock) {
        this.name = name;
        this.http = http;
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
        return "dingtalk";
    }

    /** The sign query value for {@code timestampMillis}: URL-encoded Base64 of HmacSHA256(secret, timestamp + "\n" + secret). */
    static String sign(long timestampMillis, String secret) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            byte[] h = mac.doFinal((timestampMillis + "\n" + secret).getBytes(StandardCharsets.UTF_8));
            return URLEncoder.encode(Base64.getEncoder().encodeToString(h), StandardCharsets.UTF_8);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is not available: " + e.getMessage());
        }
    }

    @Override
    public void send(Notification n) throws DeliveryException {
        String title = text.title(n, MessageText::neutral);
        StringBuilder md = new StringBuilder("#### ").append(title).append("\n\n");
        for (String l : text.lines(n, MessageText::neutral)) {
            md.append("- ").append(l).append('\n');
        }
        md.append("\nid ").append(n.id());
        ObjectNode body = JsonNodeFactory.instance.objectNode().put("msgtype", "markdown");
        body.putObject("markdown").put("title", title).put("text", MessageText.fitBytes(md.toString(), MAX_TEXT_BYTES));
        String query = "";
        if (secret != null) {
            long ts = clock.millis();
            query = "timestamp=" + ts + "&sign=" + sign(ts, secret);
        }
        WeComChannel.robotAnswer("DingTalk", http, http.post(query, body.toString(), Map.of()));
    }

    @Override
    public void close() {
        http.close();
    }
}
