package io.aegisquartz.alert.channel;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.Map;

/**
 * A Slack incoming webhook, or anything that accepts its payload (Mattermost, Rocket.Chat):
 * {@code {"text": "..."}} with the title in bold. Slack answers 200 "ok"; any other 2xx is taken as
 * delivered too (Mattermost answers "ok", Rocket.Chat JSON). Plugin text has {@code & < >} escaped as
 * Slack asks, so that it cannot make a link or mention ({@code <!channel>}).
 */
final class SlackChannel implements Channel {

    /** Slack truncates messages past 40,000 characters. */
    static final int MAX_TEXT = 39_000;

    private final String name;
    private final HttpPoster http;
    private final MessageText text;

    SlackChannel(String name, HttpPoster http, MessageText text) {
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
        return "slack";
    }

    static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }

    String payloadText(Notification n) {
        StringBuilder sb = new StringBuilder("*").append(escape(text.title(n))).append("*\n");
        for (String l : text.lines(n)) {
            sb.append("\u2022 ").append(escape(l)).append('\n');
        }
        sb.append("id ").append(n.id());
        String t = sb.toString();
        return t.length() > MAX_TEXT ? t.substring(0, MAX_TEXT) + "\n... (cut)" : t;
    }

    @Override
    public void send(Notification n) throws DeliveryException {
        ObjectNode body = JsonNodeFactory.instance.objectNode().put("text", payloadText(n));
        HttpPoster.Answer a = http.post("", body.toString(), Map.of());
        if (a.status() / 100 != 2) {
            throw new DeliveryException("Slack webhook at " + http.where() + " answered HTTP " + a.status() + ": " + HttpPoster.quote(a.body()));
        }
    }

    @Override
    public void close() {
        http.close();
    }
}
