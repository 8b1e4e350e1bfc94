package io.aegisquartz.alert.channel;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * A notification as JSON, what the webhook channel posts and the exec channel writes on standard
 * input (docs/ALERTS.md, "The JSON form"): id, host, title, text, and every event with its fields.
 */
public final class NotificationJson {


    private NotificationJson() {
    }

    public static String of(Notification n, MessageText text) {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("id", n.id());
        o.put("channel", n.channel());
        o.put("host", n.host());
        o.put("time", java.time.Instant.ofEpochMilli(n.createdMillis()).toString());
        o.put("title", text.title(n));
        o.put("text", text.plain(n));
        o.put("omitted", n.omitted());
        o.put("held_back", n.heldBack());
        ArrayNode events = o.putArray("events");
        for (AlertEvent e : n.events()) {
            ObjectNode j = events.addObject();
            j.put("kind", e.kind().wire());
            j.put("host", e.host());
            j.put("job", e.job());
            j.put("metric", e.metric());
            j.put("status", e.status());
            j.put("previous", e.previous());
            j.put("message", e.message());
            j.put("since", e.sinceMillis() > 0 ? java.time.Instant.ofEpochMilli(e.sinceMillis()).toString() : "");
            j.put("time", java.time.Instant.ofEpochMilli(e.timeMillis()).toString());
            j.put("value", e.value());
            j.put("lasted_ms", e.lastedMillis());
            j.put("text", text.line(e));
        }
        return o.toString();
    }
}
