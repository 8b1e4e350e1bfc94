package io.aegisquartz.alert;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.icegreen.greenmail.util.GreenMail;
import io.aegisquartz.agent.Agent;
import io.aegisquartz.testing.HookServer;
import io.aegisquartz.testing.AgentHome;
import jakarta.mail.internet.MimeMessage;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A real agent (in this JVM, on a real home, with its scheduler, plugin runner, sink and alerting
 * thread) whose user plugin fails: the problem reaches a WeCom-compatible robot on loopback HTTP and a
 * real SMTP server (GreenMail, TLS and AUTH) once, the recovery once, every delivery is an
 * alert.notification sample, and a restart while the job is bad notifies nothing again.
 */
class AlertAgentIT {

    private static final ObjectMapper JSON = new ObjectMapper();

    private static Path caPem;

    @TempDir
    Path dir;

    private HookServer robot;
    private GreenMail mail;
    private final List<Agent> agents = new ArrayList<>();

    @org.junit.jupiter.api.extension.RegisterExtension
    final io.aegisquartz.testing.StartedProcesses started = new io.aegisquartz.testing.StartedProcesses();

    @BeforeAll
    static void makeServerKey() throws Exception {
        caPem = SmtpsServer.makeKey();
    }

    @BeforeEach
    void servers() throws Exception {
        robot = new HookServer();
        mail = SmtpsServer.start();
    }

    @AfterEach
    void stop() {
        agents.forEach(Agent::stop);
        robot.close();
        mail.stop();
    }

    private AgentHome home() throws Exception {
        AgentHome home = new AgentHome(dir, "[plugins]\nwatch = false\n[alert]\ngroup_wait = 1s\n");
        Path ini = home.conf().resolve("aegis_notify.ini");
        Files.writeString(ini, "[channel.robot]\ntype = wecom\nurl = " + robot.url("/cgi-bin/webhook/send?key=robot-key") + "\n\n"
                + "[channel.mail]\ntype = email\nhost = 127.0.0.1\nport = " + mail.getSmtps().getPort() + "\nsecurity = tls\n"
                + "username = aegis\npassword = s3cret-pw\nfrom = aegis@example.com\nto = ops@example.com\nca_file = " + caPem + "\n");
        Files.setPosixFilePermissions(ini, PosixFilePermissions.fromString("rw-------"));
        // A Nagios-style plugin: critical (exit 2) while the flag file exists.
        home.userPlugin("disk.sh", "#!/bin/sh\nif [ -e " + dir.resolve("broken") + " ]; then echo 'DISK CRITICAL - 磁盘已满 / full'; exit 2; fi\n"
                + "echo 'DISK OK'\nexit 0\n");
        home.cron("aegis_quartz.conf.user", "[0/1 * * * * ?] name=disk notify=robot,mail after=2 user/disk.sh\n");
        return home;
    }

    private Agent start(AgentHome home) throws Exception {
        Agent a = new Agent(home.settings());
        agents.add(a);
        a.start();
        return a;
    }

    private List<String> robotTitles() throws Exception {
        List<String> out = new ArrayList<>();
        for (HookServer.Request r : robot.requests()) {
            String content = JSON.readTree(r.body()).get("markdown").get("content").asText();
            out.add(content.substring(0, content.indexOf('\n')));
        }
        return out;
    }

    private int runs(AgentHome home) {
        return home.samples("disk", s -> true).size();
    }

    @Test
    void aFailingPluginIsNotifiedOnceToEachChannelAndItsRecoveryOnce() throws Exception {
        AgentHome home = home();
        Files.createFile(dir.resolve("broken"));
        Agent agent = start(home);

        await().atMost(Duration.ofSeconds(90)).until(() -> robot.requests().size() >= 1 && mail.getReceivedMessages().length >= 1);
        int seen = runs(home);
        await().atMost(Duration.ofSeconds(60)).until(() -> runs(home) >= seen + 4);
        assertEquals(1, robot.requests().size(), robotTitles().toString());
        assertEquals(1, mail.getReceivedMessages().length);
        assertTrue(robotTitles().get(0).contains("CRITICAL") && robotTitles().get(0).contains("disk"), robotTitles().toString());
        MimeMessage m = mail.getReceivedMessages()[0];
        assertTrue(m.getSubject().contains("[CRITICAL]") && m.getSubject().contains("disk"), m.getSubject());
        assertTrue(((String) m.getContent()).contains("磁盘已满"), (String) m.getContent());
        List<JsonNode> bad = home.samples("disk", s -> s.get("status").asText().equals("critical"));
        assertTrue(bad.size() >= 2);

        Files.delete(dir.resolve("broken"));
        await().atMost(Duration.ofSeconds(90)).until(() -> robot.requests().size() >= 2 && mail.getReceivedMessages().length >= 2);
        int seen2 = runs(home);
        await().atMost(Duration.ofSeconds(60)).until(() -> runs(home) >= seen2 + 4);
        assertEquals(2, robot.requests().size(), robotTitles().toString());
        assertEquals(2, mail.getReceivedMessages().length);
        assertTrue(robotTitles().get(1).contains("RECOVERED"), robotTitles().toString());

        List<JsonNode> notes = home.samples("agent/alert", s -> s.get("metric").asText().equals("alert.notification"));
        assertEquals(4, notes.size(), notes.toString());
        for (JsonNode n : notes) {
            assertEquals("ok", n.get("status").asText());
            assertEquals("sent", n.get("tags").get("result").asText());
        }
        assertEquals(2, notes.stream().filter(n -> n.get("tags").get("channel").asText().equals("robot")).count());
        agent.stop();
    }

    @Test
    void aRestartWhileTheJobIsBadNotifiesNothingAgain() throws Exception {
        AgentHome home = home();
        Files.createFile(dir.resolve("broken"));
        Agent first = start(home);
        await().atMost(Duration.ofSeconds(90)).until(() -> robot.requests().size() >= 1 && mail.getReceivedMessages().length >= 1);
        first.stop();

        start(home);
        int seen = runs(home);
        await().atMost(Duration.ofSeconds(60)).until(() -> runs(home) >= seen + 5);
        assertEquals(1, robot.requests().size(), robotTitles().toString());
        assertEquals(1, mail.getReceivedMessages().length);

        Files.delete(dir.resolve("broken"));
        await().atMost(Duration.ofSeconds(90)).until(() -> robot.requests().size() >= 2);
        assertTrue(robotTitles().get(1).contains("RECOVERED"), robotTitles().toString());
    }

    /** A home for an agent process: one job failing every second (after=1) notified to a webhook on loopback. */
    private AgentHome processHome(HookServer hook) throws Exception {
        AgentHome home = new AgentHome(dir, "[plugins]\nwatch = false\n[alert]\ngroup_wait = 1s\n");
        Path ini = home.conf().resolve("aegis_notify.ini");
        Files.writeString(ini, "[channel.hook]\ntype = webhook\nurl = " + hook.url("/hook") + "\ntimeout = 30s\n");
        Files.setPosixFilePermissions(ini, PosixFilePermissions.fromString("rw-------"));
        home.userPlugin("disk.sh", "#!/bin/sh\necho 'DISK CRITICAL - full'\nexit 2\n");
        home.cron("aegis_quartz.conf.user", "[0/1 * * * * ?] name=disk notify=hook user/disk.sh\n");
        return home;
    }

    private Process agentProcess(AgentHome home, String name) throws Exception {
        return io.aegisquartz.testing.AgentProcesses.start(started, dir.resolve(name + ".out"), "--home", home.home().toString(), "run");
    }

    private static List<String> ids(HookServer hook) {
        return hook.requests().stream().map(r -> r.header("X-Aegis-Notification-Id")).toList();
    }

    private static List<String> kinds(HookServer hook) throws Exception {
        List<String> out = new ArrayList<>();
        for (HookServer.Request r : hook.requests()) {
            for (JsonNode e : JSON.readTree(r.body()).get("events")) {
                out.add(e.get("kind").asText() + " " + e.get("status").asText() + " " + e.get("job").asText());
            }
        }
        return out;
    }

    @Test
    void killNineWhileTheChannelIsDownThenRestartDeliversTheDueNotificationExactlyOnce() throws Exception {
        try (HookServer hook = new HookServer()) {
            java.util.concurrent.atomic.AtomicInteger accepted = new java.util.concurrent.atomic.AtomicInteger();
            hook.answer(r -> HookServer.DOWN);
            AgentHome home = processHome(hook);
            Process first = agentProcess(home, "agent-1");
            // Due, composed, saved, attempted and failed: then the agent dies between attempts.
            await().atMost(Duration.ofSeconds(90)).until(() -> hook.requests().size() >= 1);
            io.aegisquartz.testing.AgentProcesses.kill9(first);
            int failedAttempts = hook.requests().size();
            String id = ids(hook).get(0);
            assertEquals(List.of(id), ids(hook).stream().distinct().toList(), "every attempt carries the message's id");

            hook.answer(r -> {
                accepted.incrementAndGet();
                return HookServer.OK;
            });
            agentProcess(home, "agent-2");
            await().atMost(Duration.ofSeconds(90)).until(() -> accepted.get() >= 1);
            // The job keeps failing every second: wait for more runs, then nothing more may have been sent.
            int seen = runs(home);
            await().atMost(Duration.ofSeconds(60)).until(() -> runs(home) >= seen + 5);
            assertEquals(1, accepted.get(), "delivered once after the restart: " + kinds(hook));
            assertEquals(failedAttempts + 1, hook.requests().size(), kinds(hook).toString());
            assertEquals(List.of(id), ids(hook).stream().distinct().toList(), "the message delivered is the one that was due, same id");
            assertEquals("problem critical disk", kinds(hook).get(kinds(hook).size() - 1));
        }
    }

    @Test
    void killNineWhileTheChannelHoldsTheRequestSendsItAgainWithTheSameIdOnly() throws Exception {
        try (HookServer hook = new HookServer()) {
            java.util.concurrent.CountDownLatch held = new java.util.concurrent.CountDownLatch(1);
            hook.hold(held);
            AgentHome home = processHome(hook);
            Process first = agentProcess(home, "agent-1");
            // The channel has the message and has not answered: the agent dies after the send, before the record.
            assertTrue(hook.awaitFirst(90));
            io.aegisquartz.testing.AgentProcesses.kill9(first);
            hook.hold(null);
            held.countDown();

            agentProcess(home, "agent-2");
            await().atMost(Duration.ofSeconds(90)).until(() -> hook.requests().size() >= 2);
            int seen = runs(home);
            await().atMost(Duration.ofSeconds(60)).until(() -> runs(home) >= seen + 5);
            assertEquals(2, hook.requests().size(), "sent again once, the only duplicate there can be: " + kinds(hook));
            assertEquals(ids(hook).get(0), ids(hook).get(1), "with the same id, for a receiver that deduplicates");
            assertEquals(hook.requests().get(0).body(), hook.requests().get(1).body(), "the same message");
            assertEquals(List.of("problem critical disk", "problem critical disk"), kinds(hook));
        }
    }
}
