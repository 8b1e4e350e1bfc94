package io.aegisquartz.receive;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.aegisquartz.alert.Alerting;
import io.aegisquartz.alert.channel.MessageText;
import io.aegisquartz.alert.channel.NotifyConfig;
import io.aegisquartz.config.AlertRule;
import io.aegisquartz.config.AlertSettings;
import io.aegisquartz.testing.HookServer;
import io.aegisquartz.testing.TestClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The receiver's silence check on a test clock, delivering to a real webhook on loopback: one silent
 * notification per silent host, one back, none for a host that keeps sending, none again after a
 * restart (the state file), and a bounded host table against a batch that names thousands of hosts.
 * The delivery round ({@link Alerting#step()}) and the check are called by the test, so nothing waits.
 */
class SilenceWatchTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration AFTER = Duration.ofMinutes(2);
    private static final Duration GROUP_WAIT = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    private HookServer hook;
    private final TestClock clock = new TestClock(1_780_000_000_000L);
    private final List<SilenceWatch> opened = new ArrayList<>();
    private Alerting alerting;

    @BeforeEach
    void server() throws IOException {
        hook = new HookServer();
    }

    @AfterEach
    void close() {
        opened.forEach(SilenceWatch::close);
        hook.close();
    }

    /** A watch on the receiver state in dir/state, as 'receive --silence-after 2m --notify hook' makes it (threads not started). */
    private SilenceWatch open() {
        Path ini = dir.resolve("aegis_notify.ini");
        try {
            Files.writeString(ini, "[channel.hook]\ntype = webhook\nurl = " + hook.url("/hook") + "\n");
            Files.setPosixFilePermissions(ini, PosixFilePermissions.fromString("rw-------"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        NotifyConfig config = NotifyConfig.load(ini);
        assertEquals(List.of(), config.problems());
        AlertSettings s = new AlertSettings(ini, AlertRule.NONE, AlertRule.NONE, GROUP_WAIT, 20, Duration.ofHours(24), 5, 20, 3);
        alerting = new Alerting(s, dir.resolve("state"), "receiver-test", () -> "receiver",
                new NotifyConfig.Context(clock, new MessageText(ZoneOffset.UTC), () -> null, null, dir), null, null, clock);
        alerting.channels(config);
        SilenceWatch w = new SilenceWatch(alerting, AFTER, List.of("hook"), clock);
        opened.add(w);
        return w;
    }

    /** Time passes in steps of 10 s (the timer's period for 2m), the check and the delivery round after each. */
    private void pass(SilenceWatch w, Duration d, Runnable eachStep) {
        long end = clock.millis() + d.toMillis();
        while (clock.millis() < end) {
            clock.advance(Duration.ofSeconds(10));
            eachStep.run();
            w.check();
            alerting.step();
        }
    }

    /** "kind host status" of every event the webhook received, in order. */
    private List<String> events() {
        List<String> out = new ArrayList<>();
        for (HookServer.Request r : hook.requests()) {
            try {
                for (JsonNode e : JSON.readTree(r.body()).get("events")) {
                    out.add(e.get("kind").asText() + " " + e.get("host").asText() + " " + e.get("status").asText());
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return out;
    }

    @Test
    void aHostThatStopsIsNotifiedOnceAndOnceWhenItIsBackTheOtherNever() throws Exception {
        SilenceWatch w = open();
        w.seen(Map.of("uuid-a", "web-a", "uuid-b", "web-b"));
        // web-a keeps sending every 10 s; web-b stops.
        pass(w, Duration.ofSeconds(110), () -> w.seen(Map.of("uuid-a", "web-a")));
        assertEquals(List.of(), events(), "1m50s without a sample is not yet silent");
        pass(w, Duration.ofMinutes(10), () -> w.seen(Map.of("uuid-a", "web-a")));
        assertEquals(List.of("silent web-b silent"), events(), "one notification in ten minutes of silence");
        JsonNode first = JSON.readTree(hook.requests().get(0).body());
        assertTrue(first.get("title").asText().startsWith("[SILENT] web-b: agent/health"), first.get("title").asText());
        assertTrue(first.get("events").get(0).get("message").asText().contains("no sample for 2m"),
                first.get("events").get(0).get("message").asText());

        w.seen(Map.of("uuid-b", "web-b"));
        pass(w, Duration.ofMinutes(5), () -> w.seen(Map.of("uuid-a", "web-a", "uuid-b", "web-b")));
        assertEquals(List.of("silent web-b silent", "back web-b ok"), events());
        JsonNode back = JSON.readTree(hook.requests().get(1).body()).get("events").get(0);
        assertEquals("silent", back.get("previous").asText());
        assertTrue(back.get("lasted_ms").asLong() >= Duration.ofMinutes(10).toMillis(), back.toString());
        assertTrue(!hook.requests().get(0).header("X-Aegis-Notification-Id").equals(hook.requests().get(1).header("X-Aegis-Notification-Id")));
    }

    @Test
    void aRestartNotifiesNoHostTwiceAndDoesNotFindEveryHostSilent() {
        SilenceWatch w = open();
        w.seen(Map.of("uuid-a", "web-a", "uuid-b", "web-b"));
        pass(w, Duration.ofMinutes(3), () -> w.seen(Map.of("uuid-a", "web-a")));
        assertEquals(List.of("silent web-b silent"), events());
        w.close();
        opened.remove(w);

        // The receiver is down for an hour: web-a could not send meanwhile.
        clock.advance(Duration.ofHours(1));
        SilenceWatch again = open();
        alerting.step();
        assertEquals(0, again.check(), "web-b was notified before the restart; web-a's silence counts from the restart");
        pass(again, Duration.ofSeconds(110), () -> again.seen(Map.of("uuid-a", "web-a")));
        assertEquals(List.of("silent web-b silent"), events());

        again.seen(Map.of("uuid-b", "web-b"));
        pass(again, Duration.ofMinutes(1), () -> { });
        assertEquals(List.of("silent web-b silent", "back web-b ok"), events(), "back once, from the state kept across the restart");
    }

    @Test
    void aRestartBeforeTheSilentMessageWasDeliveredDeliversItOnce() {
        SilenceWatch w = open();
        w.seen(Map.of("uuid-b", "web-b"));
        clock.advance(AFTER);
        assertEquals(1, w.check());
        clock.advance(GROUP_WAIT);
        // Composed and saved, not delivered: the channel is down.
        hook.answer(r -> HookServer.DOWN);
        alerting.step();
        assertEquals(1, hook.requests().size());
        String id = hook.requests().get(0).header("X-Aegis-Notification-Id");
        w.close();
        opened.remove(w);

        hook.answer(r -> HookServer.OK);
        SilenceWatch again = open();
        assertEquals(0, again.check());
        clock.advance(Duration.ofMinutes(1));
        alerting.step();
        assertEquals(2, hook.requests().size());
        assertEquals(id, hook.requests().get(1).header("X-Aegis-Notification-Id"), "the same message, same id");
        pass(again, Duration.ofMinutes(10), () -> { });
        assertEquals(2, hook.requests().size(), "and only once");
    }

    @Test
    void aBatchNamingThousandsOfHostsCannotGrowTheTableWithoutEnd() {
        SilenceWatch w = open();
        Map<String, String> many = new HashMap<>();
        for (int i = 0; i < SilenceWatch.MAX_HOSTS + 500; i++) {
            many.put("forged-" + i + "-" + "x".repeat(300), "h" + i);
        }
        w.seen(many);
        int tracked = alerting.withState(s -> s.hosts.size());
        assertEquals(SilenceWatch.MAX_HOSTS, tracked);
        boolean cut = alerting.withState(s -> s.hosts.keySet().stream().allMatch(k -> k.length() <= SilenceWatch.MAX_NAME));
        assertTrue(cut);
    }
}
