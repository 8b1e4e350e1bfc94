package io.aegisquartz.output;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.aegisquartz.config.Endpoints;
import io.aegisquartz.output.aegis.AegisOutput;
import io.aegisquartz.output.aegis.Credentials;
import io.aegisquartz.output.http.HttpTransport;
import io.aegisquartz.receive.Fault;
import io.aegisquartz.receive.Receiver;
import io.aegisquartz.util.ExponentialBackoff;
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

/**
 * The worker feeding the aegis output, against the real reference receiver over real HTTPS on loopback:
 * linger, rate, retries, Retry-After, splitting, dead letters, the live lane and the outage log lines.
 */
class OutputWorkerTest {

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
        ((Logger) LoggerFactory.getLogger("output")).setLevel(Level.DEBUG);
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

    /** The protocol defaults, with a short backoff and no linger. */
    private static WorkerConfig config() {
        return new WorkerConfig(100, 500_000, 20, ExponentialBackoff.jittered(Duration.ofMillis(50), Duration.ofMillis(400)),
                Duration.ZERO, true);
    }

    private OutputWorker<?> worker(int port, Path pem, WorkerConfig c) throws IOException {
        return worker(port, pem, c, dir.resolve("dead-letter.jsonl"));
    }

    private OutputWorker<?> worker(int port, Path pem, WorkerConfig c, Path deadLetters) throws IOException {
        return worker(port, pem, c, deadLetters, Duration.ofSeconds(30));
    }

    private OutputWorker<?> worker(int port, Path pem, WorkerConfig c, Path deadLetters, Duration timeout) throws IOException {
        HttpTransport http = new HttpTransport(URI.create("https://127.0.0.1:" + port + Receiver.PATH), false, pem, null, null,
                timeout);
        OutputWorker<?> u = new OutputWorker<>(new AegisOutput("aegis", http, KEY, "3d1219c7-c4c5-404a-aa1f-6d2a48adfda4"),
                spool.cursor("aegis"), c, new DeadLetters(deadLetters, "aegis"), new SampleStamper("3d1219c7-c4c5-404a-aa1f-6d2a48adfda4", "h"));
        open.add(u);
        return u.start();
    }

    /** Swaps the test's spool for a new one whose append times come from {@code clock}. */
    private void reopenSpoolWithClock(java.util.function.LongSupplier clock) throws IOException {
        reopenSpool(io.aegisquartz.spool.SpoolConfig.defaults().withClock(clock));
    }

    private void reopenSpool(io.aegisquartz.spool.SpoolConfig config) throws IOException {
        spool.close();
        open.remove(spool);
        spool = Spool.open(dir.resolve("spool2"), config, java.util.List.of("aegis"), null);
        open.add(spool);
    }

    private long pending() {
        return spool.cursor("aegis").stats().pendingRecords();
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
        OutputWorker<?> u = worker(port, pem, config());
        await().atMost(Duration.ofSeconds(10)).until(() -> logCount("output aegis failing since") == 1);

        receiver(port, Receiver.DEFAULT_MAX_BODY);

        awaitAll(ids);
        assertTrue(received().values().stream().allMatch(c -> c == 1), "each id stored once");
        await().atMost(Duration.ofSeconds(10)).until(() -> pending() == 0);
        await().atMost(Duration.ofSeconds(10)).until(() -> logCount("output aegis recovered after") >= 1);
        assertEquals(1, logCount("output aegis recovered after"));
        assertTrue(events().stream().anyMatch(e -> e.getFormattedMessage().matches(
                "output aegis failing since .*\\(250 samples, \\d+ bytes pending\\)")), "the outage line says what is pending");
    }

    /**
     * Issue 19's measurement (an outage with a small cap: received + reported dropped was produced +
     * 200), now exact: with the smallest documented cap, what the receiver stored plus what the
     * dropped samples report is exactly what was produced; the batch in flight when its segment was
     * dropped still arrives and is not counted; a report's first and last times bound only samples
     * that never arrived, and every sample that never arrived lies within a report.
     */
    @Test
    void throughAnOutageWithTheSmallestCapReceivedPlusReportedDroppedIsExactlyWhatWasProduced() throws Exception {
        java.util.concurrent.atomic.AtomicLong clock = new java.util.concurrent.atomic.AtomicLong(1_790_000_000_000L);
        reopenSpool(io.aegisquartz.spool.SpoolConfig.forLimits(io.aegisquartz.spool.SpoolConfig.MIN_MAX_BYTES, 0).withClock(clock::get));
        Receiver first = receiver(0, Receiver.DEFAULT_MAX_BODY);
        Path pem = first.certificatePem();
        first.close();
        int port = freePort();
        OutputWorker<?> u = worker(port, pem, config().withLive(false));

        Map<String, Long> appendedAt = new HashMap<>();
        List<String> inFlight = append(10, null); // read at once, then retried through the whole outage
        inFlight.forEach(id -> appendedAt.put(id, clock.get()));
        await().atMost(Duration.ofSeconds(10)).until(() -> logCount("output aegis failing since") == 1);
        long bytes = 0;
        while (bytes < 3 * io.aegisquartz.spool.SpoolConfig.MIN_MAX_BYTES) {
            long t = clock.incrementAndGet();
            for (String id : append(10, null)) {
                appendedAt.put(id, t);
            }
            bytes += 10 * 330;
        }
        assertTrue(u.state().dropped() > 0, "the cap was reached during the outage");

        receiver(port, Receiver.DEFAULT_MAX_BODY);
        await().atMost(Duration.ofSeconds(60)).until(() -> pending() == 0 && reportedDropped(null, null) == u.state().dropped());

        List<long[]> gaps = new ArrayList<>();
        java.util.Set<String> stored = new java.util.HashSet<>();
        long dropped = reportedDropped(gaps, stored);
        assertEquals(appendedAt.size(), stored.size() + dropped, "produced = received + reported dropped, exactly");
        assertEquals(u.state().dropped(), dropped);
        assertTrue(stored.containsAll(inFlight), "the batch in flight when its segment was dropped was delivered");
        for (Map.Entry<String, Long> e : appendedAt.entrySet()) {
            long t = e.getValue();
            if (stored.contains(e.getKey())) {
                // A run of 10 may straddle a gap's edge, so its time may equal a gap's first or last.
                assertTrue(gaps.stream().noneMatch(g -> g[0] < t && t < g[1]), "a delivered sample inside a reported gap, at " + t);
            } else {
                assertTrue(gaps.stream().anyMatch(g -> g[0] <= t && t <= g[1]), "a lost sample outside every reported gap, at " + t);
            }
        }
    }

    /** The counts of the dropped samples received; their [first, last] times and the other samples' ids if asked. */
    private long reportedDropped(List<long[]> gaps, java.util.Set<String> stored) throws IOException {
        long dropped = 0;
        Path f = dir.resolve("received.jsonl");
        for (String line : Files.exists(f) ? io.aegisquartz.testing.AgentHome.wholeLines(f) : List.<String>of()) {
            JsonNode n = JSON.readTree(line);
            if (n.get("status").asText().equals("dropped")) {
                dropped += n.get("values").get("count").asLong();
                if (gaps != null) {
                    gaps.add(new long[] {n.get("values").get("first_time_ms").asLong(), n.get("values").get("last_time_ms").asLong()});
                }
            } else if (stored != null) {
                assertTrue(stored.add(n.get("id").asText()), "stored once: " + n.get("id"));
            }
        }
        return dropped;
    }

    @Test
    void runsThatComeWithinTheLingerShareOneRequest() throws Exception {
        Receiver r = receiver(0, Receiver.DEFAULT_MAX_BODY);
        OutputWorker<?> u = worker(r.address().getPort(), r.certificatePem(), config().withLinger(Duration.ofSeconds(3)));
        List<String> ids = append(5, null);
        // Nothing goes out in the first second of the 3 s linger ...
        await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(2)).until(() -> u.state().requests() == 0);
        // ... so the next run's samples join the first run's.
        ids.addAll(append(7, null));

        awaitAll(ids);
        assertEquals(1, u.state().requests(), "two runs, one request");
        await().atMost(Duration.ofSeconds(10)).until(() -> pending() == 0);
    }

    @Test
    void aFullBatchDoesNotWaitForTheLinger() throws Exception {
        Receiver r = receiver(0, Receiver.DEFAULT_MAX_BODY);
        OutputWorker<?> u = worker(r.address().getPort(), r.certificatePem(), config().withBatch(20, 500_000).withLinger(Duration.ofMinutes(10)));
        List<String> ids = append(8, null);
        await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(2)).until(() -> u.state().requests() == 0);
        ids.addAll(append(12, null));

        awaitAll(ids); // within awaitAll's limit, not the 10 minutes
        assertEquals(1, u.state().requests());
    }

    @Test
    void closingSendsWhatIsLingeringFirst() throws Exception {
        Receiver r = receiver(0, Receiver.DEFAULT_MAX_BODY);
        OutputWorker<?> u = worker(r.address().getPort(), r.certificatePem(), config().withLinger(Duration.ofMinutes(10)));
        List<String> ids = append(6, null);
        await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(2)).until(() -> u.state().requests() == 0);

        u.close();
        assertEquals(new java.util.HashSet<>(ids), received().keySet(), "sent before close() returned");
        assertEquals(0, pending(), "and acknowledged in the spool");
    }

    @Test
    void closingDoesNotWaitForADownReceiver() throws Exception {
        Receiver first = receiver(0, Receiver.DEFAULT_MAX_BODY);
        Path pem = first.certificatePem();
        first.close();
        OutputWorker<?> u = worker(freePort(), pem, config().withLinger(Duration.ofMinutes(10)).withBackoff(Duration.ofMinutes(1), Duration.ofMinutes(1)));
        append(6, null);

        long t0 = System.nanoTime();
        u.close();
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(ms < OutputWorker.FLUSH_ON_CLOSE_MS + 5_000, "close() took " + ms + " ms");
        assertEquals(6, pending(), "still in the spool, for the next start");
    }

    @Test
    void samplesSpooledBeforeTheWorkerStartsWaitTheirLingerToo() throws Exception {
        // The linger counts from the sample's append, not from when the uploader thread first looked.
        Receiver r = receiver(0, Receiver.DEFAULT_MAX_BODY);
        List<String> ids = append(5, null);
        OutputWorker<?> u = worker(r.address().getPort(), r.certificatePem(), config().withLinger(Duration.ofSeconds(3)));
        await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(2)).until(() -> u.state().requests() == 0);

        awaitAll(ids);
        assertEquals(1, u.state().requests());
    }

    @Test
    void samplesOlderThanTheLingerGoOutAtOnce() throws Exception {
        // A backlog (an outage, a restart) has waited long enough: a 10-minute linger does not hold it.
        reopenSpoolWithClock(() -> System.currentTimeMillis() - 700_000);
        Receiver r = receiver(0, Receiver.DEFAULT_MAX_BODY);
        OutputWorker<?> u = worker(r.address().getPort(), r.certificatePem(), config().withLinger(Duration.ofMinutes(10)));
        List<String> ids = append(5, null);

        awaitAll(ids); // within awaitAll's limit, not the 10 minutes
    }

    @Test
    void retryAfterIsHonoured() throws Exception {
        Receiver r = receiver(0, Receiver.DEFAULT_MAX_BODY);
        r.failNext(1, 503, 2);
        List<String> ids = append(10, null);
        long t0 = System.nanoTime();
        // A backoff cap above the 2 s asked for: Retry-After is honoured up to the cap (next test).
        worker(r.address().getPort(), r.certificatePem(), new WorkerConfig(100, 500_000, 20,
                ExponentialBackoff.jittered(Duration.ofMillis(50), Duration.ofSeconds(5)), Duration.ZERO, true));

        awaitAll(ids);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(ms >= 1_900, "waited the 2 s Retry-After, not our 50 ms backoff: " + ms + " ms");
    }

    /** docs/PROTOCOL.md: Retry-After is honoured up to backoff_max; a receiver asking for an hour is asked again at backoff_max. */
    @Test
    void retryAfterIsHonouredOnlyUpToBackoffMax() throws Exception {
        Receiver r = receiver(0, Receiver.DEFAULT_MAX_BODY);
        r.failNext(1, 429, 3600);
        List<String> ids = append(10, null);
        worker(r.address().getPort(), r.certificatePem(), config()); // backoff cap 400 ms

        awaitAll(ids);
    }

    /**
     * docs/PROTOCOL.md: a rejected list is used only if it is not empty, every index is inside the
     * batch and every id given is that of the sample at its index. Otherwise the agent bisects and
     * dead-letters nothing on that answer's word (before, a wrong id dead-lettered a good sample).
     */
    @Test
    void aRejectedListThatDoesNotMatchTheBatchIsNotTrustedWithASample() throws Exception {
        Receiver r = receiver(0, Receiver.DEFAULT_MAX_BODY);
        r.injectNext(Fault.S400_WRONG_ID, Fault.S400_BAD_INDEX, Fault.S400_EMPTY);
        List<String> ids = append(10, null);
        OutputWorker<?> u = worker(r.address().getPort(), r.certificatePem(), config());

        awaitAll(ids);
        assertFalse(Files.exists(dir.resolve("dead-letter.jsonl")), "nothing dead-lettered on the word of a list that does not fit");
        assertEquals(0, u.state().deadLettered());
        assertEquals(3, r.stats().injectedFaults());
    }

    /** A usable rejected list dead-letters exactly the sample it names, with the time written as in samples. */
    @Test
    void aUsableRejectedListDeadLettersExactlyThatSample() throws Exception {
        Receiver r = receiver(0, Receiver.DEFAULT_MAX_BODY);
        r.injectNext(Fault.S400_REJECTED);
        List<String> ids = append(10, null);
        worker(r.address().getPort(), r.certificatePem(), config());

        awaitAll(ids.subList(1, 10));
        assertFalse(received().containsKey(ids.get(0)));
        List<String> dead = Files.readAllLines(dir.resolve("dead-letter.jsonl"));
        assertEquals(1, dead.size());
        JsonNode d = JSON.readTree(dead.get(0));
        assertEquals(ids.get(0), d.get("sample").get("id").asText());
        assertTrue(d.get("time").asText().matches("\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z"),
                "the samples' time format, milliseconds: " + d.get("time"));
        assertEquals(List.of("time", "output", "batch_id", "status", "reason", "sample"), fieldNames(d));
    }

    private static List<String> fieldNames(JsonNode n) {
        List<String> out = new ArrayList<>();
        n.fieldNames().forEachRemaining(out::add);
        return out;
    }

    /**
     * A receiver that closes the connection before or after storing, or answers after the agent's
     * timeout: the agent retries the batch, and each sample is stored exactly once.
     */
    @Test
    void lostAnswersAndSlowAnswersAreRetriedAndStoredOnce() throws Exception {
        Receiver r = Receiver.start(new Receiver.Config().listen(new InetSocketAddress("127.0.0.1", 0))
                .out(dir.resolve("received.jsonl")).stateDir(dir.resolve("receiver")).credentials(List.of(KEY))
                .faults(List.of(Fault.SLOW), 1_000_000, Duration.ofSeconds(3)));
        open.add(r);
        r.injectNext(Fault.CLOSE_BEFORE_STORE, Fault.CLOSE_AFTER_STORE, Fault.SLOW);
        List<String> ids = append(10, null);
        worker(r.address().getPort(), r.certificatePem(), config(), dir.resolve("dead-letter.jsonl"), Duration.ofSeconds(1));

        awaitAll(ids);
        // The slow request is still handled after its delay: it finds every sample stored.
        await().atMost(Duration.ofSeconds(30)).until(() -> r.stats().duplicateSamples() >= 20);
        assertEquals(10, r.stats().acceptedSamples());
        assertTrue(received().values().stream().allMatch(n -> n == 1), received().toString());
        assertFalse(Files.exists(dir.resolve("dead-letter.jsonl")));
    }

    @Test
    void aBatchTooLargeForTheReceiverIsSplit() throws Exception {
        Receiver r = receiver(0, 16 * 1024);
        List<String> ids = append(100, null);
        OutputWorker<?> u = worker(r.address().getPort(), r.certificatePem(), config());

        awaitAll(ids);
        assertTrue(u.state().requests() >= 3, "100 samples of ~330 bytes do not fit 16 KiB in one request");
        assertFalse(Files.exists(dir.resolve("dead-letter.jsonl")), "splitting lost nothing");
    }

    @Test
    void aPoisonedSampleGoesToTheDeadLetterFileAndOnlyIt() throws Exception {
        Receiver r = receiver(0, Receiver.DEFAULT_MAX_BODY);
        List<String> ids = append(20, "bogus");
        String poisoned = ids.get(10);
        OutputWorker<?> u = worker(r.address().getPort(), r.certificatePem(), config());

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
        assertEquals(1, u.state().deadLettered());
    }

    @Test
    void aRefusedSampleThatCannotBeDeadLetteredStaysInTheSpoolWhenTheWorkerStops() throws Exception {
        Receiver r = receiver(0, Receiver.DEFAULT_MAX_BODY);
        Path notADir = Files.writeString(dir.resolve("not-a-dir"), "x");
        append(1, "bogus");
        OutputWorker<?> u = worker(r.address().getPort(), r.certificatePem(), config(), notADir.resolve("dead-letter.jsonl"));
        await().atMost(Duration.ofSeconds(30)).until(() -> logCount("cannot write the dead-letter file") >= 2);

        u.close();
        assertEquals(1, pending(), "neither delivered nor kept, so not acknowledged: sent again after a restart");
        assertEquals(0, u.state().deadLettered());
    }

    @Test
    void refusedCredentialsForAWhileLoseNothingAndAreLoggedOnce() throws Exception {
        Receiver r = receiver(0, Receiver.DEFAULT_MAX_BODY);
        r.failNext(4, 403, 0);
        List<String> ids = append(30, null);
        worker(r.address().getPort(), r.certificatePem(), config());

        awaitAll(ids);
        // The receiver stores a batch before the agent reads its 2xx, so the recovery line may lag the last id.
        await().atMost(Duration.ofSeconds(10)).until(() -> logCount("output aegis recovered after") >= 1);
        assertEquals(1, logCount("refuses our credentials"), "logged once per change of state, not per attempt");
        assertEquals(1, logCount("output aegis recovered after"));
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
        OutputWorker<?> u = worker(r.address().getPort(), r.certificatePem(), config().withBatch(50, 500_000).withRate(4));

        List<String> fresh = new ArrayList<>();
        List<byte[]> records = new ArrayList<>();
        for (var s : new SampleStamper("3d1219c7-c4c5-404a-aa1f-6d2a48adfda4", "h").stamp("j", "p",
                List.of(new Measurement(System.currentTimeMillis(), "live", Status.OK, null, Map.of(), Map.of(), Map.of())), 1, 1, false)) {
            fresh.add(s.id());
            records.add(SampleJson.toJson(s).getBytes(StandardCharsets.UTF_8));
        }
        spool.append(records); // after the worker started: live, not backlog

        await().atMost(Duration.ofSeconds(5)).until(() -> received().keySet().containsAll(fresh));
        assertTrue(pending() > 500, "the live sample arrived while most of the backlog still waits: "
                + pending() + " pending");
        List<String> all = new ArrayList<>(backlog);
        all.addAll(fresh);
        awaitAll(all);
        await().atMost(Duration.ofSeconds(10)).until(() -> pending() == 0);
        assertTrue(received().values().stream().allMatch(c -> c == 1), "the live copy and the in-order copy are stored once");
        assertTrue(r.stats().duplicateSamples() >= 1, "the in-order copy came later and was dropped as a duplicate");
        assertEquals(1, u.state().liveSent());
    }

    @Test
    void plainHttpIsRefusedExceptToLoopbackWhenAllowed() throws Exception {
        IOException remote = assertThrows(IOException.class, () -> new HttpTransport(URI.create("http://192.0.2.10/aegis/v1/samples"),
                true, null, null, null, Duration.ofSeconds(1)));
        assertTrue(remote.getMessage().contains("not loopback; use https://"), remote.getMessage());
        IOException local = assertThrows(IOException.class, () -> new HttpTransport(URI.create("http://127.0.0.1:9/aegis/v1/samples"),
                false, null, null, null, Duration.ofSeconds(1)));
        assertTrue(local.getMessage().contains("allow_http_loopback"), local.getMessage());
        assertEquals(null, Endpoints.problem(URI.create("http://[::1]:9/x"), true));
        assertEquals(null, Endpoints.problem(URI.create("https://monitor.example.com/x"), false));
    }

    @Test
    void aReceiverWithAnUntrustedCertificateIsNotTalkedTo() throws Exception {
        Receiver r = receiver(0, Receiver.DEFAULT_MAX_BODY);
        append(5, null);
        // No CA file: the system trust store does not know the receiver's self-signed certificate.
        OutputWorker<?> u = worker(r.address().getPort(), null, config());

        await().atMost(Duration.ofSeconds(10)).until(() -> logCount("output aegis failing since") == 1);
        assertTrue(received().isEmpty());
        assertTrue(events().stream().anyMatch(e -> e.getFormattedMessage().contains("SSLHandshakeException")),
                "the log names the TLS failure");
    }
}
