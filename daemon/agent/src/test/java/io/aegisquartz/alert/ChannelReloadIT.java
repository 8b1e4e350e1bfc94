package io.aegisquartz.alert;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.aegisquartz.agent.Agent;
import io.aegisquartz.testing.AgentHome;
import io.aegisquartz.testing.AgentProcesses;
import io.aegisquartz.testing.StartedProcesses;
import io.aegisquartz.testing.CapturedLog;
import io.aegisquartz.testing.HookServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The channels file at a reload, through a real agent (an agent process sent a real SIGHUP, or one in
 * this JVM: its scheduler, spool, alerting thread) and real webhook servers on loopback: a channel's URL
 * changed at SIGHUP sends the next notification to the new server and none to the old; a removed channel's waiting message is given up
 * and counted (sample, state file, log); a file with problems keeps the channels in use, logs each
 * problem with file:line and is notified once as a failed reload; an unchanged channel keeps its
 * max_per_hour window while another is added; a file written after the start turns alerting on through
 * the config watch, without a SIGHUP.
 */
class ChannelReloadIT {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private final List<HookServer> servers = new ArrayList<>();

    @RegisterExtension
    final StartedProcesses started = new StartedProcesses();
    private Agent agent;
    private CapturedLog logged;

    @BeforeEach
    void captureLog() {
        logged = new CapturedLog();
    }

    @AfterEach
    void stop() {
        if (agent != null) {
            agent.stop();
        }
        servers.forEach(HookServer::close);
        logged.close();
    }

    private HookServer server() throws IOException {
        HookServer s = new HookServer();
        servers.add(s);
        return s;
    }

    /** A home whose job disk is critical while the file "broken" exists, notifying {@code notify}. */
    private AgentHome home(boolean watch, String alert, String cron) {
        AgentHome home = new AgentHome(dir.resolve("home"), "[plugins]\nwatch = " + watch + "\n[alert]\ngroup_wait = 1s\n" + alert);
        home.userPlugin("disk.sh", "#!/bin/sh\nif [ -e " + dir.resolve("broken") + " ]; then echo 'DISK CRITICAL - full'; exit 2; fi\n"
                + "echo 'DISK OK'\nexit 0\n");
        home.userPlugin("cpu.sh", "#!/bin/sh\necho 'CPU CRITICAL - 99%'\nexit 2\n");
        home.cron("aegis_quartz.conf.user", cron);
        return home;
    }

    /** Writes the channels file as a config tool does: mode 0600, then renamed into place. */
    private static void channels(AgentHome home, String text) {
        try {
            Path ini = home.conf().resolve("aegis_notify.ini");
            Path tmp = home.conf().resolve(".aegis_notify.ini.tmp");
            Files.writeString(tmp, text);
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
            Files.move(tmp, ini, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String webhook(String name, HookServer s, String extra) {
        return "[channel." + name + "]\ntype = webhook\nurl = " + s.url("/hook") + "\n" + extra;
    }

    private Agent start(AgentHome home) throws Exception {
        agent = new Agent(home.settings());
        agent.start();
        return agent;
    }

    /** The events {@code s} received, as "job metric kind status". */
    private static List<String> events(HookServer s) {
        List<String> out = new ArrayList<>();
        for (HookServer.Request r : s.requests()) {
            try {
                for (JsonNode e : JSON.readTree(r.body()).get("events")) {
                    out.add(e.get("job").asText() + " " + e.get("metric").asText() + " " + e.get("kind").asText() + " " + e.get("status").asText());
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return out;
    }

    private static List<String> about(HookServer s, String job) {
        return events(s).stream().filter(e -> e.startsWith(job + " ")).toList();
    }

    private static int runs(AgentHome home, String job) {
        return home.samples(job, x -> true).size();
    }

    private List<String> errors() {
        return logged.events().stream().filter(e -> e.getLevel().isGreaterOrEqual(Level.ERROR)).map(ILoggingEvent::getFormattedMessage).toList();
    }

    /** An agent whose job disk is critical and notifies channel ops, a webhook to {@code ops}; returns once ops has the problem. */
    private AgentHome failingDiskNotifying(HookServer ops, String alert) throws Exception {
        Files.createFile(dir.resolve("broken"));
        AgentHome home = home(false, alert, "[* * * * * ?] name=disk notify=ops user/disk.sh\n");
        channels(home, webhook("ops", ops, ""));
        start(home);
        await().atMost(Duration.ofSeconds(90)).until(() -> !ops.requests().isEmpty());
        return home;
    }

    private static JsonNode state(AgentHome home) throws IOException {
        return JSON.readTree(home.settings().stateDir().resolve("alerts/state.json").toFile());
    }

    @Test
    void aUrlChangedAtSighupSendsTheNextNotificationToTheNewServerAndNoneToTheOld() throws Exception {
        HookServer old = server();
        HookServer fresh = server();
        Files.createFile(dir.resolve("broken"));
        AgentHome home = home(false, "", "[* * * * * ?] name=disk notify=ops user/disk.sh\n");
        channels(home, webhook("ops", old, ""));
        // A real agent process and a real SIGHUP, as systemctl reload sends it.
        Process agentProcess = AgentProcesses.start(started, dir.resolve("agent.out"), "--home", home.home().toString(), "run");
        await().atMost(Duration.ofSeconds(90)).until(() -> !old.requests().isEmpty());
        assertEquals(List.of("disk disk problem critical"), about(old, "disk"));

        channels(home, webhook("ops", fresh, ""));
        assertEquals(0, new ProcessBuilder("kill", "-HUP", Long.toString(agentProcess.pid())).inheritIO().start().waitFor());
        Path log = home.home().resolve("log/aegis_quartz.log");
        await().atMost(Duration.ofSeconds(30)).until(() -> AgentHome.text(log).contains("notification channels changed in "));
        Files.delete(dir.resolve("broken"));
        await().atMost(Duration.ofSeconds(90)).until(() -> !fresh.requests().isEmpty());
        int seen = runs(home, "disk");
        await().atMost(Duration.ofSeconds(60)).until(() -> runs(home, "disk") >= seen + 3);
        assertEquals(List.of("disk disk recovery ok"), about(fresh, "disk"));
        assertEquals(1, old.requests().size(), "nothing more to the old URL");
        String logText = AgentHome.text(log);
        assertTrue(logText.contains("~ ops (webhook, 127.0.0.1): url changed"), logText);
        assertFalse(logText.contains(fresh.url("/hook")), "the log names the changed key, never its value");
    }

    @Test
    void aRemovedChannelsWaitingMessageIsGivenUpCountedAndLogged() throws Exception {
        HookServer ops = server();
        HookServer down = server();
        down.answer(r -> HookServer.DOWN);
        Files.createFile(dir.resolve("broken"));
        AgentHome home = home(false, "", "[* * * * * ?] name=disk notify=ops,gone user/disk.sh\n");
        channels(home, webhook("ops", ops, "") + webhook("gone", down, ""));
        start(home);
        await().atMost(Duration.ofSeconds(90)).until(() -> !ops.requests().isEmpty() && !down.requests().isEmpty());

        channels(home, webhook("ops", ops, ""));
        agent.requestReload("SIGHUP");
        await().atMost(Duration.ofSeconds(30)).until(() -> !home.samples("agent/alert",
                s -> s.get("tags").get("channel").asText().equals("gone") && s.get("tags").get("result").asText().equals("given_up")).isEmpty());
        int attempts = down.requests().size();
        JsonNode givenUp = home.samples("agent/alert", s -> s.get("tags").get("result").asText().equals("given_up")).get(0);
        assertEquals("error", givenUp.get("status").asText());
        assertTrue(givenUp.get("message").asText().contains("channel gone is no longer in"), givenUp.toString());
        assertEquals(1, home.samples("agent/alert", s -> s.get("tags").get("result").asText().equals("given_up")).size(), "counted once");
        assertTrue(errors().stream().anyMatch(l -> l.contains("to gone given up: channel gone is no longer in") && l.contains("1 event(s) not delivered")),
                errors().toString());
        await().atMost(Duration.ofSeconds(30)).until(() -> state(home).get("givenUpRemoved").asLong() == 1 && !state(home).get("channels").has("gone"));

        Files.delete(dir.resolve("broken"));
        await().atMost(Duration.ofSeconds(90)).until(() -> about(ops, "disk").size() >= 2);
        assertEquals(List.of("disk disk problem critical", "disk disk recovery ok"), about(ops, "disk"));
        assertEquals(attempts, down.requests().size(), "nothing more to the removed channel");
    }

    @Test
    void aBrokenFileAtReloadKeepsTheChannelsInUseSaysFileAndLineAndIsNotifiedOnce() throws Exception {
        HookServer old = server();
        HookServer fresh = server();
        AgentHome home = failingDiskNotifying(old, "agent_notify = ops\n");

        // A new URL and, on line 4, a key that does not exist: nothing of it may be taken.
        channels(home, webhook("ops", fresh, "colour = red\n"));
        agent.requestReload("SIGHUP");
        await().atMost(Duration.ofSeconds(30)).until(() -> !about(old, "agent").isEmpty());
        assertTrue(errors().stream().anyMatch(l -> l.contains("aegis_notify.ini:4") && l.contains("unknown key 'colour'") && l.contains("(fix: ")),
                errors().toString());
        agent.requestReload("SIGHUP"); // the same problems again: told already
        Files.delete(dir.resolve("broken"));
        await().atMost(Duration.ofSeconds(90)).until(() -> about(old, "disk").size() >= 2);
        assertEquals(List.of("disk disk problem critical", "disk disk recovery ok"), about(old, "disk"), "the old channel still delivers");
        assertEquals(List.of("agent reload problem error"), about(old, "agent"));
        String told = JSON.readTree(old.requests().stream().filter(r -> r.body().contains("\"reload\"")).findFirst().orElseThrow().body())
                .get("events").get(0).get("message").asText();
        assertTrue(told.contains("aegis_notify.ini:4") && told.contains("SIGHUP"), told);
        assertTrue(fresh.requests().isEmpty(), "nothing of the broken file was taken");

        channels(home, webhook("ops", fresh, ""));
        agent.requestReload("SIGHUP");
        await().atMost(Duration.ofSeconds(30)).until(() -> about(fresh, "agent").contains("agent reload recovery ok"));
        assertEquals(List.of("agent reload problem error"), about(old, "agent"));
    }

    @Test
    void anUnchangedChannelKeepsItsMaxPerHourWindowWhileAnotherIsAdded() throws Exception {
        HookServer ops = server();
        HookServer other = server();
        Files.createFile(dir.resolve("broken"));
        AgentHome home = home(false, "", "[* * * * * ?] name=disk notify=ops user/disk.sh\n[* * * * * ?] name=cpu notify=other user/cpu.sh\n");
        String opsSection = webhook("ops", ops, "max_per_hour = 1\n");
        channels(home, opsSection);
        start(home);
        await().atMost(Duration.ofSeconds(90)).until(() -> !ops.requests().isEmpty());

        channels(home, "; another channel\n" + webhook("other", other, "") + "\n" + opsSection);
        agent.requestReload("SIGHUP");
        Files.delete(dir.resolve("broken"));
        // cpu's problem waited for a channel named before it existed: delivered once it is added.
        await().atMost(Duration.ofSeconds(60)).until(() -> about(other, "cpu").contains("cpu cpu problem critical"));
        // disk's recovery is due, and held back: ops sent its one message of the hour before the reload.
        await().atMost(Duration.ofSeconds(60)).until(() -> state(home).path("channels").path("ops").path("heldBack").asInt() >= 1
                || ops.requests().size() > 1);
        assertEquals(1, ops.requests().size(), events(ops).toString());
        assertEquals(List.of("disk disk problem critical"), about(ops, "disk"));
    }

    @Test
    void aChannelsFileWrittenAfterTheStartTurnsAlertingOnThroughTheConfigWatch() throws Exception {
        HookServer ops = server();
        Files.createFile(dir.resolve("broken"));
        AgentHome home = home(true, "", "[* * * * * ?] name=disk notify=ops user/disk.sh\n");
        start(home);
        await().atMost(Duration.ofSeconds(60)).until(() -> runs(home, "disk") >= 2);
        assertTrue(errors().stream().anyMatch(l -> l.contains("defines no channel")), errors().toString());

        channels(home, webhook("ops", ops, "")); // no SIGHUP: the watch sees the file
        await().atMost(Duration.ofSeconds(90)).until(() -> !ops.requests().isEmpty());
        assertEquals(List.of("disk disk problem critical"), about(ops, "disk"));
        assertFalse(home.samples("agent/alert", s -> s.get("tags").get("result").asText().equals("sent")).isEmpty(),
                "alerting's own samples go where every sample goes");
    }
}
