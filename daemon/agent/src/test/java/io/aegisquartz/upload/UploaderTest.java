package io.aegisquartz.upload;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.aegisquartz.receive.Receiver;
import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.SampleJson;
import io.aegisquartz.sample.SampleStamper;
import io.aegisquartz.sample.Status;
import io.aegisquartz.spool.Spool;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The uploader against the real reference receiver, over real HTTPS on loopback. */
class UploaderTest {

    private static final String SECRET = "s3cr3t-never-logged-5b1f";
    private static final Credentials KEY = Credentials.of("AKID-test", SECRET, null);
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private final List<AutoCloseable> open = new ArrayList<>();
    private ListAppender<ILoggingEvent> logged;
    private Spool spool;

    @BeforeEach
    void captureLog() throws IOException {
        logged = new ListAppender<>();
        logged.start();
        Logger root = (Logger) LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME);
        root.addAppender(logged);
        ((Logger) LoggerFactory.getLogger("upload")).setLevel(Level.DEBUG);
        spool = Spool.open(dir.resolve("spool"), io.aegisquartz.spool.SpoolConfig.defaults(), java.util.List.of("aegis"), null);
        open.add(spool);
    }

    @AfterEach
    void closeAndCheckTheSecretStayedSecret() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
        ((Logger) LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME)).detachAppender(logged);
        for (ILoggingEvent e : events()) {
            assertFalse(e.getFormattedMessage().contains(SECRET), "secret in the log: " + e.getFormattedMessage());
        }
    }

    private Receiver receiver(int port, int maxBody) throws Exception {
        Receiver r = Receiver.start(new Receiver.Config().listen(new InetSocketAddress("127.0.0.1", port))
                .out(dir.resolve("received.jsonl")).stateDir(dir.resolve("receiver")).credentials(List.of(KEY)).maxBody(maxBody));
        open.add(r);
        return r;
    }

    private UploadConfig config(int port, Path pem) {
        return UploadConfig.defaults(URI.create("https://127.0.0.1:" + port + Receiver.PATH), dir.resolve("dead-letter.jsonl"))
                .withCaFile(pem).withBackoff(Duration.ofMillis(50), Duration.ofMillis(400)).withLinger(Duration.ZERO);
    }

    private Uploader uploader(UploadConfig c) throws IOException {
        Uploader u = Uploader.start(spool.cursor("aegis"), c, KEY, "3d1219c7-c4c5-404a-aa1f-6d2a48adfda4");
        open.add(u);
        return u;
    }

    /** Swaps the test's spool for a new one whose append times come from {@code clock}. */
    private void reopenSpoolWithClock(java.util.function.LongSupplier clock) throws IOException {
        spool.close();
        open.remove(spool);
        spool = Spool.open(dir.resolve("spool2"), io.aegisquartz.spool.SpoolConfig.defaults().withClock(clock), java.util.List.of("aegis"), null);
        open.add(spool);
    }

    /** Appends {@code n} samples the way the agent will: one spool append per run. */
    private List<String> append(int n, String statusOverride) throws IOException {
        List<Measurement> ms = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            ms.add(new Measurement(System.currentTimeMillis(), "m", Status.OK, null, Map.of("i", (double) i), Map.of(), Map.of()));
        }
        List<String> ids = new ArrayList<>();
        List<byte[]> records = new ArrayList<>();
        for (var s : new SampleStamper("3d1219c7-c4c5-404a-aa1f-6d2a48adfda4", "h").stamp("j", "p", ms, 1, 1, false)) {
            String json = SampleJson.toJson(s);
            if (statusOverride != null && ids.size() == n / 2) {
                json = json.replace("\"status\":\"ok\"", "\"status\":\"" + statusOverride + "\"");
            }
            ids.add(s.id());
            records.add(json.getBytes(StandardCharsets.UTF_8));
        }
        spool.append(records);
        return ids;
    }

    private Map<String, Integer> received() throws IOException {
        Map<String, Integer> count = new HashMap<>();
        Path f = dir.resolve("received.jsonl");
        if (Files.exists(f)) {
            // Whole lines only: the receiver may be appending the next one right now.
            for (String line : io.aegisquartz.testing.AgentHome.wholeLines(f)) {
                if (!line.isBlank()) {
                    count.merge(JSON.readTree(line).get("id").asText(), 1, Integer::sum);
                }
            }
        }
        return count;
    }

    private void awaitAll(List<String> ids) {
        await().atMost(Duration.ofSeconds(30)).until(() -> received().keySet().containsAll(ids));
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** A snapshot: the uploader thread appends while a test reads, and ListAppender guards its list with itself. */
    private List<ILoggingEvent> events() {
        synchronized (logged) {
            return new ArrayList<>(logged.list);
        }
    }

    /** Lines at INFO or above (what a person tailing the log sees by default) containing {@code fragment}. */
    private long logCount(String fragment) {
        return events().stream().filter(e -> e.getLevel().isGreaterOrEqual(Level.INFO))
                .filter(e -> e.getFormattedMessage().contains(fragment)).count();
    }

    @Test
    void samplesWaitForADownReceiverAndEachArrivesExactlyOnce() throws Exception {
        // A first start only to create the receiver's certificate, which the agent is told to trust.
        Receiver first = receiver(0, Receiver.DEFAULT_MAX_BODY);
        Path pem = first.certificatePem();
        first.close();
        int port = freePort();
        List<String> ids = append(250, null);
        Uploader u = uploader(config(port, pem));
        u.wakeUp();
        await().atMost(Duration.ofSeconds(10)).until(() -> logCount("upload failing since") == 1);

        receiver(port, Receiver.DEFAULT_MAX_BODY);

        awaitAll(ids);
        assertTrue(received().values().stream().allMatch(c -> c == 1), "each id stored once");
        await().atMost(Duration.ofSeconds(10)).until(() -> spool.cursor("aegis").stats().pendingRecords() == 0);
        await().atMost(Duration.ofSeconds(10)).until(() -> logCount("upload recovered after") >= 1);
        assertEquals(1, logCount("upload recovered after"));
        assertTrue(events().stream().anyMatch(e -> e.getFormattedMessage().matches(
                "upload failing since .*\\(250 samples, \\d+ bytes pending\\)")), "the outage line says what is pending");
    }

    @Test
    void runsThatComeWithinTheLingerShareOneRequest() throws Exception {
        Receiver r = receiver(0, Receiver.DEFAULT_MAX_BODY);
        Uploader u = uploader(config(r.address().getPort(), r.certificatePem()).withLinger(Duration.ofSeconds(3)));
        List<String> ids = append(5, null);
        u.wakeUp();
        // Nothing goes out in the first second of the 3 s linger ...
        await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(2)).until(() -> u.stats().requests() == 0);
        // ... so the next run's samples join the first run's.
        ids.addAll(append(7, null));
        u.wakeUp();

        awaitAll(ids);
        assertEquals(1, u.stats().requests(), "two runs, one request");
        await().atMost(Duration.ofSeconds(10)).until(() -> spool.cursor("aegis").stats().pendingRecords() == 0);
    }

    @Test
    void aFullBatchDoesNotWaitForTheLinger() throws Exception {
        Receiver r = receiver(0, Receiver.DEFAULT_MAX_BODY);
        Uploader u = uploader(config(r.address().getPort(), r.certificatePem()).withBatch(20, 500_000).withLinger(Duration.ofMinutes(10)));
        List<String> ids = append(8, null);
        u.wakeUp();
        await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(2)).until(() -> u.stats().requests() == 0);
        ids.addAll(append(12, null));
        u.wakeUp();

        awaitAll(ids); // within awaitAll's limit, not the 10 minutes
        assertEquals(1, u.stats().requests());
    }

    @Test
    void closingSendsWhatIsLingeringFirst() throws Exception {
        Receiver r = receiver(0, Receiver.DEFAULT_MAX_BODY);
        Uploader u = uploader(config(r.address().getPort(), r.certificatePem()).withLinger(Duration.ofMinutes(10)));
        List<String> ids = append(6, null);
        u.wakeUp();
        await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(2)).until(() -> u.stats().requests() == 0);

        u.close();
        assertEquals(new java.util.HashSet<>(ids), received().keySet(), "sent before close() returned");
        assertEquals(0, spool.cursor("aegis").stats().pendingRecords(), "and acknowledged in the spool");
    }

    @Test
    void closingDoesNotWaitForADownReceiver() throws Exception {
        Receiver first = receiver(0, Receiver.DEFAULT_MAX_BODY);
        Path pem = first.certificatePem();
        first.close();
        Uploader u = uploader(config(freePort(), pem).withLinger(Duration.ofMinutes(10)).withBackoff(Duration.ofMinutes(1), Duration.ofMinutes(1)));
        append(6, null);
        u.wakeUp();

        long t0 = System.nanoTime();
        u.close();
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(ms < Uploader.FLUSH_ON_CLOSE_MS + 5_000, "close() took " + ms + " ms");
        assertEquals(6, spool.cursor("aegis").stats().pendingRecords(), "still in the spool, for the next start");
    }

    @Test
    void samplesSpooledBeforeTheUploaderStartsWaitTheirLingerToo() throws Exception {
        // The linger counts from the sample's append, not from when the uploader thread first looked.
        Receiver r = receiver(0, Receiver.DEFAULT_MAX_BODY);
        List<String> ids = append(5, null);
        Uploader u = uploader(config(r.address().getPort(), r.certificatePem()).withLinger(Duration.ofSeconds(3)));
        u.wakeUp();
        await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(2)).until(() -> u.stats().requests() == 0);

        awaitAll(ids);
        assertEquals(1, u.stats().requests());
    }

    @Test
    void samplesOlderThanTheLingerGoOutAtOnce() throws Exception {
        // A backlog (an outage, a restart) has waited long enough: a 10-minute linger does not hold it.
        reopenSpoolWithClock(() -> System.currentTimeMillis() - 700_000);
        Receiver r = receiver(0, Receiver.DEFAULT_MAX_BODY);
        Uploader u = uploader(config(r.address().getPort(), r.certificatePem()).withLinger(Duration.ofMinutes(10)));
        List<String> ids = append(5, null);
        u.wakeUp();

        awaitAll(ids); // within awaitAll's limit, not the 10 minutes
    }

    @Test
    void retryAfterIsHonoured() throws Exception {
        Receiver r = receiver(0, Receiver.DEFAULT_MAX_BODY);
        r.failNext(1, 503, 2);
        List<String> ids = append(10, null);
        long t0 = System.nanoTime();
        uploader(config(r.address().getPort(), r.certificatePem())).wakeUp();

        awaitAll(ids);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(ms >= 1_900, "waited the 2 s Retry-After, not our 50 ms backoff: " + ms + " ms");
    }

    @Test
    void aBatchTooLargeForTheReceiverIsSplit() throws Exception {
        Receiver r = receiver(0, 16 * 1024);
        List<String> ids = append(100, null);
        Uploader u = uploader(config(r.address().getPort(), r.certificatePem()));
        u.wakeUp();

        awaitAll(ids);
        assertTrue(u.stats().requests() >= 3, "100 samples of ~330 bytes do not fit 16 KiB in one request");
        assertFalse(Files.exists(dir.resolve("dead-letter.jsonl")), "splitting lost nothing");
    }

    @Test
    void aPoisonedSampleGoesToTheDeadLetterFileAndOnlyIt() throws Exception {
        Receiver r = receiver(0, Receiver.DEFAULT_MAX_BODY);
        List<String> ids = append(20, "bogus");
        String poisoned = ids.get(10);
        Uploader u = uploader(config(r.address().getPort(), r.certificatePem()));
        u.wakeUp();

        List<String> good = new ArrayList<>(ids);
        good.remove(poisoned);
        awaitAll(good);
        assertFalse(received().containsKey(poisoned));
        List<String> dead = Files.readAllLines(dir.resolve("dead-letter.jsonl"));
        assertEquals(1, dead.size());
        JsonNode d = JSON.readTree(dead.get(0));
        assertEquals(poisoned, d.get("sample").get("id").asText());
        assertEquals(400, d.get("status").asInt());
        assertTrue(d.get("reason").asText().contains("status"), d.toString());
        assertEquals(1, u.stats().deadLettered());
    }

    @Test
    void aRefusedSampleThatCannotBeDeadLetteredStaysInTheSpoolWhenTheUploaderStops() throws Exception {
        Receiver r = receiver(0, Receiver.DEFAULT_MAX_BODY);
        Path notADir = Files.writeString(dir.resolve("not-a-dir"), "x");
        UploadConfig c = UploadConfig.defaults(URI.create("https://127.0.0.1:" + r.address().getPort() + Receiver.PATH),
                notADir.resolve("dead-letter.jsonl")).withCaFile(r.certificatePem())
                .withBackoff(Duration.ofMillis(50), Duration.ofMillis(400)).withLinger(Duration.ZERO);
        append(1, "bogus");
        Uploader u = uploader(c);
        u.wakeUp();
        await().atMost(Duration.ofSeconds(30)).until(() -> logCount("cannot write the dead-letter file") >= 2);

        u.close();
        assertEquals(1, spool.cursor("aegis").stats().pendingRecords(), "neither delivered nor kept, so not acknowledged: sent again after a restart");
        assertEquals(0, u.stats().deadLettered());
    }

    @Test
    void refusedCredentialsForAWhileLoseNothingAndAreLoggedOnce() throws Exception {
        Receiver r = receiver(0, Receiver.DEFAULT_MAX_BODY);
        r.failNext(4, 403, 0);
        List<String> ids = append(30, null);
        uploader(config(r.address().getPort(), r.certificatePem())).wakeUp();

        awaitAll(ids);
        // The receiver stores a batch before the agent reads its 2xx, so the recovery line may lag the last id.
        await().atMost(Duration.ofSeconds(10)).until(() -> logCount("upload recovered after") >= 1);
        assertEquals(1, logCount("refuses our credentials"), "logged once per change of state, not per attempt");
        assertEquals(1, logCount("upload recovered after"));
    }

    @Test
    void liveSamplesAreNotStuckBehindALongBacklog() throws Exception {
        // A spool whose backlog was appended ten minutes ago (the spool's clock is the append time).
        java.util.concurrent.atomic.AtomicLong clock = new java.util.concurrent.atomic.AtomicLong(System.currentTimeMillis() - 600_000);
        reopenSpoolWithClock(clock::get);
        List<String> backlog = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            backlog.addAll(append(100, null));
        }
        clock.set(System.currentTimeMillis());
        Receiver r = receiver(0, Receiver.DEFAULT_MAX_BODY);
        // 50 samples a request, 4 requests a second: the backlog of 2,000 takes about 10 s.
        UploadConfig slow = new UploadConfig(URI.create("https://127.0.0.1:" + r.address().getPort() + Receiver.PATH),
                r.certificatePem(), false, 50, 500_000, 4, Duration.ofMillis(50), Duration.ofMillis(400), Duration.ofSeconds(10),
                dir.resolve("dead-letter.jsonl"), null, null, Duration.ZERO);
        Uploader u = uploader(slow);
        u.wakeUp();

        List<String> fresh = new ArrayList<>();
        List<byte[]> records = new ArrayList<>();
        for (var s : new SampleStamper("3d1219c7-c4c5-404a-aa1f-6d2a48adfda4", "h").stamp("j", "p",
                List.of(new Measurement(System.currentTimeMillis(), "live", Status.OK, null, Map.of(), Map.of(), Map.of())), 1, 1, false)) {
            fresh.add(s.id());
            records.add(SampleJson.toJson(s).getBytes(StandardCharsets.UTF_8));
        }
        spool.append(records);
        u.offerLive(records);
        u.wakeUp();

        await().atMost(Duration.ofSeconds(5)).until(() -> received().keySet().containsAll(fresh));
        assertTrue(spool.cursor("aegis").stats().pendingRecords() > 500, "the live sample arrived while most of the backlog still waits: "
                + spool.cursor("aegis").stats().pendingRecords() + " pending");
        List<String> all = new ArrayList<>(backlog);
        all.addAll(fresh);
        awaitAll(all);
        await().atMost(Duration.ofSeconds(10)).until(() -> spool.cursor("aegis").stats().pendingRecords() == 0);
        assertTrue(received().values().stream().allMatch(c -> c == 1), "the live copy and the in-order copy are stored once");
        assertTrue(r.stats().duplicateSamples() >= 1, "the in-order copy came later and was dropped as a duplicate");
        assertEquals(1, u.stats().liveSent());
    }

    @Test
    void plainHttpIsRefusedExceptToLoopbackWhenAllowed() throws Exception {
        Path dl = dir.resolve("dl.jsonl");
        IOException remote = assertThrows(IOException.class, () -> Uploader.start(spool.cursor("aegis"),
                UploadConfig.defaults(URI.create("http://192.0.2.10/aegis/v1/samples"), dl).withAllowHttpLoopback(true), KEY, "u"));
        assertTrue(remote.getMessage().contains("not loopback; use https://"), remote.getMessage());
        IOException local = assertThrows(IOException.class, () -> Uploader.start(spool.cursor("aegis"),
                UploadConfig.defaults(URI.create("http://127.0.0.1:9/aegis/v1/samples"), dl), KEY, "u"));
        assertTrue(local.getMessage().contains("allow_http_loopback"), local.getMessage());
        assertEquals(null, UploadConfig.endpointProblem(URI.create("http://[::1]:9/x"), true));
        assertEquals(null, UploadConfig.endpointProblem(URI.create("https://monitor.example.com/x"), false));
    }

    @Test
    void aReceiverWithAnUntrustedCertificateIsNotTalkedTo() throws Exception {
        Receiver r = receiver(0, Receiver.DEFAULT_MAX_BODY);
        append(5, null);
        // No CA file: the system trust store does not know the receiver's self-signed certificate.
        Uploader u = uploader(config(r.address().getPort(), null));
        u.wakeUp();

        await().atMost(Duration.ofSeconds(10)).until(() -> logCount("upload failing since") == 1);
        assertTrue(received().isEmpty());
        assertTrue(events().stream().anyMatch(e -> e.getFormattedMessage().contains("SSLHandshakeException")),
                "the log names the TLS failure");
    }
}
