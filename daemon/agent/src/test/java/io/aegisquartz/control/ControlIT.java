package io.aegisquartz.control;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.aegisquartz.testing.AgentHome;
import io.aegisquartz.testing.StartedProcesses;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * 'aegis-quartz status' and 'run-now' against a real agent started by its launcher, as an operator
 * runs them: real processes, the real socket, other users by setpriv (CI runs as root).
 */
class ControlIT {

    static final Path REPO = Path.of(System.getProperty("aegis.repo", "../..")).toAbsolutePath().normalize();
    static final Path LAUNCHER = REPO.resolve("daemon/bin/aegis-quartz");
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @RegisterExtension
    final StartedProcesses started = new StartedProcesses();

    /** What a command printed and how it exited. */
    record Result(int exit, String out, String err) {
        @Override
        public String toString() {
            return "exit " + exit + "\n--- stdout\n" + out + "--- stderr\n" + err;
        }
    }

    private Process launchAgent(AgentHome home) throws IOException {
        return launchAgent(home, null);
    }

    /** Starts the agent with its launcher; {@code javaOpts}, if not null, go to its JVM (AEGIS_JAVA_OPTS). */
    private Process launchAgent(AgentHome home, String javaOpts) throws IOException {
        ProcessBuilder pb = new ProcessBuilder("sh", LAUNCHER.toString(), "--home", home.home().toString(), "run")
                .redirectErrorStream(true).redirectOutput(dir.resolve("agent.out").toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.environment().remove("AEGIS_CONF");
        if (javaOpts != null) {
            pb.environment().put("AEGIS_JAVA_OPTS", javaOpts);
        }
        return started.add(pb.start());
    }

    /** Runs the launcher with {@code args} (after {@code prefix}, e.g. setpriv ... as another user) to completion. */
    private Result cli(List<String> prefix, AgentHome home, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.add(LAUNCHER.toString());
        cmd.add("--home");
        cmd.add(home.home().toString());
        cmd.addAll(List.of(args));
        return run(cmd);
    }

    /** Runs {@code cmd} to completion. */
    private Result run(List<String> cmd) throws Exception {
        Path out = Files.createTempFile(dir, "out", ".txt");
        Path err = Files.createTempFile(dir, "err", ".txt");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.environment().remove("AEGIS_HOME");
        pb.environment().remove("AEGIS_CONF");
        Process p = started.add(pb.start());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "finished: " + cmd);
        return new Result(p.exitValue(), Files.readString(out), Files.readString(err));
    }

    private Result cli(AgentHome home, String... args) throws Exception {
        return cli(List.of(), home, args);
    }

    /** The agent's status, asked in this JVM with the same client the CLI uses (cheaper than a JVM per poll). */
    private static JsonNode status(AgentHome home) {
        JsonNode[] answer = new JsonNode[1];
        try {
            new ControlClient(home.home().resolve("state/control.sock")).exchange(ControlClient.request("status", null), 10_000, line -> {
                answer[0] = line;
                return 0;
            });
        } catch (IOException e) {
            return null;
        }
        return answer[0];
    }

    /** The job named {@code name} in a status answer; a missing node (every field missing) while the agent is still starting. */
    private static JsonNode job(JsonNode status, String name) {
        for (JsonNode j : status.path("jobs")) {
            if (j.path("name").asText().equals(name)) {
                return j;
            }
        }
        return com.fasterxml.jackson.databind.node.MissingNode.getInstance();
    }

    private static JsonNode hold(JsonNode job, String kind) {
        for (JsonNode h : job.path("held")) {
            if (h.path("kind").asText().equals(kind)) {
                return h;
            }
        }
        return null;
    }

    private static boolean holds(AgentHome home, String job, String kind, Predicate<JsonNode> also) {
        JsonNode s = status(home);
        JsonNode h = s == null ? null : hold(job(s, job), kind);
        return h != null && also.test(h);
    }

    private static String log(AgentHome home) throws IOException {
        Path f = home.home().resolve("log/aegis_quartz.log");
        return Files.exists(f) ? Files.readString(f) : "";
    }

    @Test
    void timedOutShedBackedOffJobsAndAFailingOutputShowTheirReasonAndUntilWhenAndRunNowFiresThroughTheAgent() throws Exception {
        int closedPort;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = s.getLocalPort(); // nothing listens there once closed: the upload fails with "connection refused"
        }
        AgentHome home = new AgentHome(dir.resolve("home"), "[plugins]\nwatch = false\n[limits]\nbackoff_after = 2\n"
                + "[governor]\ncpu_max = 10\nwindow = 2s\nshed_for = 1h\n[upload]\nendpoint = https://127.0.0.1:" + closedPort
                + "/aegis/v1/samples\nlinger = 0\nbackoff_max = 2s\n");
        home.credentials("AKID-control", "control-secret", "rw-------");
        home.userPlugin("hang.sh", "#!/bin/sh\nsleep 30\n");
        home.userPlugin("broken.sh", "#!/bin/sh\necho 'no such table' >&2\nexit 7\n");
        // About half a core, so the governor sheds it (as in GovernorIT).
        home.userPlugin("burn.sh", "#!/bin/sh\nend=$(( $(date +%s) + 1 ))\nwhile [ $(date +%s) -lt $end ]; do :; done\necho OK\n");
        home.userPlugin("tick.sh", "#!/bin/sh\necho 'OK - tick'\n");
        home.userPlugin("warn.sh", "#!/bin/sh\necho 'WARNING - disk 91% full'\nexit 1\n");
        Path release = dir.resolve("release");
        home.userPlugin("gate.sh", "#!/bin/sh\nwhile [ ! -f " + release + " ]; do sleep 0.1; done\necho 'OK - released'\n");
        home.cron("aegis_quartz.conf.user", """
                [* * * * * ?] name=slow timeout=1s kill_grace=200ms user/hang.sh
                [* * * * * ?] name=broken user/broken.sh
                [0/2 * * * * ?] name=burn user/burn.sh
                [* * * * * ?] name=tick user/tick.sh
                [0 0 3 * * ?] name=later user/warn.sh
                [0 0 3 * * ?] name=gate timeout=60s user/gate.sh
                """);
        launchAgent(home);

        await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(500)).until(() -> {
            JsonNode s = status(home);
            return s != null && holds(home, "slow", "backoff", h -> true) && holds(home, "broken", "backoff", h -> true)
                    && holds(home, "burn", "shed", h -> true) && s.path("outputs").path(0).path("failing_since_ms").isNumber();
        });
        JsonNode s = status(home);
        long now = s.path("now_ms").asLong();
        JsonNode slow = job(s, "slow");
        assertEquals("timeout", slow.path("state").asText(), slow.toString());
        assertTrue(slow.path("last_run").path("message").asText().startsWith("timeout: stopped at the 1s wall-time limit"), slow.toString());
        assertTrue(hold(slow, "backoff").path("until_ms").asLong() > hold(slow, "backoff").path("since_ms").asLong(), slow.toString());
        JsonNode broken = job(s, "broken");
        assertEquals("error", broken.path("state").asText());
        assertTrue(broken.path("last_run").path("message").asText().contains("no such table"), broken.toString());
        assertTrue(hold(broken, "backoff").path("message").asText().matches("backing off after \\d+ consecutive failed runs; next run not before "
                + "\\d\\d:\\d\\d:\\d\\d"), broken.toString());
        JsonNode shed = hold(job(s, "burn"), "shed");
        assertTrue(shed.path("reason").asText().startsWith("its runs used "), shed.toString());
        assertTrue(Math.abs(shed.path("until_ms").asLong() - (shed.path("since_ms").asLong() + 3_600_000)) < 1_000, "shed for 1h: " + shed);
        JsonNode out = s.path("outputs").path(0);
        assertEquals("aegis", out.path("name").asText()); // [upload] endpoint is the output named aegis
        assertTrue(out.path("last_error").asText().contains("Connection refused"), out.toString());
        assertTrue(out.path("pending").asLong() > 0 && now - out.path("failing_since_ms").asLong() >= 0, out.toString());
        assertTrue(out.path("pending_bytes").asLong() > 0 && s.path("spool").path("bytes").asLong() >= out.path("pending_bytes").asLong(),
                s.path("spool") + " " + out);

        // What an operator reads: every reason with its time, in 80 columns, exit 1 (running with problems).
        Result text = cli(home, "status");
        assertEquals(1, text.exit, text.toString());
        for (String expected : List.of("running, ", "shed by the governor until ", "backing off after ",
                "timeout: stopped at the 1s wall-time limit", "failing since ", "Connection refused", "no such table")) {
            assertTrue(text.out.contains(expected), expected + " in\n" + text);
        }
        assertTrue(text.out.lines().allMatch(l -> l.length() <= 80), "80 columns:\n" + text.out);
        assertFalse(text.out.contains("\u001b["), "no colour when not on a terminal");
        Result one = cli(home, "status", "burn");
        assertEquals(1, one.exit, one.toString());
        assertTrue(one.out.matches("(?s).*held +shed by the governor until \\d\\d:\\d\\d:\\d\\d: its runs used .*"), one.toString());
        assertTrue(one.out.contains("plugin      user/burn.sh"), one.toString());
        assertTrue(one.out.contains("Last ") && one.out.contains(" run(s), newest first"), one.toString());

        // run-now: a job due only at 03:00 runs now, through the agent, and says how it ended.
        Result later = cli(home, "run-now", "later");
        assertEquals(1, later.exit, "a warning: Nagios exit code 1\n" + later);
        assertTrue(later.out.contains("job later: warning in ") && later.out.contains("WARNING - disk 91% full"), later.toString());
        assertEquals(1, job(status(home), "later").path("runs_total").asInt());
        Result held = cli(home, "run-now", "burn");
        assertEquals(4, held.exit, held.toString());
        assertTrue(held.out.contains("job burn did not run: shed by the governor until "), held.toString());

        // A run in progress: a second run-now says so.
        Path gateOut = dir.resolve("gate.out");
        ProcessBuilder gateRun = new ProcessBuilder(LAUNCHER.toString(), "--home", home.home().toString(), "run-now", "gate")
                .redirectErrorStream(true).redirectOutput(gateOut.toFile());
        gateRun.environment().remove("AEGIS_CONF");
        Process gate = started.add(gateRun.start());
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(300))
                .until(() -> status(home) != null && job(status(home), "gate").path("running_since_ms").isNumber());
        Result busy = cli(home, "run-now", "gate");
        assertEquals(4, busy.exit, busy.toString());
        assertTrue(busy.out.contains("job gate did not run: running already (started "), busy.toString());
        Files.writeString(release, "");
        assertTrue(gate.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, gate.exitValue(), Files.readString(gateOut));
        assertTrue(Files.readString(gateOut).contains("job gate: ok in "), Files.readString(gateOut));

        // Garbage, oversized, slow and too many requests: each is answered or dropped, the agent goes on.
        Path sock = home.home().resolve("state/control.sock");
        List<SocketChannel> idle = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(sock));
            c.write(ByteBuffer.wrap("{\"cmd\":".getBytes(StandardCharsets.UTF_8))); // and never the rest
            idle.add(c);
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> exchange(sock, "{\"cmd\":\"status\"}\n").contains("\"error\":\"busy\""));
        for (SocketChannel c : idle) {
            c.close();
        }
        await().atMost(Duration.ofSeconds(20)).until(() -> status(home) != null);
        assertTrue(exchange(sock, "this is not json\n").contains("\"error\":\"bad_request\""));
        assertTrue(exchange(sock, "\u00ff\u00fe not utf-8\n").contains("\"error\":\"bad_request\""));
        assertTrue(exchange(sock, "[".repeat(3000) + "\n").contains("\"error\":\"bad_request\""));
        assertTrue(exchange(sock, "{\"cmd\":\"status\",\"v\":99}\n").contains("\"error\":\"unsupported_version\""));
        assertTrue(exchange(sock, "{\"cmd\":\"run-now\",\"job\":\"nosuch\"}\n").contains("\"error\":\"no_such_job\""));
        String tooLong = exchange(sock, "{\"cmd\":\"status\",\"job\":\"" + "x".repeat(5000) + "\"}\n");
        assertTrue(tooLong.contains("\"error\":\"too_long\""), tooLong);
        sendFlood(sock, 64 << 20);
        int ticks = job(status(home), "tick").path("runs_total").asInt();
        try {
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(500))
                    .until(() -> job(status(home), "tick").path("runs_total").asInt() >= ticks + 3);
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            throw new AssertionError("tick goes on ticking after the flood: " + job(status(home), "tick") + "\n" + log(home), e);
        }
        Result after = cli(home, "status", "--json");
        assertEquals(1, after.exit, after.toString());
        assertEquals("running", JSON.readTree(after.out).path("state").asText());
        String agentLog = log(home);
        assertFalse(agentLog.contains("unexpected error"), agentLog);
        assertTrue(agentLog.contains("control socket: refused a connection: 8 already open"),
                "refused connections and bad requests are logged, at most once a minute: " + agentLog);
    }

    /** Sends {@code request} as bytes (chars below 256 as one byte each) and reads the answer to its end. */
    private static String exchange(Path sock, String request) throws IOException {
        try (SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(sock))) {
            byte[] b = new byte[request.length()];
            for (int i = 0; i < b.length; i++) {
                b[i] = (byte) request.charAt(i);
            }
            c.write(ByteBuffer.wrap(b));
            ByteBuffer in = ByteBuffer.allocate(1 << 20);
            while (c.read(in) >= 0 && in.hasRemaining()) {
                // until the agent closes
            }
            return new String(in.array(), 0, in.position(), StandardCharsets.UTF_8);
        }
    }

    /** Writes up to {@code bytes} without a newline until the agent hangs up. */
    private static void sendFlood(Path sock, long bytes) throws IOException {
        try (SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(sock))) {
            ByteBuffer chunk = ByteBuffer.allocate(1 << 16);
            for (long sent = 0; sent < bytes; sent += chunk.capacity()) {
                chunk.clear();
                c.write(chunk);
            }
        } catch (IOException e) {
            // Expected: the agent answered too_long and closed after the first 4 KiB.
        }
    }

    @Test
    void theSocketRefusesUsersOutsideTheGroupAndStatusSaysWhenTheAgentIsNotRunning() throws Exception {
        Assumptions.assumeTrue("root".equals(System.getProperty("user.name")), "needs root to run clients as other users (CI runs as root)");
        // Other users must be able to reach the config and the socket's directory, as the RPM's group can.
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        // No CPU budget: an agent over it in its first minute would not be "healthy".
        AgentHome home = new AgentHome(dir.resolve("home"), "[plugins]\nwatch = false\n[governor]\ncpu_max = 0\n");
        home.userPlugin("tick.sh", "#!/bin/sh\necho 'OK - tick'\n");
        home.userPlugin("exit.groovy", "System.exit(3)\n");
        // 'once' and 'exit' are due only at 03:00: they run when run-now says so, never on their own.
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] name=tick user/tick.sh\n[0 0 3 * * ?] name=once user/tick.sh\n"
                + "[0 0 3 * * ?] name=exit isolation=inproc user/exit.groovy\n"); // in the agent's JVM, which it can end
        Path sock = home.home().resolve("state/control.sock");

        Result before = cli(home, "status");
        assertEquals(3, before.exit, before.toString());
        assertTrue(before.out.contains("the agent is not running: there is no control socket " + sock), before.toString());
        // A socket file left by an agent that died: nothing answers on it.
        Files.createDirectories(sock.getParent());
        try (ServerSocketChannel stale = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            stale.bind(UnixDomainSocketAddress.of(sock));
        }
        Result staleRun = cli(home, "status", "--json");
        assertEquals(3, staleRun.exit, staleRun.toString());
        assertEquals("not_running", JSON.readTree(staleRun.out).path("type").asText(), staleRun.toString());

        Path classes = dir.resolve("classes.txt");
        Process agent = launchAgent(home, "-Xlog:class+load=info:file=" + classes);
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(300)).until(() -> status(home) != null
                && job(status(home), "tick").path("runs_total").asInt() > 0);
        assertEquals("rw-rw----", PosixFilePermissions.toString(Files.getPosixFilePermissions(sock)), "the stale socket was replaced");

        List<String> nobody = List.of("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--");
        Result denied = cli(nobody, home, "status");
        assertEquals(4, denied.exit, denied.toString());
        assertTrue(denied.err.contains("permission denied: " + sock + " is owned by root, group root, mode rw-rw----"), denied.toString());

        // In the agent's group (here root's, as its primary group): answered.
        Result member = cli(List.of("setpriv", "--reuid=nobody", "--regid=0", "--clear-groups", "--"), home, "status");
        assertEquals(0, member.exit, member.toString());
        assertTrue(member.out.contains(": running, healthy"), member.toString());

        // On a terminal (script(1) gives the command one), in colour: green for healthy.
        Result tty = run(List.of("script", "-qec", LAUNCHER + " --home " + home.home() + " status", "/dev/null"));
        assertEquals(0, tty.exit, tty.toString());
        assertTrue(tty.out.contains("\u001b[32mhealthy\u001b[0m"), tty.toString());

        // Someone widened the socket's mode: the agent's own check of the caller still refuses.
        Files.setPosixFilePermissions(sock, PosixFilePermissions.fromString("rw-rw-rw-"));
        Result refused = cli(nobody, home, "status");
        assertEquals(4, refused.exit, refused.toString());
        assertTrue(refused.err.contains("permission denied: user nobody (group nogroup) is neither root, root nor in group root"),
                refused.toString());
        Result refusedRun = cli(nobody, home, "run-now", "tick");
        assertEquals(4, refusedRun.exit, refusedRun.toString());
        assertTrue(log(home).contains("control socket: refused a connection: user nobody"), log(home));
        Result ran = cli(home, "run-now", "once");
        assertEquals(0, ran.exit, ran.toString());
        // Answers are written with jackson-core's generator: an ObjectMapper is 3-4 MB the agent would keep.
        // (Its class alone may be loaded by the verifier; building one loads its serializer factory.)
        List<String> loaded = Files.readAllLines(classes);
        assertTrue(loaded.stream().anyMatch(l -> l.contains(" io.aegisquartz.control.ControlServer ")), "the class-load log works");
        int mapper = 0;
        while (mapper < loaded.size() && !loaded.get(mapper).contains(" com.fasterxml.jackson.databind.ser.")) {
            mapper++;
        }
        assertEquals(loaded.size(), mapper, "answering status and run-now built no ObjectMapper in the agent; loaded up to the first:\n"
                + String.join("\n", loaded.subList(Math.max(0, mapper - 40), Math.min(loaded.size(), mapper + 1))));

        // A plugin that ends the agent: the launcher starts it again and the job is quarantined, which
        // status shows with its reason and what releases it (it never ends by itself).
        long firstPid = status(home).path("pid").asLong();
        cli(home, "run-now", "exit"); // the agent goes away under this client: it exits 4 or 1, no matter
        await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(500)).until(() -> {
            JsonNode st = status(home);
            return st != null && st.path("pid").asLong() != firstPid && hold(job(st, "exit"), "quarantined") != null;
        });
        JsonNode q = hold(job(status(home), "exit"), "quarantined");
        assertTrue(q.path("reason").asText().startsWith("this run called System.exit and ended the agent (exit code 3)"), q.toString());
        assertTrue(q.path("until_ms").isNull(), q.toString());
        assertEquals("its plugin file changes or 'aegis-quartz unquarantine' releases it", q.path("released_by").asText(), q.toString());
        assertTrue(q.path("message").asText().startsWith("quarantined: this run called System.exit"), q.toString());
        Result quarantined = cli(home, "status", "exit");
        assertEquals(1, quarantined.exit, quarantined.toString());
        assertTrue(quarantined.out.contains("quarantined: this run called System.exit"), quarantined.toString());
        assertTrue(quarantined.out.replaceAll("\\s+", " ").contains("(held until its plugin file changes or 'aegis-quartz unquarantine' "
                + "releases it)"), quarantined.toString());
        Result all = cli(home, "status");
        assertEquals(1, all.exit, all.toString());
        assertTrue(all.out.lines().allMatch(l -> l.length() <= 80), "80 columns:\n" + all.out);
        Result notRun = cli(home, "run-now", "exit");
        assertEquals(4, notRun.exit, notRun.toString());
        assertTrue(notRun.out.contains("job exit did not run: quarantined: this run called System.exit"), notRun.toString());

        new ProcessBuilder("kill", "-TERM", Long.toString(agent.pid())).start().waitFor();
        assertTrue(agent.waitFor(30, TimeUnit.SECONDS));
        assertFalse(Files.exists(sock), "the socket goes with the agent");
        Result after = cli(home, "status");
        assertEquals(3, after.exit, after.toString());
    }
}
