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
        Receiver r = Receiver.start(new Receiver.Config().listen(new InetSocketAddress("127.0.0.1", 0)).out(out).stateDir(state)
                .credentials(List.of(KEY)).maxBody(maxBody).clock(Clock.fixed(Instant.ofEpochSecond(NOW), ZoneOffset.UTC)));
        open.add(r);
        return r;
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
