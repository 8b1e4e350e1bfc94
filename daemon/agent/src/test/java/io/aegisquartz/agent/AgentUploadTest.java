package io.aegisquartz.agent;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.aegisquartz.receive.Receiver;
import io.aegisquartz.testing.AgentHome;
import io.aegisquartz.output.aegis.Credentials;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The agent with an upload endpoint: runs, spool, uploader and the reference receiver, over real HTTPS. */
class AgentUploadTest {

    private static final String SECRET = "agent-upload-secret-7f3a9c";

    @TempDir
    Path dir;

    private final List<AutoCloseable> open = new ArrayList<>();
    private Agent agent;

    @AfterEach
    void stop() throws Exception {
        if (agent != null) {
            agent.stop();
        }
        for (AutoCloseable c : open) {
            c.close();
        }
    }

    private Receiver receiver(int port) throws Exception {
        Receiver r = Receiver.start(new Receiver.Config().listen(new InetSocketAddress("127.0.0.1", port))
                .out(dir.resolve("received.jsonl")).stateDir(dir.resolve("receiver"))
                .credentials(List.of(Credentials.of("AKID-agent", SECRET, null))));
        open.add(r);
        return r;
    }

    /** Where a receiver was, and the certificate it made: started once for these, then stopped (an outage). */
    private record Down(int port, Path pem) {
    }

    private Down downReceiver() throws Exception {
        Receiver first = receiver(0);
        Down down = new Down(first.address().getPort(), first.certificatePem());
        first.close();
        return down;
    }

    private AgentHome home(int port, Path pem, String credentialsMode) throws IOException {
        AgentHome home = new AgentHome(dir.resolve("home"), "[plugins]\nwatch = false\n[upload]\nendpoint = https://127.0.0.1:"
                + port + Receiver.PATH + "\nca_file = " + pem + "\nbackoff_max = 1s\nlinger = 1s\n");
        home.credentials("AKID-agent", SECRET, credentialsMode);
        home.userPlugin("tick.sh", "#!/bin/sh\necho '{\"metric\":\"tick\",\"values\":{\"n\":1}}'\necho '{\"metric\":\"tock\",\"values\":{\"n\":2}}'\n");
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] user/tick.sh\n");
        return home;
    }

    private List<String> receivedJobs() throws IOException {
        Path f = dir.resolve("received.jsonl");
        List<String> out = new ArrayList<>();
        if (Files.exists(f)) {
            ObjectMapper json = new ObjectMapper();
            for (String line : AgentHome.wholeLines(f)) {
                out.add(json.readTree(line).get("job").asText());
            }
        }
        return out;
    }

    @Test
    void samplesAreSpooledAndUploadedAndArriveAfterAnOutage() throws Exception {
        Down gone = downReceiver();
        int port = gone.port();
        Path pem = gone.pem();
        AgentHome home = home(port, pem, "rw-------");
        agent = new Agent(home.settings());
        agent.start();

        // The receiver is down: runs go on, their samples wait in the spool.
        await().atMost(Duration.ofSeconds(10)).until(() -> Files.exists(home.home().resolve("spool")));
        assertFalse(Files.exists(home.samplesFile()), "with an endpoint, samples go to the spool, not the sink file");
        receiver(port);

        await().atMost(Duration.ofSeconds(20)).until(() -> receivedJobs().stream().filter("user/tick.sh"::equals).count() >= 6);
        agent.stop();
        // Nothing written anywhere but the credentials file carries the secret.
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                if (!f.getFileName().toString().equals("credentials")) {
                    String text = new String(Files.readAllBytes(f), StandardCharsets.ISO_8859_1);
                    assertFalse(text.contains(SECRET), "the secret leaked into " + f);
                }
            }
        }
    }

    /** The event samples the receiver stored, as JSON. */
    private List<com.fasterxml.jackson.databind.JsonNode> receivedEvents() throws IOException {
        List<com.fasterxml.jackson.databind.JsonNode> out = new ArrayList<>();
        Path f = dir.resolve("received.jsonl");
        ObjectMapper json = new ObjectMapper();
        for (String line : AgentHome.wholeLines(f)) {
            com.fasterxml.jackson.databind.JsonNode s = json.readTree(line);
            if (s.get("job").asText().equals("agent/event")) {
                out.add(s);
            }
        }
        return out;
    }

    /** An agent that uploads to {@code r} and runs no job: only events reach the receiver. */
    private AgentHome eventHome(Receiver r) throws IOException {
        AgentHome home = new AgentHome(dir.resolve("home"), "[plugins]\nwatch = false\n[upload]\nendpoint = https://127.0.0.1:"
                + r.address().getPort() + Receiver.PATH + "\nca_file = " + r.certificatePem() + "\nbackoff_max = 1s\nlinger = 0\n");
        home.credentials("AKID-agent", SECRET, "rw-------");
        home.cron("aegis_quartz.conf.user", "");
        return home;
    }

    /**
     * docs/SPOOL.md: a crash between the spool append and the deletion of an event file delivers the
     * event again. Modelled with a real file: delivered, then put back byte for byte, then picked up
     * by the next start. The receiver must see the same sample id twice and keep one.
     */
    @Test
    void anEventFileDeliveredAgainAfterACrashIsStoredOnce() throws Exception {
        Receiver r = receiver(0);
        AgentHome home = eventHome(r);
        Path file = io.aegisquartz.spool.EventInbox.write(home.home().resolve("spool"), "backup.failed", "rsync exit 23", null,
                System.currentTimeMillis());
        byte[] bytes = Files.readAllBytes(file);
        agent = new Agent(home.settings());
        agent.start();
        await().atMost(Duration.ofSeconds(30)).until(() -> receivedEvents().size() == 1 && !Files.exists(file));
        agent.stop();

        Files.write(file, bytes); // what the crash leaves: the event is in the spool and still in incoming/
        agent = new Agent(home.settings());
        agent.start();
        await().atMost(Duration.ofSeconds(30)).until(() -> r.stats().duplicateSamples() == 1 && !Files.exists(file));
        assertEquals(1, receivedEvents().size(), "the second delivery carried the first one's id and was dropped");
        assertEquals("backup.failed", receivedEvents().get(0).get("tags").get("name").asText());
    }

    /**
     * An event file the agent cannot delete is delivered again at every start (docs/SPOOL.md): a real
     * undeletable file (immutable as root, in a read-only folder otherwise), two more starts, one
     * stored sample.
     */
    @Test
    void anEventFileThatCannotBeDeletedIsStoredOnceHoweverOftenItIsSent() throws Exception {
        Receiver r = receiver(0);
        AgentHome home = eventHome(r);
        Path file = io.aegisquartz.spool.EventInbox.write(home.home().resolve("spool"), "disk.replaced", "sdb", "storage",
                System.currentTimeMillis());
        Runnable release = makeUndeletable(file);
        try {
            for (int start = 1; start <= 3; start++) {
                agent = new Agent(home.settings());
                agent.start();
                int sent = start;
                // Every start sends it once more; all but the first are duplicates.
                await().atMost(Duration.ofSeconds(30)).until(() -> r.stats().acceptedSamples() + r.stats().duplicateSamples() == sent);
                agent.stop();
                assertTrue(Files.exists(file), "the file could not be deleted, so the next start sends it again");
            }
            assertEquals(2, r.stats().duplicateSamples());
            assertEquals(1, receivedEvents().size());
        } finally {
            release.run();
        }
    }

    /**
     * Makes {@code file} impossible for this process to delete, and returns what undoes it: as root
     * (CI) the immutable attribute, which even root cannot unlink through; otherwise a folder without
     * write permission. Skips the test if neither holds on this file system.
     */
    private static Runnable makeUndeletable(Path file) throws Exception {
        Path folder = file.getParent();
        if ("root".equals(System.getProperty("user.name"))) {
            Process p = new ProcessBuilder("chattr", "+i", file.toString()).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            org.junit.jupiter.api.Assumptions.assumeTrue(p.waitFor() == 0, "chattr +i does not work here: " + out);
            return () -> {
                try {
                    new ProcessBuilder("chattr", "-i", file.toString()).inheritIO().start().waitFor();
                } catch (IOException | InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            };
        }
        var before = Files.getPosixFilePermissions(folder);
        Files.setPosixFilePermissions(folder, java.nio.file.attribute.PosixFilePermissions.fromString("r-x------"));
        return () -> {
            try {
                Files.setPosixFilePermissions(folder, before);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        };
    }

    @Test
    void aCredentialsFileOthersCanReadStopsTheStartWithTheFix() throws Exception {
        Receiver r = receiver(0);
        AgentHome home = home(r.address().getPort(), r.certificatePem(), "rw-r--r--");
        agent = new Agent(home.settings());

        Agent.StartException e = assertThrows(Agent.StartException.class, agent::start);
        assertTrue(e.getMessage().contains("chmod 600"), e.getMessage());
        assertFalse(e.getMessage().contains(SECRET));
        assertEquals(0, receivedJobs().size());
    }

    @Test
    void everyOutputGetsEverySampleAtItsOwnPaceAndOneThatIsDownCatchesUpWithoutLoss() throws Exception {
        Down gone = downReceiver();
        int port = gone.port();
        Path pem = gone.pem();
        AgentHome home = new AgentHome(dir.resolve("home"), "[plugins]\nwatch = false\n"
                + "[output.central]\ntype = aegis\nendpoint = https://127.0.0.1:" + port + Receiver.PATH + "\nca_file = " + pem
                + "\nbackoff_max = 1s\nlinger = 1s\n"
                + "[output.local]\ntype = file\nfile = log/local.jsonl\n");
        home.credentials("AKID-agent", SECRET, "rw-------");
        home.userPlugin("tick.sh", "#!/bin/sh\necho '{\"metric\":\"tick\",\"values\":{\"n\":1}}'\n");
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] user/tick.sh\n");
        agent = new Agent(home.settings());
        agent.start();
        Path local = home.home().resolve("log/local.jsonl");

        // The receiver is down: the local file keeps getting every run; central keeps them in the spool.
        await().atMost(Duration.ofSeconds(20)).until(() -> AgentHome.wholeLines(local).size() >= 4);
        assertFalse(Files.exists(home.samplesFile()), "with outputs configured, [sink] is not one of them");
        await().atMost(Duration.ofSeconds(20)).until(() -> state("central").failing() && state("central").pendingSamples() >= 2);
        io.aegisquartz.output.OutputState down = state("central");
        assertTrue(down.lastError() != null && down.oldestPendingAgeMillis() >= 0, down.toString());
        assertEquals(-1, state("local").failingSinceMillis());

        receiver(port);
        await().atMost(Duration.ofSeconds(30)).until(() -> !state("central").failing() && state("central").lastSuccessMillis() > 0);
        agent.stop();
        List<String> locally = new ArrayList<>();
        for (String line : AgentHome.wholeLines(local)) {
            locally.add(new ObjectMapper().readTree(line).get("id").asText());
        }
        List<String> central = new ArrayList<>();
        for (String line : AgentHome.wholeLines(dir.resolve("received.jsonl"))) {
            central.add(new ObjectMapper().readTree(line).get("id").asText());
        }
        // What central had not sent when the agent stopped is still in the spool, for the next start.
        try (io.aegisquartz.spool.Spool spool = io.aegisquartz.spool.Spool.open(home.home().resolve("spool"),
                io.aegisquartz.spool.SpoolConfig.defaults(), List.of("central", "local"), null)) {
            for (io.aegisquartz.spool.SpoolBatch b; !(b = spool.cursor("central").read(1000, Long.MAX_VALUE)).isEmpty(); ) {
                for (io.aegisquartz.spool.SpoolRecord r : b.records()) {
                    central.add(new ObjectMapper().readTree(r.payload()).get("id").asText());
                }
            }
            assertEquals(0, spool.cursor("local").stats().pendingRecords(), "the file got everything before the stop");
        }
        assertTrue(locally.size() >= 4);
        assertEquals(new java.util.HashSet<>(locally), new java.util.HashSet<>(central),
                "both outputs got the same samples, the one that was down included (or still has them pending)");
        assertEquals(locally.size(), new java.util.HashSet<>(locally).size(), "none twice in the file");
    }

    private io.aegisquartz.output.OutputState state(String name) {
        return agent.outputStates().stream().filter(s -> s.name().equals(name)).findFirst().orElseThrow();
    }
}
