package io.aegisquartz.receive;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.aegisquartz.testing.AgentHome;
import io.aegisquartz.testing.AgentProcesses;
import io.aegisquartz.testing.HookServer;
import io.aegisquartz.testing.StartedProcesses;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The seed's two-minute rule, at process level: {@code aegis-quartz receive --silence-after 8s --notify
 * robot} (a real process) with two real agents (processes) uploading to it, their health samples every
 * second as the heartbeat, and a WeCom-compatible robot over HTTPS on loopback. One agent is killed
 * with {@code kill -9}: exactly one silent message, about it; none about the other; then, when it
 * starts again, exactly one back.
 */
class ReceiverSilenceIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String SECRET = "silence-it-secret-7f3a";

    @TempDir
    Path dir;

    @RegisterExtension
    final StartedProcesses started = new StartedProcesses();

    private HookServer robot;

    @AfterEach
    void stop() {
        if (robot != null) {
            robot.close();
        }
    }

    @Test
    void aKilledAgentIsNotifiedSilentOnceTheOtherNeverAndBackOnceWhenItStartsAgain() throws Exception {
        robot = HookServer.https(Files.createDirectories(dir.resolve("robot")));
        AgentHome rhome = new AgentHome(dir.resolve("receiver"), "[alert]\ngroup_wait = 1s\n");
        Path notify = rhome.conf().resolve("aegis_notify.ini");
        Files.writeString(notify, "[channel.robot]\ntype = wecom\nurl = " + robot.url("/cgi-bin/webhook/send?key=robot-key")
                + "\nca_file = " + robot.caPem() + "\n");
        Files.setPosixFilePermissions(notify, PosixFilePermissions.fromString("rw-------"));
        Path creds = rhome.credentials("AK-silence", SECRET, "rw-------");
        Path received = dir.resolve("received.jsonl");
        Path receiverOut = dir.resolve("receiver.out");
        AgentProcesses.start(started, receiverOut, "--home", rhome.home().toString(), "receive", "--listen", "127.0.0.1:0",
                "--credentials", creds.toString(), "--out", received.toString(), "--state-dir", dir.resolve("receiver-state").toString(),
                "--silence-after", "8s", "--notify", "robot");
        await().atMost(Duration.ofSeconds(60)).until(() -> AgentHome.text(receiverOut).contains("certificate to trust: "));
        Matcher port = Pattern.compile("listening on https://[^:]+:(\\d+)/").matcher(AgentHome.text(receiverOut));
        assertTrue(port.find(), AgentHome.text(receiverOut));
        Matcher pem = Pattern.compile("certificate to trust: (\\S+)").matcher(AgentHome.text(receiverOut));
        assertTrue(pem.find());

        AgentHome a = agentHome("agent-a", "11111111-2222-4333-8444-555555555555", port.group(1), pem.group(1));
        AgentHome b = agentHome("agent-b", "66666666-7777-4888-8999-aaaaaaaaaaaa", port.group(1), pem.group(1));
        Process pa = agent(a, "a-1");
        agent(b, "b");
        await().atMost(Duration.ofSeconds(90)).until(() -> heartbeats(received, "agent-a") >= 3 && heartbeats(received, "agent-b") >= 3);
        assertEquals(List.of(), titles(), "both agents send: nobody is silent");

        kill9(pa);
        await().atMost(Duration.ofSeconds(90)).until(() -> !robot.requests().isEmpty());
        // Another silence time and more: the killed agent stays silent, the other keeps sending.
        int bBefore = heartbeats(received, "agent-b");
        await().atMost(Duration.ofSeconds(90)).until(() -> heartbeats(received, "agent-b") >= bBefore + 12);
        List<String> titles = titles();
        assertEquals(1, titles.size(), titles.toString());
        assertTrue(titles.get(0).contains("SILENT") && titles.get(0).contains("agent-a"), titles.toString());

        int aBefore = heartbeats(received, "agent-a");
        agent(a, "a-2");
        await().atMost(Duration.ofSeconds(90)).until(() -> robot.requests().size() >= 2);
        await().atMost(Duration.ofSeconds(90)).until(() -> heartbeats(received, "agent-a") >= aBefore + 12);
        titles = titles();
        assertEquals(2, titles.size(), titles.toString());
        assertTrue(titles.get(1).contains("BACK") && titles.get(1).contains("agent-a"), titles.toString());
        assertTrue(titles.stream().noneMatch(t -> t.contains("agent-b")), titles.toString());
        assertTrue(!robot.requests().get(0).body().equals(robot.requests().get(1).body()));
    }

    /** An agent home uploading to the receiver, with its own host uuid and name, health samples every second, no job. */
    private AgentHome agentHome(String name, String uuid, String port, String pem) throws IOException {
        AgentHome h = new AgentHome(dir.resolve(name), "[agent]\nhostname = " + name + "\nhealth_interval = 1s\n[plugins]\nwatch = false\n"
                + "[upload]\nendpoint = https://127.0.0.1:" + port + Receiver.PATH + "\nca_file = " + pem + "\nlinger = 0\nbackoff_max = 1s\n");
        Files.writeString(h.conf().resolve("uuid"), uuid + "\n");
        h.credentials("AK-silence", SECRET, "rw-------");
        return h;
    }

    private Process agent(AgentHome h, String run) throws IOException {
        return AgentProcesses.start(started, dir.resolve(run + ".out"), "--home", h.home().toString(), "run");
    }

    /** kill -9 by PID, as an operator or the OOM killer would, then waits for it to be gone. */
    private static void kill9(Process p) throws Exception {
        Process kill = new ProcessBuilder("kill", "-9", Long.toString(p.pid())).inheritIO().start();
        assertEquals(0, kill.waitFor());
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    }

    /** The health samples (the heartbeat) the receiver stored from {@code host}. */
    private static int heartbeats(Path received, String host) {
        int n = 0;
        for (String line : AgentHome.wholeLines(received)) {
            try {
                JsonNode s = JSON.readTree(line);
                if (s.path("hostname").asText().equals(host) && s.path("job").asText().equals("agent/health")
                        && s.path("metric").asText().equals("agent.process")) {
                    n++;
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return n;
    }

    /** The first line of each message the robot received. */
    private List<String> titles() throws IOException {
        List<String> out = new ArrayList<>();
        for (HookServer.Request r : robot.requests()) {
            String content = JSON.readTree(r.body()).get("markdown").get("content").asText();
            out.add(content.substring(0, content.indexOf('\n') < 0 ? content.length() : content.indexOf('\n')));
        }
        return out;
    }
}
