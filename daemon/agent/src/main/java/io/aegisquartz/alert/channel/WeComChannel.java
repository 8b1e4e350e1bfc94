package io.aegisquartz.alert.channel;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.Map;

/**
 * A WeCom (企业微信) group robot: {@code {"msgtype":"markdown","markdown":{"content":"..."}}} posted to the
 * robot's webhook URL (https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY); the answer's
 * {@code errcode} is 0 when it was delivered. Markdown content is at most 4,096 bytes of UTF-8.
 */
final class WeComChannel implements Channel {

    static final int MAX_CONTENT_BYTES = 4096;
    /** Made at the first answer to read, not with the channel: an agent that never notifies never loads it. */
    private static final class Json {
        static final ObjectMapper MAPPER = new ObjectMapper();
    }

    private final String name;
    private final HttpPoster http;
    private final MessageText text;

    WeComChannel(String name, HttpPoster http, MessageText text) {
        this.name = name;
        this.http = http;
        this.text = text;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String type() {
        return "wecom";
    }

    /** The markdown: bold title, one quoted line per event. */
    String content(Notification n) {
        StringBuilder sb = new StringBuilder("**").append(text.title(n, MessageText::neutral)).append("**\n");
        for (String l : text.lines(n, MessageText::neutral)) {
            sb.append("> ").append(l).append('\n');
        }
        sb.append("<font color=\"comment\">id ").append(n.id()).append("</font>");
        return MessageText.fitBytes(sb.toString(), MAX_CONTENT_BYTES);
    }

    @Override
    public void send(Notification n) throws DeliveryException {
        ObjectNode body = JsonNodeFactory.instance.objectNode().put("msgtype", "markdown");
        body.putObject("markdown").put("content", content(n));
        robotAnswer("WeCom", http, http.post("", body.toString(), Map.of()));
    }

    /** WeCom and DingTalk answer 200 with {"errcode":0,"errmsg":"ok"} when they took the message. */
    static void robotAnswer(String who, HttpPoster http, HttpPoster.Answer a) throws DeliveryException {
        if (a.status() / 100 != 2) {
            throw new DeliveryException(who + " robot at " + http.where() + " answered HTTP " + a.status() + ": " + HttpPoster.quote(a.body()));
        }
        JsonNode reply;
        try {
            reply = Json.MAPPER.readTree(a.body());
        } catch (Exception e) {
            throw new DeliveryException(who + " robot at " + http.where() + " answered with something that is not JSON: " + HttpPoster.quote(a.body()));
        }
        JsonNode code = reply == null ? null : reply.get("errcode");
        if (code == null || code.asInt(-1) != 0) {
            throw new DeliveryException(who + " robot at " + http.where() + " refused the message: " + HttpPoster.quote(a.body()));
        }
    }

    @Override
    public void close() {
        http.close();
    }
}
