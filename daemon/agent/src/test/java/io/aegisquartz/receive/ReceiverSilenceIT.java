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
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The seed's two-minute rule, at process level: {@code aegis-quartz receive --silence-after 8s --notify
 * robot} (a real process) with two real agents (processes) uploading to it, their health samples every
 * second as the heartbeat, and a WeCom-compatible robot over HTTPS on loopback. One agent is killed
 * with {@code kill -9}: exactly one silent message, about it; none about the other; the receiver is
 * killed with {@code kill -9} and started again: no second silent message; then, when the agent
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
        // The receiver is restarted on the same port, which the agents are configured with: a free one now.
        int listen;
        try (java.net.ServerSocket probe = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            listen = probe.getLocalPort();
        }
        Process receiver = receiver(rhome, creds, received, listen, "receiver-1");
        String out = AgentHome.text(dir.resolve("receiver-1.out"));
        Matcher pem = Pattern.compile("certificate to trust: (\\S+)").matcher(out);
        assertTrue(pem.find(), out);
        String port = Integer.toString(listen);

        AgentHome a = agentHome("agent-a", "11111111-2222-4333-8444-555555555555", port, pem.group(1));
        AgentHome b = agentHome("agent-b", "66666666-7777-4888-8999-aaaaaaaaaaaa", port, pem.group(1));
        Process pa = agent(a, "a-1");
        agent(b, "b");
        await().atMost(Duration.ofSeconds(90)).until(() -> heartbeats(received, "agent-a") >= 3 && heartbeats(received, "agent-b") >= 3);
        assertEquals(List.of(), titles(), "both agents send: nobody is silent");

        AgentProcesses.kill9(pa);
        await().atMost(Duration.ofSeconds(90)).until(() -> !robot.requests().isEmpty());
        // Another silence time and more: the killed agent stays silent, the other keeps sending.
        int bBefore = heartbeats(received, "agent-b");
        await().atMost(Duration.ofSeconds(90)).until(() -> heartbeats(received, "agent-b") >= bBefore + 12);
        List<String> titles = titles();
        assertEquals(1, titles.size(), titles.toString());
        assertTrue(titles.get(0).contains("SILENT") && titles.get(0).contains("agent-a"), titles.toString());

        // The receiver itself is killed and started again: agent-a stays silent, and is not notified again.
        // (Once the delivery is on record: a kill between the send and the record would send it again, with its id.)
        Path state = dir.resolve("receiver-state/alerts/state.json");
        await().atMost(Duration.ofSeconds(30)).until(() -> delivered(state) == 1);
        AgentProcesses.kill9(receiver);
        receiver(rhome, creds, received, listen, "receiver-2");
        int bAgain = heartbeats(received, "agent-b");
        await().atMost(Duration.ofSeconds(90)).until(() -> heartbeats(received, "agent-b") >= bAgain + 12);
        titles = titles();
        assertEquals(1, titles.size(), "no second silent message after the receiver's restart: " + titles);

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

    /** Starts 'receive --silence-after 8s --notify robot' on 127.0.0.1:PORT and waits until it listens. */
    private Process receiver(AgentHome rhome, Path creds, Path received, int port, String name) throws IOException {
        Path out = dir.resolve(name + ".out");
        Process p = AgentProcesses.start(started, out, "--home", rhome.home().toString(), "receive", "--listen", "127.0.0.1:" + port,
                "--credentials", creds.toString(), "--out", received.toString(), "--state-dir", dir.resolve("receiver-state").toString(),
                "--silence-after", "8s", "--notify", "robot");
        await().atMost(Duration.ofSeconds(60)).until(() -> AgentHome.text(out).contains("certificate to trust: "));
        return p;
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

    /** Messages the receiver's state file records as delivered to the robot, with none in flight; -1 otherwise. */
    private static long delivered(Path state) throws IOException {
        JsonNode robot = JSON.readTree(AgentHome.text(state).isEmpty() ? "{}" : AgentHome.text(state)).path("channels").path("robot");
        return robot.path("current").isNull() || robot.path("current").isMissingNode() ? robot.path("delivered").asLong(-1) : -1;
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
