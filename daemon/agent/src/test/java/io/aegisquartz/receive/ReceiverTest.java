package io.aegisquartz.receive;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.aegisquartz.output.aegis.Credentials;
import io.aegisquartz.output.aegis.RequestSigning;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The receiver over real HTTPS on loopback, each check of docs/PROTOCOL.md in turn. */
class ReceiverTest {

    private static final String SECRET = "rcv-Secret-Must-Not-Leak-91c3";
    private static final Credentials KEY = Credentials.of("AK-test", SECRET, null);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Fixed receiver time, so clock-skew boundaries are exact. */
    private static final long NOW = 1_795_311_180L;

    @TempDir
    static Path state;
    @TempDir
    Path dir;

    private final List<Receiver> open = new ArrayList<>();
    private final ListAppender<ILoggingEvent> log = new ListAppender<>();
    private Path out;
    private Receiver receiver;
    private HttpClient client;

    @BeforeEach
    void start() throws Exception {
        log.start();
        root().addAppender(log);
        root().setLevel(ch.qos.logback.classic.Level.INFO);
        out = dir.resolve("out/received.jsonl");
        receiver = start(Receiver.DEFAULT_MAX_BODY);
        client = Uploads.client(receiver.certificatePem());
    }

    private Receiver start(int maxBody) throws Exception {
        return start(config(maxBody, NOW));
    }

    private Receiver.Config config(int maxBody, long nowSeconds) {
        return new Receiver.Config().listen(new InetSocketAddress("127.0.0.1", 0)).out(out).stateDir(state)
                .credentials(List.of(KEY)).maxBody(maxBody).clock(Clock.fixed(Instant.ofEpochSecond(nowSeconds), ZoneOffset.UTC));
    }

    private Receiver start(Receiver.Config config) throws Exception {
        Receiver r = Receiver.start(config);
        open.add(r);
        return r;
    }

    /** Stops the test's receiver and starts another on the same state and output, as a restart does. */
    private void restart(Receiver.Config config) throws Exception {
        receiver.close();
        open.remove(receiver);
        receiver = start(config);
    }

    private static Logger root() {
        return (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    }

    /** Whatever a test did, the secret must not be in any log line or logged exception. */
    @AfterEach
    void stopAndCheckLog() throws Exception {
        for (Receiver r : open) {
            r.close();
        }
        root().detachAppender(log);
        root().setLevel(ch.qos.logback.classic.Level.WARN);
        assertFalse(log.list.isEmpty(), "the receiver logged nothing; the secret check would prove nothing");
        for (ILoggingEvent e : log.list) {
            assertFalse(e.getFormattedMessage().contains(SECRET), e.getFormattedMessage());
            for (IThrowableProxy t = e.getThrowableProxy(); t != null; t = t.getCause()) {
                assertFalse(String.valueOf(t.getMessage()).contains(SECRET), t.getMessage());
            }
        }
    }

    private Uploads.Req req(String... ids) {
        List<String> samples = new ArrayList<>();
        for (String id : ids) {
            samples.add(Uploads.sample(id));
        }
        Uploads.Req r = new Uploads.Req(KEY).samples(samples);
        r.timestamp = NOW;
        return r;
    }

    private HttpResponse<String> send(Uploads.Req r) throws Exception {
        return r.send(client, receiver.endpoint());
    }

    private List<String> stored() throws IOException {
        return Files.exists(out) ? Files.readAllLines(out) : List.of();
    }

    private static void assertStatus(int status, HttpResponse<String> resp, String why) throws Exception {
        assertEquals(status, resp.statusCode(), why + ": " + resp.body());
        assertStatus(status, resp);
    }

    private static void assertStatus(int status, HttpResponse<String> resp) throws Exception {
        assertEquals(status, resp.statusCode(), resp.body());
        assertTrue(resp.headers().firstValue("Content-Type").orElse("").startsWith("application/json"));
        JsonNode body = JSON.readTree(resp.body());
        if (status != 200) {
            assertTrue(body.get("error").isTextual(), resp.body());
        }
    }

    @Test
    void signedGzipBatchIsStoredAsReceived() throws Exception {
        String a = Uploads.newId();
        String b = Uploads.newId();
        HttpResponse<String> resp = send(req(a, b));
        assertStatus(200, resp);
        assertEquals(JSON.readTree("{\"accepted\":2,\"duplicates\":0}"), JSON.readTree(resp.body()));
        assertEquals(List.of(Uploads.sample(a), Uploads.sample(b)), stored());
        assertEquals(2, receiver.stats().acceptedSamples());
    }

    @Test
    void duplicatesAreCountedNotStoredAlsoAfterARestart() throws Exception {
        String a = Uploads.newId();
        String b = Uploads.newId();
        Uploads.Req first = req(a, b);
        assertStatus(200, send(first));

        // The same batch again (a retry after a lost response): new nonce, same batch id and samples.
        Uploads.Req retry = req(a, b);
        retry.batchId = first.batchId;
        retry.samples(List.of(Uploads.sample(a), Uploads.sample(b)));
        HttpResponse<String> again = send(retry);
        assertStatus(200, again);
        assertEquals(JSON.readTree("{\"accepted\":0,\"duplicates\":2}"), JSON.readTree(again.body()));
        assertEquals(2, stored().size());

        receiver.close();
        open.remove(receiver);
        receiver = start(Receiver.DEFAULT_MAX_BODY);
        String c = Uploads.newId();
        HttpResponse<String> afterRestart = send(req(b, c, c));
        assertStatus(200, afterRestart);
        assertEquals(JSON.readTree("{\"accepted\":1,\"duplicates\":2}"), JSON.readTree(afterRestart.body()));
        assertEquals(List.of(Uploads.sample(a), Uploads.sample(b), Uploads.sample(c)), stored());
    }

    @Test
    void wrongSecretIs401() throws Exception {
        Uploads.Req r = req(Uploads.newId());
        r.secret = SECRET + "x";
        HttpResponse<String> resp = send(r);
        assertStatus(401, resp);
        assertTrue(resp.body().contains("signature"), resp.body());
        assertEquals(List.of(), stored());
    }

    @Test
    void unknownKeyIs401AndMissingHeaderIs400() throws Exception {
        Uploads.Req r = req(Uploads.newId());
        r.keyId = "AK-other";
        assertStatus(401, send(r));
        Uploads.Req noNonce = req(Uploads.newId());
        noNonce.omitHeader = RequestSigning.HEADER_NONCE;
        HttpResponse<String> resp = send(noNonce);
        assertStatus(400, resp);
        assertTrue(resp.body().contains(RequestSigning.HEADER_NONCE), resp.body());
        assertEquals(List.of(), stored());
    }

    @Test
    void timestampMoreThan300SecondsOffIs401ClockSkew() throws Exception {
        Uploads.Req old = req(Uploads.newId());
        old.timestamp = NOW - 301;
        HttpResponse<String> resp = send(old);
        assertStatus(401, resp);
        assertTrue(resp.body().contains("clock skew"), resp.body());
        Uploads.Req ahead = req(Uploads.newId());
        ahead.timestamp = NOW + 301;
        assertStatus(401, send(ahead));
        assertEquals(List.of(), stored());

        // Exactly at the limit is still accepted.
        Uploads.Req edge = req(Uploads.newId());
        edge.timestamp = NOW - 300;
        assertStatus(200, send(edge));
    }

    @Test
    void replayedNonceIs401() throws Exception {
        Uploads.Req r = req(Uploads.newId());
        assertStatus(200, send(r));
        HttpResponse<String> replay = send(r);
        assertStatus(401, replay);
        assertTrue(replay.body().contains("replay"), replay.body());
        assertEquals(1, stored().size());
    }

    /**
     * Issue 18.4: a receiver must keep nonces across its own restarts for the window, or a request
     * captured before a restart could be replayed after it. The nonce journal in the state directory
     * survives the restart (and a torn line from a crash mid-write).
     */
    @Test
    void aVerbatimReplayIsRefusedAfterTheReceiverRestartsWithinTheWindow() throws Exception {
        Uploads.Req r = req(Uploads.newId());
        assertStatus(200, send(r));
        restart(config(Receiver.DEFAULT_MAX_BODY, NOW + 299));
        HttpResponse<String> replay = send(r);
        assertStatus(401, replay);
        assertTrue(replay.body().contains("replay"), replay.body());

        // A crash mid-write leaves a torn last line; the next start skips it and keeps the rest.
        Files.writeString(state.resolve(NonceCache.FILE), "0123456789abcdef", java.nio.file.StandardOpenOption.APPEND);
        restart(config(Receiver.DEFAULT_MAX_BODY, NOW + 300));
        assertStatus(401, send(r));
        assertEquals(1, stored().size());
        Uploads.Req fresh = req(Uploads.newId());
        fresh.timestamp = NOW + 300;
        assertStatus(200, send(fresh), "new requests are served as before");

        // Past the window the nonce is forgotten, and the timestamp check refuses the replay instead.
        restart(config(Receiver.DEFAULT_MAX_BODY, NOW + 301));
        HttpResponse<String> late = send(r);
        assertStatus(401, late);
        assertTrue(late.body().contains("clock"), late.body());
    }

    /**
     * docs/PROTOCOL.md: a nonce counts from the moment the signature verifies, not from acceptance,
     * so a signed request refused later (here for an invalid sample) cannot be replayed either; an
     * unsigned one records nothing, so it cannot burn the nonce of the real request.
     */
    @Test
    void aNonceCountsFromTheVerifiedSignatureNotFromAcceptance() throws Exception {
        Uploads.Req invalid = new Uploads.Req(KEY).samples(List.of(Uploads.sample(Uploads.newId()).replace("\"status\":\"ok\"",
                "\"status\":\"fine\"")));
        invalid.timestamp = NOW;
        assertStatus(400, send(invalid));
        HttpResponse<String> replay = send(invalid);
        assertStatus(401, replay);
        assertTrue(replay.body().contains("replay"), replay.body());

        Uploads.Req forged = req(Uploads.newId());
        forged.secret = SECRET + "-not";
        assertStatus(401, send(forged));
        forged.secret = SECRET;
        assertStatus(200, send(forged), "the forged copy did not use up the nonce");
    }

    /** docs/PROTOCOL.md: the checks run in order and the first failure decides, so a bad header beats a body too large, which beats a bad signature. */
    @Test
    void theFirstFailingCheckDecidesTheAnswer() throws Exception {
        restart(config(16 * 1024, NOW));
        byte[] noise = new byte[40 * 1024];
        new java.util.Random(2).nextBytes(noise);

        Uploads.Req badHeaderAndTooLarge = req(Uploads.newId());
        badHeaderAndTooLarge.body = noise;
        badHeaderAndTooLarge.omitHeader = RequestSigning.HEADER_BATCH_ID;
        assertStatus(400, send(badHeaderAndTooLarge));

        Uploads.Req tooLargeAndForged = req(Uploads.newId());
        tooLargeAndForged.body = noise;
        tooLargeAndForged.secret = SECRET + "-not";
        assertStatus(413, send(tooLargeAndForged));

        Uploads.Req skewedAndTooLarge = req(Uploads.newId());
        skewedAndTooLarge.body = noise;
        skewedAndTooLarge.timestamp = NOW - 301;
        assertStatus(401, send(skewedAndTooLarge));
    }

    /**
     * docs/PROTOCOL.md: "time" is a real UTC instant (no 24:00, no leap second, no 30 February); an
     * id's 1-200 characters are Unicode code points; duplicate keys anywhere, inside a sample too,
     * make the body invalid JSON: 400 for the whole batch, without a rejected list.
     */
    @Test
    void sampleFieldsAreCheckedExactlyAsDocumented() throws Exception {
        String base = Uploads.sample("x");
        String longestId = "\uD83D\uDE80".repeat(200); // 200 code points, 400 UTF-16 units
        List<String> samples = List.of(
                base.replace("\"id\":\"x\"", "\"id\":\"" + longestId + "\""),
                base.replace("\"id\":\"x\"", "\"id\":\"" + longestId + "a\""),
                base.replace("\"id\":\"x\"", "\"id\":\"" + Uploads.newId() + "\"").replace("2026-11-22T01:32:30.236Z", "2026-02-30T01:32:30.236Z"),
                base.replace("\"id\":\"x\"", "\"id\":\"" + Uploads.newId() + "\"").replace("2026-11-22T01:32:30.236Z", "2026-11-22T24:00:00.000Z"),
                base.replace("\"id\":\"x\"", "\"id\":\"" + Uploads.newId() + "\"").replace("2026-11-22T01:32:30.236Z", "2026-12-31T23:59:60.000Z"),
                base.replace("\"id\":\"x\"", "\"id\":\"" + Uploads.newId() + "\"").replace("2026-11-22T01:32:30.236Z", "2024-02-29T23:59:59.999Z"));
        Uploads.Req r = new Uploads.Req(KEY).samples(samples);
        r.timestamp = NOW;
        HttpResponse<String> resp = send(r);
        assertStatus(400, resp);
        List<Integer> rejected = new ArrayList<>();
        JSON.readTree(resp.body()).get("rejected").forEach(n -> rejected.add(n.get("index").asInt()));
        assertEquals(List.of(1, 2, 3, 4), rejected, resp.body());

        Uploads.Req dup = req(Uploads.newId());
        dup.samples(List.of(Uploads.sample(Uploads.newId()).replace("\"tags\":{}", "\"tags\":{\"a\":\"1\",\"a\":\"2\"}")));
        HttpResponse<String> d = send(dup);
        assertStatus(400, d);
        assertTrue(JSON.readTree(d.body()).get("rejected") == null, d.body());
        assertTrue(d.body().contains("Duplicate field"), d.body());
        assertEquals(List.of(), stored());
    }

    /** Each injected fault (aegis-quartz receive --faults) answers as docs/PROTOCOL.md and --help say. */
    @Test
    void injectedFaultsAnswerAsDescribed() throws Exception {
        restart(config(Receiver.DEFAULT_MAX_BODY, NOW).faults(List.of(Fault.SLOW), 3, java.time.Duration.ofSeconds(1)));
        for (Fault f : Fault.values()) {
            if (f == Fault.SLOW) {
                continue;
            }
            receiver.injectNext(f);
            String first = Uploads.newId();
            String second = Uploads.newId();
            Uploads.Req r = req(first, second);
            int before = stored().size();
            if (f.id().startsWith("close-")) {
                assertThrows(IOException.class, () -> send(r), f.id());
                assertEquals(f == Fault.CLOSE_AFTER_STORE ? before + 2 : before, stored().size(), f.id());
            } else {
                HttpResponse<String> resp = send(r);
                assertStatus(Integer.parseInt(f.id().substring(0, 3)), resp);
                assertEquals(f.id().endsWith("retry-after") ? "2" : null, resp.headers().firstValue("Retry-After").orElse(null), f.id());
                JsonNode list = JSON.readTree(resp.body()).get("rejected");
                switch (f) {
                    case S400_REJECTED -> assertEquals("[{\"id\":\"" + first + "\",\"index\":0}]", list.toString().replaceAll(",\"reason\":\"[^\"]*\"", ""));
                    case S400_BAD_INDEX -> assertEquals(2, list.get(0).get("index").asInt());
                    case S400_WRONG_ID -> assertEquals("not-" + first, list.get(0).get("id").asText());
                    case S400_EMPTY -> assertEquals(0, list.size());
                    default -> assertNull(list, f.id());
                }
                assertEquals(before, stored().size(), f.id() + " stores nothing");
            }
        }
        assertEquals(Fault.values().length - 1, receiver.stats().injectedFaults());

        // The cycle: every third request is slow (handled after the 1 s delay), the others are not.
        long t0 = System.nanoTime();
        assertStatus(200, send(req(Uploads.newId())));
        assertStatus(200, send(req(Uploads.newId())));
        assertTrue(System.nanoTime() - t0 < 1_000_000_000L, "the first two of the cycle are not delayed");
        long t1 = System.nanoTime();
        assertStatus(200, send(req(Uploads.newId())));
        assertTrue(System.nanoTime() - t1 >= 1_000_000_000L, "the third waited the fault delay");
    }

    @Test
    void bodyChangedAfterSigningIsRefused() throws Exception {
        String id = Uploads.newId();
        // Body swapped in transit, header hash left as signed: the hash check catches it.
        Uploads.Req swapped = req(id);
        swapped.sentBody = Uploads.gzip(Uploads.batchJson(swapped.batchId, List.of(Uploads.sample(Uploads.newId())))
                .getBytes(StandardCharsets.UTF_8));
        HttpResponse<String> r1 = send(swapped);
        assertStatus(400, r1);
        assertTrue(r1.body().contains("does not match the body"), r1.body());

        // Body swapped and the hash header recomputed to match: the signature no longer does.
        Uploads.Req resigned = req(id);
        byte[] other = swapped.sentBody;
        resigned.contentSha = RequestSigning.sha256Hex(other);
        resigned.sentBody = other;
        String goodSig = RequestSigning.sign(SECRET, RequestSigning.stringToSign("POST", resigned.target, resigned.timestamp,
                resigned.nonce, RequestSigning.sha256Hex(resigned.body), resigned.batchId));
        java.net.http.HttpRequest tampered = java.net.http.HttpRequest.newBuilder(resigned.build(receiver.endpoint()), (n, v) -> true)
                .setHeader(RequestSigning.HEADER_SIGNATURE, goodSig).build();
        HttpResponse<String> r2 = client.send(tampered, HttpResponse.BodyHandlers.ofString());
        assertStatus(401, r2);
        assertEquals(List.of(), stored());
    }

    @Test
    void batchWithOneInvalidSampleIsRejectedWholeNamingThatSample() throws Exception {
        String good1 = Uploads.newId();
        String bad = Uploads.newId();
        String good2 = Uploads.newId();
        Uploads.Req r = new Uploads.Req(KEY).samples(List.of(Uploads.sample(good1),
                Uploads.sample(bad).replace("\"status\":\"ok\"", "\"status\":\"fine\""), Uploads.sample(good2)));
        r.timestamp = NOW;
        HttpResponse<String> resp = send(r);
        assertStatus(400, resp);
        JsonNode rejected = JSON.readTree(resp.body()).get("rejected");
        assertEquals(1, rejected.size(), resp.body());
        assertEquals(bad, rejected.get(0).get("id").asText());
        assertEquals(1, rejected.get(0).get("index").asInt());
        assertTrue(rejected.get(0).get("reason").asText().contains("status 'fine'"), resp.body());
        assertEquals(List.of(), stored());
    }

    @Test
    void batchIdMustMatchTheHeader() throws Exception {
        Uploads.Req r = req(Uploads.newId());
        String bodyBatch = r.batchId;
        r.batchId = Uploads.newId();
        r.body = Uploads.gzip(Uploads.batchJson(bodyBatch, List.of(Uploads.sample(Uploads.newId()))).getBytes(StandardCharsets.UTF_8));
        HttpResponse<String> resp = send(r);
        assertStatus(400, resp);
        assertTrue(resp.body().contains("batch_id"), resp.body());
    }

    @Test
    void oversizedBodiesAre413() throws Exception {
        receiver.close();
        open.remove(receiver);
        receiver = start(16 * 1024);

        // As sent: random bytes do not compress.
        byte[] noise = new byte[40 * 1024];
        new java.util.Random(1).nextBytes(noise);
        Uploads.Req big = req(Uploads.newId());
        big.body = noise;
        HttpResponse<String> r1 = send(big);
        assertStatus(413, r1);

        // Decompressed: 2 MiB of blanks in a valid batch gzip to about 2 KiB.
        String json = Uploads.batchJson("x", List.of(Uploads.sample(Uploads.newId()))).replace("{\"batch_id\"",
                "{" + " ".repeat(2 * 1024 * 1024) + "\"batch_id\"");
        Uploads.Req bomb = req(Uploads.newId());
        bomb.body = Uploads.gzip(json.getBytes(StandardCharsets.UTF_8));
        assertTrue(bomb.body.length < 16 * 1024, "test set-up: the bomb must pass the compressed limit");
        HttpResponse<String> r2 = send(bomb);
        assertStatus(413, r2);
        assertTrue(r2.body().contains("decompressed"), r2.body());
        assertEquals(List.of(), stored());
    }

    @Test
    void inflatingStopsJustPastTheLimit() throws Exception {
        byte[] bomb = Uploads.gzip(new byte[64 * 1024 * 1024]); // 64 MiB of zeros, about 64 KiB compressed
        long[] consumed = {0};
        InputStream counting = new FilterInputStream(new ByteArrayInputStream(bomb)) {
            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                int n = super.read(b, off, len);
                consumed[0] += Math.max(n, 0);
                return n;
            }
        };
        assertThrows(BoundedGunzip.TooLargeException.class, () -> BoundedGunzip.gunzip(counting, 512 * 1024));
        // 512 KiB of output needs about 1/128 of the input; reading it all would mean inflating 64 MiB.
        assertTrue(consumed[0] < bomb.length / 8, "read " + consumed[0] + " of " + bomb.length + " compressed bytes");
        assertEquals(1000, BoundedGunzip.gunzip(new ByteArrayInputStream(Uploads.gzip(new byte[1000])), 1000).length);
    }

    @Test
    void injectedFailuresAnswerThenTheSameRequestSucceeds() throws Exception {
        receiver.failNext(2, 503, 2);
        Uploads.Req r = req(Uploads.newId());
        for (int i = 0; i < 2; i++) {
            HttpResponse<String> resp = send(r);
            assertStatus(503, resp);
            assertEquals("2", resp.headers().firstValue("Retry-After").orElse(null));
        }
        receiver.failNext(1, 403, 0);
        HttpResponse<String> forbidden = send(r);
        assertStatus(403, forbidden);
        assertTrue(forbidden.headers().firstValue("Retry-After").isEmpty());
        assertStatus(200, send(r));
        assertEquals(1, stored().size());
    }

    @Test
    void generatedCertificateIsReusedAndTrustedOnlyFromItsPem() throws Exception {
        Path pem = receiver.certificatePem();
        assertNotNull(pem);
        assertTrue(Files.readString(pem).startsWith("-----BEGIN CERTIFICATE-----"));
        assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
                Files.getPosixFilePermissions(state.resolve(ReceiverTls.KEYSTORE))));
        long modified = Files.getLastModifiedTime(pem).toMillis();
        Receiver second = start(Receiver.DEFAULT_MAX_BODY);
        assertEquals(modified, Files.getLastModifiedTime(second.certificatePem()).toMillis());
        // A client with the default trust store refuses the self-signed certificate.
        HttpClient plain = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        assertThrows(IOException.class, () -> req(Uploads.newId()).send(plain, second.endpoint()));
        assertStatus(200, req(Uploads.newId()).send(client, second.endpoint()));
        Collections.reverse(open); // close the second one first; both use the same output file
    }
}
