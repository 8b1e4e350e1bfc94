package io.aegisquartz.alert;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.aegisquartz.agent.Agent;
import io.aegisquartz.output.OutputState;
import io.aegisquartz.testing.AgentHome;
import io.aegisquartz.testing.HookServer;
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
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The agent's own events through a real agent (in this JVM, its scheduler, spool, output workers and
 * alerting thread) to a webhook on loopback: an output whose backend (a real HTTP server on loopback)
 * refuses is notified once after [alert] output_after failed sends, without the secrets its error
 * quotes, and once as recovered when the backend accepts again; the samples the spool dropped for it
 * are notified with their exact count; a reload with a broken cron line is notified with its file and
 * line, once, and its recovery once; a job removed while bad is resolved once and forgotten.
 */
class AgentEventsIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    /** What a hostile or careless backend (or a proxy before it) answers: our endpoint, with credentials, quoted back. */
    private static final String ECHO = "upstream failed for https://aegis:hunter2@influx.example/write?db=aegis&p=s3cr3t-token";

    @TempDir
    Path dir;

    private HookServer backend;
    private HookServer hook;
    private volatile boolean backendUp;
    private Agent agent;

    @BeforeEach
    void servers() throws IOException {
        backend = new HookServer();
        backend.answer(r -> backendUp ? new HookServer.Answer(204, "") : new HookServer.Answer(503, ECHO));
        hook = new HookServer();
    }

    @AfterEach
    void stop() {
        if (agent != null) {
            agent.stop();
        }
        backend.close();
        hook.close();
    }

    private AgentHome home(String extra) throws IOException {
        AgentHome home = new AgentHome(dir.resolve("home"), "[plugins]\nwatch = false\n"
                + "[alert]\ngroup_wait = 1s\nagent_notify = hook\noutput_after = 3\n" + extra
                + "[output.metrics]\ntype = influx\nendpoint = " + backend.url("") + "\ndatabase = aegis\nallow_http_loopback = true\n"
                + "backoff_max = 1s\nlinger = 0s\n"
                + "[output.local]\ntype = file\nfile = log/samples.jsonl\n");
        Path ini = home.conf().resolve("aegis_notify.ini");
        Files.writeString(ini, "[channel.hook]\ntype = webhook\nurl = " + hook.url("/hook") + "\n");
        Files.setPosixFilePermissions(ini, PosixFilePermissions.fromString("rw-------"));
        home.userPlugin("tick.sh", "#!/bin/sh\necho '{\"metric\":\"tick\",\"values\":{\"n\":1}}'\n");
        return home;
    }

    private Agent start(AgentHome home) throws Exception {
        agent = new Agent(home.settings());
        agent.start();
        return agent;
    }

    /** Every event the webhook received, in order. */
    private List<JsonNode> events() {
        List<JsonNode> out = new ArrayList<>();
        for (HookServer.Request r : hook.requests()) {
            try {
                JSON.readTree(r.body()).get("events").forEach(out::add);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return out;
    }

    /** The agent's events about {@code metric}, as "kind status". */
    private List<String> about(String metric) {
        return events().stream().filter(e -> e.get("job").asText().equals("agent") && e.get("metric").asText().equals(metric))
                .map(e -> e.get("kind").asText() + " " + e.get("status").asText()).toList();
    }

    private OutputState state(String name) {
        return agent.outputStates().stream().filter(s -> s.name().equals(name)).findFirst().orElseThrow();
    }

    @Test
    void anOutputThatRefusesIsNotifiedOnceWithoutSecretsAndItsRecoveryOnce() throws Exception {
        AgentHome home = home("");
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] user/tick.sh\n");
        start(home);

        await().atMost(Duration.ofSeconds(90)).until(() -> about("output metrics").size() >= 1);
        int sends = backend.requests().size();
        await().atMost(Duration.ofSeconds(60)).until(() -> backend.requests().size() >= sends + 4);
        assertEquals(List.of("problem error"), about("output metrics"), "once, however long it refuses");
        JsonNode problem = events().stream().filter(e -> e.get("metric").asText().equals("output metrics")).findFirst().orElseThrow();
        String told = problem.get("message").asText();
        assertTrue(told.contains("output metrics (influx)") && told.contains("503") && told.contains("consecutive send(s) failed"), told);
        String everything = hook.requests().stream().map(HookServer.Request::body).reduce("", String::concat);
        assertFalse(everything.contains("hunter2") || everything.contains("s3cr3t-token"), everything);
        assertTrue(told.contains("aegis:***@influx.example") && told.contains("p=***"), told);
        assertTrue(state("metrics").lastError() != null && !state("metrics").lastError().contains("hunter2"), "nor in status and the log");

        backendUp = true;
        await().atMost(Duration.ofSeconds(60)).until(() -> about("output metrics").size() >= 2);
        long sent = state("metrics").sentSamples();
        await().atMost(Duration.ofSeconds(60)).until(() -> state("metrics").sentSamples() >= sent + 3);
        assertEquals(List.of("problem error", "recovery ok"), about("output metrics"));
        assertEquals(List.of(), about("output local"), "the healthy output is never told");
    }

    @Test
    void samplesTheSpoolDroppedForAnOutputAreNotifiedWithTheirExactCount() throws Exception {
        // 20 samples of ~3 KB a second fill a 1 MiB spool in well under a minute while the backend refuses.
        AgentHome home = home("[spool]\nmax_size = 1MiB\n");
        home.userPlugin("big.sh", "#!/bin/sh\npad=$(printf '%3000s' '' | tr ' ' x)\nfor i in $(seq 1 20); do\n"
                + "  echo \"{\\\"metric\\\":\\\"big$i\\\",\\\"message\\\":\\\"$pad\\\",\\\"values\\\":{\\\"n\\\":$i}}\"\ndone\n");
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] user/big.sh\n");
        start(home);

        await().atMost(Duration.ofSeconds(120)).until(() -> state("metrics").dropped() > 0);
        assertEquals(0, state("local").dropped(), "the file output keeps up: nothing of its is dropped");
        // While it is down its drop report cannot go out, but the loss is told at once (within a retry).
        await().atMost(Duration.ofSeconds(60)).until(() -> about("spool").contains("event dropping"));
        backendUp = true;
        await().atMost(Duration.ofSeconds(120)).until(() -> !about("spool").isEmpty() && notifiedDrops() == state("metrics").dropped());
        assertEquals("event dropping", about("spool").get(0), about("spool").toString());
        assertTrue(about("spool").stream().skip(1).allMatch(k -> k.equals("event dropped")), about("spool").toString());
        for (JsonNode e : events()) {
            if (e.get("metric").asText().equals("spool") && e.get("status").asText().equals("dropped")) {
                assertTrue(e.get("message").asText().contains("before output metrics sent them"), e.toString());
            }
        }
        long total = state("metrics").dropped();
        await().atMost(Duration.ofSeconds(60)).until(() -> state("metrics").pendingSamples() < 100);
        assertEquals(total, notifiedDrops(), "every sample dropped is in a notification, none twice");
    }

    private static final Pattern COUNT = Pattern.compile("^(\\d+) unsent sample");

    private long notifiedDrops() {
        long n = 0;
        for (JsonNode e : events()) {
            if (e.get("metric").asText().equals("spool") && e.get("status").asText().equals("dropped")) {
                Matcher m = COUNT.matcher(e.get("message").asText());
                assertTrue(m.find(), e.toString());
                n += Long.parseLong(m.group(1));
            }
        }
        return n;
    }

    @Test
    void aReloadWithABrokenLineIsNotifiedOnceWithItsFileAndLineAndItsRecoveryOnce() throws Exception {
        backendUp = true;
        AgentHome home = home("");
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] user/tick.sh\n");
        start(home);

        home.cron("aegis_quartz.conf.user", "[* * * * * ?] user/tick.sh\n[0 0/5 * * ?] name=broken user/tick.sh\n");
        agent.reload("SIGHUP");
        await().atMost(Duration.ofSeconds(30)).until(() -> about("reload").size() >= 1);
        agent.reload("SIGHUP"); // the same problem again: told already
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] user/tick.sh\n[0 0/5 * * ?] name=broken user/tick.sh\n");
        agent.reload("SIGHUP");
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] user/tick.sh\n");
        agent.reload("SIGHUP");
        await().atMost(Duration.ofSeconds(30)).until(() -> about("reload").size() >= 2);
        assertEquals(List.of("problem error", "recovery ok"), about("reload"));
        String told = events().stream().filter(e -> e.get("metric").asText().equals("reload")).findFirst().orElseThrow().get("message").asText();
        assertTrue(told.contains("aegis_quartz.conf.user:2") && told.contains("SIGHUP"), told);
    }

    @Test
    void aJobRemovedWhileBadIsResolvedOnceAndItsStateForgotten() throws Exception {
        backendUp = true;
        AgentHome home = home("");
        home.userPlugin("disk.sh", "#!/bin/sh\necho 'DISK CRITICAL - full'\nexit 2\n");
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] user/tick.sh\n[* * * * * ?] name=disk notify=hook user/disk.sh\n");
        start(home);
        await().atMost(Duration.ofSeconds(60)).until(() -> events().stream().anyMatch(e -> e.get("job").asText().equals("disk")));

        home.cron("aegis_quartz.conf.user", "[* * * * * ?] user/tick.sh\n");
        agent.reload("SIGHUP");
        await().atMost(Duration.ofSeconds(30)).until(() -> events().stream().filter(e -> e.get("job").asText().equals("disk")).count() >= 2);
        List<String> disk = events().stream().filter(e -> e.get("job").asText().equals("disk"))
                .map(e -> e.get("kind").asText() + " " + e.get("status").asText() + " " + e.get("previous").asText()).toList();
        assertEquals(List.of("problem critical ", "removed removed critical"), disk);
        Path stateFile = home.settings().stateDir().resolve("alerts/state.json");
        await().atMost(Duration.ofSeconds(30)).until(() -> Files.exists(stateFile) && !Files.readString(stateFile).contains("\"disk\""));
        agent.stop();
        agent = null;
        start(home);
        int runs = home.samples("user/tick.sh", s -> true).size();
        await().atMost(Duration.ofSeconds(30)).until(() -> home.samples("user/tick.sh", s -> true).size() >= runs + 3);
        assertEquals(2, events().stream().filter(e -> e.get("job").asText().equals("disk")).count(), "nothing again after a restart");
    }
}
