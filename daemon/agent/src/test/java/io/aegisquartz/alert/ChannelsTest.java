package io.aegisquartz.alert;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.aegisquartz.alert.channel.AlertEvent;
import io.aegisquartz.alert.channel.Channel;
import io.aegisquartz.alert.channel.DeliveryException;
import io.aegisquartz.alert.channel.MessageText;
import io.aegisquartz.alert.channel.Notification;
import io.aegisquartz.alert.channel.NotifyConfig;
import io.aegisquartz.testing.HookServer;
import io.aegisquartz.testing.AgentHome;
import io.aegisquartz.testing.PluginRunners;
import io.aegisquartz.testing.TestClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Each HTTP channel against a real server on loopback that checks the request as the service documents
 * it (body shape, DingTalk's signature, our upload's signature), and the exec channel with a real
 * script under the plugin runner. Chinese and English text must arrive intact.
 */
class ChannelsTest extends PluginRunners {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String TOKEN = "wecom-key-6a1f";
    private static final String DING_SECRET = "SEC0123456789abcdef";
    private static final String HOOK_SECRET = "hook-secret-42";

    @TempDir
    Path dir;

    private HookServer server;
    private final TestClock clock = new TestClock(1_780_000_000_000L);
    private final List<Channel> made = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        server = new HookServer();
    }

    @AfterEach
    void stop() {
        made.forEach(Channel::close);
        server.close();
    }

    private Map<String, Channel> channels(String ini) throws Exception {
        Path file = dir.resolve("aegis_notify.ini");
        Files.writeString(file, ini);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        NotifyConfig config = NotifyConfig.load(file);
        assertEquals(List.of(), config.problems());
        NotifyConfig.Context ctx = new NotifyConfig.Context(clock, new MessageText(ZoneOffset.UTC), () -> processes,
                new AgentHome(dir.resolve("home"), "").settings().defaultJobOptions(), dir.resolve("scratch"));
        Map<String, Channel> out = new LinkedHashMap<>();
        for (NotifyConfig.Spec s : config.channels().values()) {
            Channel c = NotifyConfig.create(s, ctx);
            made.add(c);
            out.put(s.name(), c);
        }
        return out;
    }

    private Notification notification() {
        long t = clock.millis();
        // The job name is the operator's (cron line); the metric, message and value are the plugin's.
        AlertEvent e = new AlertEvent(AlertEvent.Kind.PROBLEM, "k", "web-17", "check_http", "free_pct", "critical", "",
                "磁盘已满 *bold* <b>x</b> [link](http://evil) @all", t - 300_000, t, "used_pct=99%", 0);
        return new Notification("1b4e28ba-2fa1-11d2-883f-0016d3cca427", "ops", "web-17", t, List.of(e), 0, 0);
    }

    private static JsonNode body(HookServer.Request r) throws Exception {
        return JSON.readTree(r.body());
    }

    @Test
    void wecomPostsMarkdownToTheRobotAndChecksErrcode() throws Exception {
        Channel c = channels("[channel.ops]\ntype = wecom\nurl = " + server.url("/cgi-bin/webhook/send?key=" + TOKEN) + "\n").get("ops");
        c.send(notification());
        HookServer.Request r = server.requests().get(0);
        assertEquals("POST", r.method());
        assertEquals("/cgi-bin/webhook/send", r.path());
        assertEquals("key=" + TOKEN, r.query());
        assertTrue(r.header("Content-Type").startsWith("application/json"));
        JsonNode b = body(r);
        assertEquals("markdown", b.get("msgtype").asText());
        String content = b.get("markdown").get("content").asText();
        // Markup characters in the plugin's text are replaced by look-alikes (MessageText.neutral); ours are kept.
        assertTrue(content.startsWith("**[CRITICAL] web-17: check_http (free＿pct)**\n"
                + "> CRITICAL check_http (free＿pct): 磁盘已满 ∗bold∗ ‹b›x‹/b› ［link］(http://evil) ＠all; since "), content);
        assertTrue(content.contains("; value used＿pct=99%"), content);
        assertTrue(content.contains("磁盘已满"), content);
        assertFalse(content.contains("[link](http://evil)"), "plugin text cannot make a link: " + content);
        assertTrue(content.contains("1b4e28ba-2fa1-11d2-883f-0016d3cca427"));
        assertTrue(content.getBytes(StandardCharsets.UTF_8).length <= 4096);

        server.answer(q -> new HookServer.Answer(200, "{\"errcode\":93000,\"errmsg\":\"invalid webhook url\"}"));
        DeliveryException refused = assertThrows(DeliveryException.class, () -> c.send(notification()));
        assertTrue(refused.getMessage().contains("refused the message"), refused.getMessage());
        assertFalse(refused.getMessage().contains(TOKEN), "the URL's key is a secret: " + refused.getMessage());
    }

    @Test
    void dingtalkSignsTheTimestampAsItsDocumentationSays() throws Exception {
        Channel c = channels("[channel.ding]\ntype = dingtalk\nurl = " + server.url("/robot/send?access_token=tok") + "\nsecret = "
                + DING_SECRET + "\n").get("ding");
        c.send(notification());
        HookServer.Request r = server.requests().get(0);
        Map<String, String> q = new LinkedHashMap<>();
        for (String kv : r.query().split("&")) {
            String[] p = kv.split("=", 2);
            q.put(p[0], p[1]);
        }
        assertEquals("tok", q.get("access_token"));
        assertEquals(Long.toString(clock.millis()), q.get("timestamp"));
        // https://open.dingtalk.com/document/robots/customize-robot-security-settings: the string to sign is
        // timestamp + "\n" + secret, HmacSHA256 keyed with the secret, Base64, then URL-encoded.
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(DING_SECRET.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
        String expected = Base64.getEncoder().encodeToString(mac.doFinal((q.get("timestamp") + "\n" + DING_SECRET).getBytes(StandardCharsets.UTF_8)));
        assertEquals(expected, URLDecoder.decode(q.get("sign"), StandardCharsets.UTF_8));
        JsonNode b = body(r);
        assertEquals("markdown", b.get("msgtype").asText());
        assertEquals("[CRITICAL] web-17: check_http (free＿pct)", b.get("markdown").get("title").asText());
        assertTrue(b.get("markdown").get("text").asText().startsWith("#### [CRITICAL] web-17: check_http (free＿pct)\n\n"
                + "- CRITICAL check_http (free＿pct): 磁盘已满 ∗bold∗ ‹b›x‹/b› ［link］(http://evil) ＠all; since "), b.toString());
        assertFalse(b.get("markdown").get("text").asText().contains("[link](http://evil)"));
        assertTrue(b.get("markdown").get("text").asText().contains("磁盘已满"));
    }

    @Test
    void slackGetsTextWithItsMarkupEscaped() throws Exception {
        server.answer(q -> new HookServer.Answer(200, "ok"));
        Channel c = channels("[channel.chat]\ntype = slack\nurl = " + server.url("/services/T0/B0/XYZ") + "\n").get("chat");
        c.send(notification());
        String text = body(server.requests().get(0)).get("text").asText();
        assertTrue(text.startsWith("*[CRITICAL] web-17: check_http (free_pct)*"), text);
        assertTrue(text.contains("&lt;b&gt;x&lt;/b&gt;"), "Slack's three characters escaped: " + text);
        assertTrue(text.contains("磁盘已满"));
        server.answer(q -> new HookServer.Answer(404, "no_service"));
        assertThrows(DeliveryException.class, () -> c.send(notification()));
    }

    @Test
    void webhookPostsTheJsonFormSignedAsOurUpload() throws Exception {
        server.answer(q -> new HookServer.Answer(204, ""));
        Channel c = channels("[channel.hook]\ntype = webhook\nurl = " + server.url("/alerts?team=ops") + "\nsecret = " + HOOK_SECRET + "\n")
                .get("hook");
        c.send(notification());
        HookServer.Request r = server.requests().get(0);
        JsonNode b = body(r);
        assertEquals("1b4e28ba-2fa1-11d2-883f-0016d3cca427", b.get("id").asText());
        assertEquals("problem", b.get("events").get(0).get("kind").asText());
        assertEquals("磁盘已满 *bold* <b>x</b> [link](http://evil) @all", b.get("events").get(0).get("message").asText(),
                "JSON carries the text as written");
        assertEquals("[CRITICAL] web-17: check_http (free_pct)", b.get("title").asText(), "plain text: nothing replaced");
        assertEquals(b.get("id").asText(), r.header("X-Aegis-Notification-Id"));
        // docs/PROTOCOL.md's string to sign, computed here from the document, not with the agent's code.
        byte[] raw = r.body().getBytes(StandardCharsets.UTF_8);
        String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(raw));
        assertEquals(sha, r.header("X-Aegis-Content-SHA256"));
        String toSign = String.join("\n", "AEGIS-HMAC-SHA256", "POST", "/alerts?team=ops", r.header("X-Aegis-Timestamp"),
                r.header("X-Aegis-Nonce"), sha, b.get("id").asText());
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(HOOK_SECRET.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
        assertEquals(HexFormat.of().formatHex(mac.doFinal(toSign.getBytes(StandardCharsets.UTF_8))), r.header("X-Aegis-Signature"));
        assertEquals(Long.toString(clock.millis() / 1000), r.header("X-Aegis-Timestamp"));
    }

    @Test
    void anUnreachableServerIsADeliveryFailureThatDoesNotQuoteTheUrl() throws Exception {
        Channel c = channels("[channel.ops]\ntype = wecom\nurl = " + server.url("/send?key=" + TOKEN) + "\n").get("ops");
        server.close();
        DeliveryException e = assertThrows(DeliveryException.class, () -> c.send(notification()));
        assertTrue(e.getMessage().startsWith("cannot reach http://127.0.0.1:"), e.getMessage());
        assertFalse(e.getMessage().contains(TOKEN));
    }

    @Test
    void execRunsTheCommandWithTheJsonOnStandardInput() throws Exception {
        Path out = dir.resolve("got.json");
        Path script = dir.resolve("sms.sh");
        Files.writeString(script, "#!/bin/sh\ncat > " + out + "\necho \"$1\" >> " + out + "\n");
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
        Path failing = dir.resolve("fail.sh");
        Files.writeString(failing, "#!/bin/sh\necho 'gateway said no' >&2\nexit 3\n");
        Files.setPosixFilePermissions(failing, PosixFilePermissions.fromString("rwx------"));
        Map<String, Channel> c = channels("[channel.sms]\ntype = exec\ncommand = " + script + " '13800000000'\n"
                + "[channel.bad]\ntype = exec\ncommand = " + failing + "\n");
        c.get("sms").send(notification());
        String got = Files.readString(out, StandardCharsets.UTF_8);
        String[] lines = got.split("\n");
        JsonNode j = JSON.readTree(lines[0]);
        assertEquals("1b4e28ba-2fa1-11d2-883f-0016d3cca427", j.get("id").asText());
        assertTrue(j.get("text").asText().contains("磁盘已满"));
        assertEquals("13800000000", lines[1]);
        assertFalse(Files.list(dir.resolve("scratch")).findAny().isPresent(), "the notification file is removed after the run");

        DeliveryException e = assertThrows(DeliveryException.class, () -> c.get("bad").send(notification()));
        assertTrue(e.getMessage().contains("exited with 3") && e.getMessage().contains("gateway said no"), e.getMessage());
        assertNotNull(e.getMessage());
    }
}
