package io.aegisquartz.alert;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.aegisquartz.alert.channel.MessageText;
import io.aegisquartz.alert.channel.NotifyConfig;
import io.aegisquartz.config.AlertRule;
import io.aegisquartz.config.AlertSettings;
import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Sample;
import io.aegisquartz.sample.SampleStamper;
import io.aegisquartz.sample.Status;
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
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Alerting end to end below the agent: samples in, the engine's states, the outbox's grouping, rate
 * limit, retries and state file, and a real HTTP webhook on loopback out. Time is a {@link TestClock}
 * moved by the test, and the delivery round ({@link Alerting#step()}) is called by the test, so no test
 * waits for a timer.
 */
class AlertingTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String UUID = "5f0c2a8e-1111-4222-8333-944455556666";
    private static final Duration MINUTE = Duration.ofMinutes(1);

    @TempDir
    Path dir;

    private HookServer hook;
    private final TestClock clock = new TestClock(1_780_000_000_000L);
    private final List<Sample> results = Collections.synchronizedList(new ArrayList<>());
    private final List<Alerting> opened = new ArrayList<>();

    @BeforeEach
    void server() throws IOException {
        hook = new HookServer();
    }

    @AfterEach
    void close() {
        opened.forEach(Alerting::close);
        hook.close();
    }

    private static AlertSettings settings(int maxPerHour, Duration giveUp) {
        return new AlertSettings(Path.of("unused"), AlertRule.NONE, AlertRule.NONE, Duration.ofSeconds(30), maxPerHour, giveUp, 5, 20, 3);
    }

    private Alerting open(Path stateDir, AlertSettings s, Map<String, AlertRule> rules) {
        Path ini = dir.resolve("aegis_notify.ini");
        try {
            Files.writeString(ini, "[channel.hook]\ntype = webhook\nurl = " + hook.url("/hook") + "\n");
            Files.setPosixFilePermissions(ini, PosixFilePermissions.fromString("rw-------"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        NotifyConfig config = NotifyConfig.load(ini);
        assertEquals(List.of(), config.problems());
        SampleStamper stamper = new SampleStamper(UUID, "web-17");
        Alerting a = new Alerting(s, stateDir, UUID, () -> "web-17",
                new NotifyConfig.Context(clock, new MessageText(ZoneOffset.UTC), () -> null, null, dir),
                results::addAll, m -> stamper.stamp("agent/alert", "", List.of(m), 0, 0, false), clock);
        a.channels(config);
        a.rules(rules);
        opened.add(a);
        return a;
    }

    private Alerting open(AlertRule rule, String... jobs) {
        Map<String, AlertRule> rules = new HashMap<>();
        for (String j : jobs) {
            rules.put(j, rule);
        }
        return open(dir.resolve("state"), settings(20, Duration.ofHours(24)), rules);
    }

    private static AlertRule rule(int after, Duration repeat) {
        return new AlertRule(List.of("hook"), after, repeat);
    }

    private List<Sample> run(String job, Status status, String message) {
        return new SampleStamper(UUID, "web-17").stamp(job, "user/check.sh",
                List.of(new Measurement(clock.millis(), "http", status, message, Map.of("time", 0.5), Map.of("time", "s"), Map.of())), 1, 1, false);
    }

    /** One run of {@code job}, then a minute passes and the delivery round runs, as with a job firing every minute. */
    private void tick(Alerting a, String job, Status status) {
        a.stored(run(job, status, "HTTP " + status.wire() + " - 连接被拒绝 / refused"));
        clock.advance(MINUTE);
        a.step();
    }

    /** The events of every request the webhook received, in order, as "kind status job". */
    private List<String> events() {
        List<String> out = new ArrayList<>();
        for (HookServer.Request r : hook.requests()) {
            for (JsonNode e : json(r).get("events")) {
                out.add(e.get("kind").asText() + " " + e.get("status").asText() + " " + e.get("job").asText());
            }
        }
        return out;
    }

    private static JsonNode json(HookServer.Request r) {
        try {
            return JSON.readTree(r.body());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private List<String> resultTags() {
        synchronized (results) {
            return results.stream().map(s -> s.metric() + " " + s.status().wire() + " " + s.measurement().tags().get("result")).toList();
        }
    }

    @Test
    void aProblemIsNotifiedAfterNConsecutiveFailuresOnceAndItsRecoveryOnce() {
        Alerting a = open(rule(3, Duration.ZERO), "web");
        long firstBad = clock.millis();
        tick(a, "web", Status.CRITICAL);
        tick(a, "web", Status.CRITICAL);
        tick(a, "web", Status.OK);
        assertEquals(List.of(), events(), "two failures and a recovery: a soft problem, nobody is told");

        long since = clock.millis();
        tick(a, "web", Status.CRITICAL);
        tick(a, "web", Status.CRITICAL);
        assertEquals(List.of(), events());
        tick(a, "web", Status.CRITICAL);
        assertEquals(List.of("problem critical web"), events(), "the third failure in a row makes it hard");
        for (int i = 0; i < 5; i++) {
            tick(a, "web", Status.CRITICAL);
        }
        assertEquals(1, hook.requests().size(), "a problem that lasts is told once (no repeat=)");

        long recoveredAt = clock.millis();
        tick(a, "web", Status.OK);
        for (int i = 0; i < 3; i++) {
            tick(a, "web", Status.OK);
        }
        assertEquals(List.of("problem critical web", "recovery ok web"), events());
        JsonNode recovery = json(hook.requests().get(1)).get("events").get(0);
        assertEquals("critical", recovery.get("previous").asText());
        assertEquals(recoveredAt - since, recovery.get("lasted_ms").asLong(), "how long the problem lasted, from its first failure");
        JsonNode problem = json(hook.requests().get(0));
        assertTrue(problem.get("title").asText().startsWith("[CRITICAL] web-17: web"), problem.get("title").asText());
        assertTrue(problem.get("events").get(0).get("message").asText().contains("连接被拒绝"), "UTF-8 text survives");
        assertTrue(problem.get("events").get(0).get("value").asText().contains("time=0.5s"));
        assertEquals(List.of("alert.notification ok sent", "alert.notification ok sent"), resultTags());
        assertTrue(firstBad < since);
    }

    @Test
    void aChangeOfSeverityWhileBadIsNotifiedAndRepeatedStatusIsNot() {
        Alerting a = open(rule(1, Duration.ZERO), "web");
        tick(a, "web", Status.WARNING);
        tick(a, "web", Status.WARNING);
        tick(a, "web", Status.CRITICAL);
        tick(a, "web", Status.CRITICAL);
        tick(a, "web", Status.OK);
        assertEquals(List.of("problem warning web", "change critical web", "recovery ok web"), events());
        assertEquals("warning", json(hook.requests().get(1)).get("events").get(0).get("previous").asText());
    }

    @Test
    void repeatNotifiesAgainWhileTheProblemLasts() {
        Alerting a = open(rule(1, Duration.ofMinutes(10)), "web");
        for (int i = 0; i < 25; i++) {
            tick(a, "web", Status.CRITICAL);
        }
        assertEquals(List.of("problem critical web", "repeat critical web", "repeat critical web"), events());
    }

    @Test
    void tenJobsFailingTogetherAreOneMessage() {
        String[] jobs = new String[10];
        for (int i = 0; i < 10; i++) {
            jobs[i] = "job" + i;
        }
        Alerting a = open(rule(1, Duration.ZERO), jobs);
        for (String j : jobs) {
            a.stored(run(j, Status.CRITICAL, "down"));
            clock.advance(Duration.ofSeconds(2));
            a.step();
        }
        assertEquals(0, hook.requests().size(), "group_wait has not passed since the first");
        clock.advance(Duration.ofSeconds(11));
        a.step();
        a.step();
        assertEquals(1, hook.requests().size());
        JsonNode n = json(hook.requests().get(0));
        assertEquals(10, n.get("events").size());
        assertEquals("web-17: 10 jobs critical", n.get("title").asText());
    }

    @Test
    void maxPerHourHoldsTheRestBackAndTheNextMessageCountsThem() {
        String[] jobs = new String[10];
        Map<String, AlertRule> rules = new HashMap<>();
        for (int i = 0; i < 10; i++) {
            jobs[i] = "job" + i;
            rules.put(jobs[i], rule(1, Duration.ZERO));
        }
        Alerting a = open(dir.resolve("state"), settings(2, Duration.ofHours(24)), rules);
        long firstSent = 0;
        for (String j : jobs) {
            a.stored(run(j, Status.CRITICAL, "down"));
            clock.advance(Duration.ofMinutes(5));
            a.step();
            if (firstSent == 0) {
                firstSent = clock.millis();
            }
        }
        assertEquals(2, hook.requests().size(), "two messages in the first hour");
        clock.set(firstSent + Duration.ofHours(1).toMillis() - 1_000);
        a.step();
        assertEquals(2, hook.requests().size());
        clock.set(firstSent + Duration.ofHours(1).toMillis());
        a.step();
        assertEquals(3, hook.requests().size(), "an hour after the first, the next message goes");
        JsonNode third = json(hook.requests().get(2));
        assertEquals(8, third.get("events").size(), "it lists everything that waited");
        assertEquals(8, third.get("held_back").asInt());
        assertTrue(third.get("text").asText().contains("8 notification(s) waited because this channel had reached its max_per_hour"),
                third.get("text").asText());
    }

    @Test
    void aFlappingJobIsNotifiedOnceAsFlappingThenOnceWhenItSettles() {
        Alerting a = open(rule(1, Duration.ZERO), "web");
        for (int i = 0; i < 40; i++) {
            tick(a, "web", i % 2 == 0 ? Status.CRITICAL : Status.OK);
        }
        List<String> kinds = events().stream().map(e -> e.split(" ")[0]).toList();
        assertEquals(1, kinds.stream().filter("flapping"::equals).count(), kinds.toString());
        assertTrue(kinds.size() <= 5, "a few changes before it is seen to flap, then none of the 40: " + kinds);
        assertEquals("flapping", kinds.get(kinds.size() - 1));
        int before = kinds.size();
        for (int i = 0; i < 25; i++) {
            tick(a, "web", Status.OK);
        }
        List<String> after = events().subList(before, events().size());
        assertEquals(List.of("flapping_stopped ok web"), after, "it settles on ok: told once");
    }

    @Test
    void aChannelThatIsDownIsRetriedWithBackoffAndGetsTheMessageOnceWhenBack() {
        hook.answer(r -> HookServer.DOWN);
        Alerting a = open(rule(1, Duration.ZERO), "web");
        a.stored(run("web", Status.CRITICAL, "down"));
        clock.advance(MINUTE);
        long next = a.step();
        for (int i = 0; i < 5; i++) {
            assertTrue(next > clock.millis(), "a failed attempt waits before the next");
            clock.set(next);
            next = a.step();
        }
        assertEquals(6, hook.requests().size());
        hook.answer(r -> HookServer.OK);
        clock.set(next);
        next = a.step();
        clock.advance(Duration.ofHours(2));
        a.step();
        assertEquals(7, hook.requests().size(), "delivered once, then nothing more");
        assertEquals(1, hook.requests().stream().map(r -> r.header("X-Aegis-Notification-Id")).distinct().count(),
                "every attempt carries the same id");
        List<String> tags = resultTags();
        assertEquals(7, tags.size());
        assertEquals(6, tags.stream().filter("alert.notification warning retry"::equals).count());
        assertEquals("alert.notification ok sent", tags.get(6));
        assertEquals(1, a.counts()[0]);
        assertTrue(next > 0);
    }

    @Test
    void aMessageUndeliveredForGiveUpAfterIsDroppedCountedAndRecorded() {
        hook.answer(r -> HookServer.DOWN);
        Map<String, AlertRule> rules = Map.of("web", rule(1, Duration.ZERO));
        Alerting a = open(dir.resolve("state"), settings(20, Duration.ofHours(1)), rules);
        a.stored(run("web", Status.CRITICAL, "down"));
        clock.advance(MINUTE);
        long start = clock.millis();
        long next = a.step();
        while (a.counts()[1] == 0 && clock.millis() < start + Duration.ofHours(3).toMillis()) {
            clock.set(next);
            next = a.step();
        }
        assertEquals(1, a.counts()[1], "given up");
        assertTrue(clock.millis() >= start + Duration.ofHours(1).toMillis());
        assertTrue(clock.millis() < start + Duration.ofHours(1).toMillis() + Duration.ofMinutes(11).toMillis(),
                "given up at the first attempt past give_up_after (backoff at most 10 min)");
        int attempts = hook.requests().size();
        clock.advance(Duration.ofHours(2));
        a.step();
        assertEquals(attempts, hook.requests().size(), "nothing after giving up");
        List<String> tags = resultTags();
        assertEquals("alert.notification error given_up", tags.get(tags.size() - 1));
        assertEquals(attempts - 1, tags.stream().filter("alert.notification warning retry"::equals).count());
    }

    @Test
    void aRestartWhileAJobIsBadDoesNotNotifyAgainAndItsRecoveryStillComes() {
        Alerting a = open(rule(1, Duration.ZERO), "web");
        long since = clock.millis();
        tick(a, "web", Status.CRITICAL);
        tick(a, "web", Status.CRITICAL);
        a.close();
        opened.remove(a);

        Alerting b = open(rule(1, Duration.ZERO), "web");
        tick(b, "web", Status.CRITICAL);
        tick(b, "web", Status.CRITICAL);
        assertEquals(List.of("problem critical web"), events());
        long recovered = clock.millis();
        tick(b, "web", Status.OK);
        assertEquals(List.of("problem critical web", "recovery ok web"), events());
        assertEquals(recovered - since, json(hook.requests().get(1)).get("events").get(0).get("lasted_ms").asLong());
    }

    /**
     * The agent killed while the receiver holds the request: the state on disk at that moment is what
     * the next agent starts from (copied while the request waits). The message had been composed and
     * saved, so the next agent sends it; it is the one duplicate there can be, with the same id.
     */
    @Test
    void killedBetweenSendingAndRecordingTheNextAgentSendsItOnceMoreWithTheSameId() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        hook.hold(release);
        Alerting a = open(rule(1, Duration.ZERO), "web");
        a.stored(run("web", Status.CRITICAL, "down"));
        clock.advance(MINUTE);
        Thread round = new Thread(a::step);
        round.start();
        assertTrue(hook.awaitFirst(60));
        Path crashed = dir.resolve("crashed");
        copy(dir.resolve("state"), crashed);
        hook.hold(null);
        release.countDown();
        round.join(60_000);
        assertEquals(1, a.counts()[0], "the first agent delivered it");

        Alerting b = open(crashed, settings(20, Duration.ofHours(24)), Map.of("web", rule(1, Duration.ZERO)));
        b.step();
        tick(b, "web", Status.CRITICAL);
        clock.advance(Duration.ofHours(1));
        b.step();
        assertEquals(2, hook.requests().size(), "sent again once, not more");
        assertEquals(hook.requests().get(0).header("X-Aegis-Notification-Id"), hook.requests().get(1).header("X-Aegis-Notification-Id"));
    }

    /** Killed after the message was composed and saved, before the receiver took it: the next agent delivers it, once. */
    @Test
    void killedBeforeDeliveryTheNextAgentDeliversItExactlyOnce() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        hook.hold(release);
        hook.answer(r -> HookServer.DOWN);
        Alerting a = open(rule(1, Duration.ZERO), "web");
        a.stored(run("web", Status.CRITICAL, "down"));
        clock.advance(MINUTE);
        Thread round = new Thread(a::step);
        round.start();
        assertTrue(hook.awaitFirst(60));
        Path crashed = dir.resolve("crashed");
        copy(dir.resolve("state"), crashed);
        a.close(); // the first agent is gone: nothing of it is sent or recorded any more
        opened.remove(a);
        hook.hold(null);
        release.countDown();
        round.join(60_000);
        hook.answer(r -> HookServer.OK);

        Alerting b = open(crashed, settings(20, Duration.ofHours(24)), Map.of("web", rule(1, Duration.ZERO)));
        b.step();
        for (int i = 0; i < 3; i++) {
            tick(b, "web", Status.CRITICAL);
        }
        assertEquals(2, hook.requests().size(), "the refused attempt, then one delivery");
        assertEquals(1, b.counts()[0]);
        assertEquals(List.of("problem critical web", "problem critical web"), events());
    }

    /** A silenced problem is not sent and not marked as sent: it is notified at the first run after the silence. */
    @Test
    void aSilencedProblemIsNotifiedWhenTheSilenceEndsAndNotBefore() throws Exception {
        Alerting a = open(rule(1, Duration.ZERO), "web", "db");
        Silences file = new Silences(Alerting.silencesFile(dir.resolve("state")));
        file.write(List.of(new Silences.Silence("web", clock.millis(), clock.millis() + Duration.ofMinutes(10).toMillis(), "upgrade", "ops")),
                clock.millis());
        for (int i = 0; i < 9; i++) {
            tick(a, "web", Status.CRITICAL);
        }
        tick(a, "db", Status.CRITICAL);
        assertEquals(List.of("problem critical db"), events(), "only the job that is not silenced");
        tick(a, "web", Status.CRITICAL);
        tick(a, "web", Status.CRITICAL);
        assertEquals(List.of("problem critical db", "problem critical web"), events(), "once the silence has ended");
    }

    /** A job the agent holds (quarantined, shed by the governor) is told once to the agent's channels when the hold starts. */
    @Test
    void aJobTheAgentHoldsIsNotifiedOnceToTheAgentsChannels() {
        AlertSettings s = new AlertSettings(Path.of("unused"), AlertRule.NONE, new AlertRule(List.of("hook"), 1, Duration.ZERO),
                Duration.ofSeconds(30), 20, Duration.ofHours(24), 5, 20, 3);
        Alerting a = open(dir.resolve("state"), s, Map.of("web", AlertRule.NONE));
        for (int i = 0; i < 5; i++) {
            a.stored(List.of(skipped("web", "quarantined: a run of it ended the agent (System.exit)")));
            clock.advance(MINUTE);
            a.step();
        }
        assertEquals(List.of("event quarantined web"), events(), "once, not at every skipped fire");
        tick(a, "web", Status.OK); // released: it runs again
        a.stored(List.of(skipped("web", "shed by the governor until 12:00: the agent used 30% CPU")));
        a.stored(List.of(skipped("web", "previous run still going")));
        clock.advance(MINUTE);
        a.step();
        assertEquals(List.of("event quarantined web", "event shed web"), events(), "an ordinary skip is not an event");
    }

    private static AlertSettings agentEvents(int outputAfter) {
        return new AlertSettings(Path.of("unused"), AlertRule.NONE, new AlertRule(List.of("hook"), 1, Duration.ZERO),
                Duration.ofSeconds(30), 20, Duration.ofHours(24), 5, 20, outputAfter);
    }

    /** The messages of every event the webhook received, in order. */
    private List<String> messages() {
        List<String> out = new ArrayList<>();
        for (HookServer.Request r : hook.requests()) {
            for (JsonNode e : json(r).get("events")) {
                out.add(e.get("message").asText());
            }
        }
        return out;
    }

    /** An output failing output_after sends in a row is one problem naming it and its last error; its next delivery, one recovery. */
    @Test
    void anOutputFailingAfterConsecutiveSendsIsNotifiedOnceAndItsRecoveryOnce() {
        Alerting a = open(dir.resolve("state"), agentEvents(3), Map.of());
        a.failed("central", "aegis", 1, "receiver answered 500", 0);
        a.failed("central", "aegis", 2, "receiver answered 500", 0);
        a.delivered("central", "aegis");
        clock.advance(MINUTE);
        a.step();
        assertEquals(List.of(), events(), "two failures, then a delivery: nobody is told");
        for (int i = 1; i <= 10; i++) {
            a.failed("central", "aegis", i, "ConnectException: Connection refused (attempt " + i + ")", 0);
            clock.advance(Duration.ofSeconds(10));
            a.step();
        }
        clock.advance(MINUTE);
        a.step();
        assertEquals(List.of("problem error agent"), events(), "once, however long it fails");
        String told = messages().get(0);
        assertTrue(told.contains("output central (aegis)") && told.contains("3 consecutive send(s) failed")
                && told.contains("Connection refused (attempt 3)"), told);
        for (int i = 0; i < 5; i++) {
            a.delivered("central", "aegis");
        }
        clock.advance(MINUTE);
        a.step();
        assertEquals(List.of("problem error agent", "recovery ok agent"), events());
        assertTrue(json(hook.requests().get(1)).get("events").get(0).get("metric").asText().equals("output central"));
        assertEquals(Duration.ofSeconds(10 * 10 + 60).toMillis(), json(hook.requests().get(1)).get("events").get(0).get("lasted_ms").asLong(),
                "from the first failure of its last run of failures (ten sends 10 s apart, then a minute)");
    }

    /** A restart while an output is notified as failing tells nothing again; an output no longer configured is resolved as removed. */
    @Test
    void anOutputNotifiedAsFailingIsNotToldAgainAfterARestartAndIsResolvedWhenRemoved() {
        Alerting a = open(dir.resolve("state"), agentEvents(1), Map.of());
        a.failed("central", "aegis", 1, "receiver answered 500", 0);
        a.failed("influx", "influx", 1, "influx answered 500", 0);
        clock.advance(MINUTE);
        a.step();
        a.close();
        assertEquals(2, events().size(), events().toString());

        Alerting b = open(dir.resolve("state"), agentEvents(1), Map.of());
        b.outputs(List.of("central"));
        b.failed("central", "aegis", 7, "receiver answered 500", 0);
        clock.advance(MINUTE);
        b.step();
        assertEquals(List.of("problem error agent", "problem error agent", "removed removed agent"), events());
        assertTrue(messages().get(2).contains("output was removed"), messages().toString());
        b.outputs(List.of("central"));
        b.close();
        assertFalse(AlertingTest.text(dir.resolve("state/alerts/state.json")).contains("output influx"), "its state is forgotten");
    }

    /** While an output fails and the spool drops its samples, that is told once per outage, before the exact count can be. */
    @Test
    void samplesDroppedWhileAnOutputFailsAreToldOncePerOutage() {
        Alerting a = open(dir.resolve("state"), agentEvents(3), Map.of());
        for (int i = 1; i <= 3; i++) {
            a.failed("central", "aegis", i, "receiver answered 500", 0);
        }
        a.failed("central", "aegis", 4, "receiver answered 500", 40);
        a.failed("central", "aegis", 5, "receiver answered 500", 90);
        clock.advance(MINUTE);
        a.step();
        a.close();
        Alerting b = open(dir.resolve("state"), agentEvents(3), Map.of());
        b.failed("central", "aegis", 1, "receiver answered 500", 130); // after a restart, the same outage
        clock.advance(MINUTE);
        b.step();
        List<String> kinds = events();
        assertEquals(List.of("problem error agent", "event dropping agent"), kinds);
        assertTrue(messages().get(1).startsWith("the spool has dropped 40 sample(s) that output central (aegis) had not sent"),
                messages().toString());
        b.delivered("central", "aegis");
        clock.advance(MINUTE);
        b.step();
        for (int i = 1; i <= 3; i++) {
            b.failed("central", "aegis", i, "receiver answered 500", i == 3 ? 25 : 0); // the last report went out with the recovery
        }
        clock.advance(MINUTE);
        b.step();
        assertEquals(List.of("problem error agent", "event dropping agent", "recovery ok agent", "problem error agent", "event dropping agent"),
                events(), "a new outage that drops is told again");
    }

    /** A drop report is notified once with its exact count and output, even when the spool hands it out again (after a restart). */
    @Test
    void aDropReportIsNotifiedOnceWithItsCountAndOutput() {
        Alerting a = open(dir.resolve("state"), agentEvents(3), Map.of());
        Sample report = dropped("central", 1, 120);
        a.stored(List.of(report));
        a.stored(List.of(report));
        a.stored(List.of(dropped("influx", 1, 7)));
        clock.advance(MINUTE);
        a.step();
        a.close();
        Alerting b = open(dir.resolve("state"), agentEvents(3), Map.of());
        b.stored(List.of(report)); // the same report, handed out again after the restart
        clock.advance(MINUTE);
        b.step();
        assertEquals(List.of("event dropped agent", "event dropped agent"), events(), "two reports, both in one message, none twice");
        assertEquals(1, hook.requests().size());
        assertTrue(messages().get(0).startsWith("120 unsent sample(s)") && messages().get(0).contains("output central"), messages().toString());
        assertTrue(messages().get(1).startsWith("7 unsent sample(s)") && messages().get(1).contains("output influx"), messages().toString());
        b.stored(List.of(dropped("central", 2, 3))); // the next report of that output
        clock.advance(MINUTE);
        b.step();
        assertEquals(3, events().size(), events().toString());
    }

    private Sample dropped(String output, long number, long count) {
        return io.aegisquartz.output.DroppedSamples.of(new io.aegisquartz.spool.DropReport(number, count, clock.millis() - 60_000,
                clock.millis() - 1_000, count, io.aegisquartz.spool.DropReport.Reason.SIZE_CAP), output, UUID, "web-17");
    }

    /** A reload with problems is told once per distinct set of problems, with file:line; the next clean one, once as recovered. */
    @Test
    void aFailedReloadIsNotifiedOncePerSetOfProblemsAndItsRecoveryOnce() {
        Alerting a = open(dir.resolve("state"), agentEvents(3), Map.of());
        a.reloaded("start-up", List.of());
        List<String> problems = List.of("/etc/aegis/aegis_quartz.conf.user:2:1: bad cron expression '[* * *' (fix: ...)");
        for (int i = 0; i < 3; i++) {
            a.reloaded("SIGHUP", problems); // each in a group of its own: a second event would be a second message
            clock.advance(MINUTE);
            a.step();
        }
        assertEquals(List.of("problem error agent"), events());
        assertTrue(messages().get(0).contains("aegis_quartz.conf.user:2:1: bad cron expression") && messages().get(0).contains("SIGHUP"),
                messages().toString());
        a.close();
        Alerting b = open(dir.resolve("state"), agentEvents(3), Map.of());
        b.reloaded("SIGHUP", problems);
        clock.advance(MINUTE);
        b.step();
        assertEquals(List.of("problem error agent"), events(), "the same problems after a restart: not again");
        b.reloaded("SIGHUP", List.of("/etc/aegis/aegis_quartz.conf.user:3:1: unknown option 'x='"));
        clock.advance(MINUTE);
        b.step();
        assertEquals(List.of("problem error agent", "problem error agent"), events(), "other problems are told; the same ones not again");
        b.reloaded("SIGHUP", List.of());
        b.reloaded("SIGHUP", List.of());
        clock.advance(MINUTE);
        b.step();
        assertEquals(List.of("problem error agent", "problem error agent", "recovery ok agent"), events());
    }

    /** A job removed while notified as bad gets one "removed" resolution and its state is forgotten; one removed while ok, nothing. */
    @Test
    void aJobRemovedWhileBadIsResolvedOnceAndForgotten() {
        Alerting a = open(rule(1, Duration.ZERO), "web", "db", "cache");
        a.stored(run("web", Status.CRITICAL, "HTTP CRITICAL"));
        a.stored(run("db", Status.CRITICAL, "DB CRITICAL"));
        clock.advance(MINUTE);
        a.step();
        a.stored(run("db", Status.OK, "DB OK"));
        a.stored(run("cache", Status.WARNING, "soft"));
        clock.advance(MINUTE);
        a.step();
        assertEquals(List.of("problem critical web", "problem critical db", "recovery ok db", "problem warning cache"), events());
        a.rules(Map.of("cache", rule(1, Duration.ZERO)), false); // a reload with problems: web may be a line with errors
        clock.advance(MINUTE);
        a.step();
        assertEquals(4, events().size(), "nothing removed while the cron files have problems: " + events());
        a.rules(Map.of("cache", rule(1, Duration.ZERO))); // web and db are gone from the cron files
        clock.advance(MINUTE);
        a.step();
        assertEquals(5, events().size(), events().toString());
        assertEquals("removed removed web", events().get(4), "web was bad: resolved; db had recovered: nothing");
        JsonNode removed = json(hook.requests().get(2)).get("events").get(0);
        assertEquals("critical", removed.get("previous").asText());
        assertTrue(removed.get("message").asText().contains("removed from the configuration while CRITICAL"), removed.toString());
        a.close();
        String state = AlertingTest.text(dir.resolve("state/alerts/state.json"));
        assertFalse(state.contains("\"web\"") || state.contains("\"db\""), state);
        assertTrue(state.contains("\"cache\""), state);

        Alerting b = open(dir.resolve("state"), settings(20, Duration.ofHours(24)), Map.of("cache", rule(1, Duration.ZERO)));
        b.rules(Map.of()); // and cache, while the agent was down: resolved at the start
        clock.advance(MINUTE);
        b.step();
        assertEquals("removed removed cache", events().get(events().size() - 1));
        assertEquals(6, events().size(), events().toString());
    }

    private static String text(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private Sample skipped(String job, String message) {
        return new SampleStamper(UUID, "web-17").stamp(job, "user/check.sh",
                List.of(Measurement.status(clock.millis(), "", Status.SKIPPED, message)), 0, 0, false).get(0);
    }

    @Test
    void nothingFailingKeepsNothingAndWritesNothing() {
        Alerting a = open(rule(1, Duration.ZERO), "web");
        for (int i = 0; i < 100; i++) {
            tick(a, "web", Status.OK);
        }
        assertEquals(0, a.store().writes());
        assertFalse(Files.exists(dir.resolve("state/alerts/state.json")));
        assertEquals(0, hook.requests().size());
    }

    private static void copy(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(p, t, StandardCopyOption.COPY_ATTRIBUTES);
                }
            }
        }
    }
}
