package io.aegisquartz.output.otlp;

import io.aegisquartz.config.OutputSettings;
import io.aegisquartz.output.Item;
import io.aegisquartz.output.SendResult;
import io.aegisquartz.output.TestSamples;
import io.aegisquartz.output.http.HttpAuth;
import io.aegisquartz.output.http.HttpTransport;
import io.aegisquartz.testing.servers.OtlpReceiver;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Base64;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The otlp output over real HTTP to an OTLP receiver that decodes with the official classes: each
 * answer the OTLP specification defines lands in the worker's closed set as the specification says
 * (partial success not retried, 400 rejected, 429/503 retried after Retry-After, 413 split), and the
 * agent's own refusals never reach the wire. The answers of influx and prometheus share this code
 * (BackendOutput.common); their own 400s are met with real servers in BackendRejectionsTest.
 */
class OtlpOutputTest {

    @TempDir
    Path dir;

    private final OtlpReceiver receiver = OtlpReceiver.start();
    private OtlpOutput output;

    OtlpOutputTest() throws Exception {
    }

    @AfterEach
    void close() {
        if (output != null) {
            output.close();
        }
        receiver.close();
    }

    private OtlpOutput output(OtlpEncoder.Encoding encoding, HttpAuth auth) throws Exception {
        output = new OtlpOutput("otel", new HttpTransport(URI.create(receiver.url()), true, null, null, null, Duration.ofSeconds(10)),
                auth, encoding);
        return output;
    }

    private static List<Item> items(byte[]... samples) {
        return java.util.Arrays.stream(samples).map(s -> new Item(s, 0, null)).toList();
    }

    private SendResult send(OtlpOutput o, byte[]... samples) throws Exception {
        return o.send(o.encode(items(samples)));
    }

    @Test
    void storedWithAPartialSuccessIsAcceptedNotRetriedAndTheRejectedPointsAreCounted() throws Exception {
        for (OtlpEncoder.Encoding e : OtlpEncoder.Encoding.values()) {
            OtlpOutput o = output(e, HttpAuth.none());
            receiver.partialSuccess(2, "two points had no name");
            assertInstanceOf(SendResult.Accepted.class, send(o, TestSamples.of("cpu").value("user", 1).value("sys", 2).json()));
            assertEquals(2, o.rejectedPoints(), e.name());
            o.close();
        }
        assertEquals(2, receiver.stored().size());
        assertEquals("cpu.user", receiver.stored().get(1).getResourceMetrics(0).getScopeMetrics(0).getMetrics(0).getName());
    }

    @Test
    void eachFailureStatusLandsInTheClosedSetAsTheSpecificationSays() throws Exception {
        OtlpOutput o = output(OtlpEncoder.Encoding.PROTOBUF, HttpAuth.none());
        byte[] s = TestSamples.of("cpu").value("user", 1).json();

        receiver.answer(429, "7");
        SendResult.Retry busy = assertInstanceOf(SendResult.Retry.class, send(o, s));
        assertEquals(Duration.ofSeconds(7), busy.after());
        assertEquals("busy", busy.kind());

        receiver.answer(503, null);
        SendResult.Retry down = assertInstanceOf(SendResult.Retry.class, send(o, s));
        assertNull(down.after(), "no Retry-After: the worker's backoff");
        assertEquals("busy", down.kind());

        receiver.answer(413, null);
        assertInstanceOf(SendResult.TooLarge.class, send(o, s));

        receiver.answer(401, null);
        assertEquals("auth", assertInstanceOf(SendResult.Retry.class, send(o, s)).kind());

        receiver.answer(400, null);
        SendResult.Rejected bad = assertInstanceOf(SendResult.Rejected.class, send(o, s));
        assertTrue(bad.items().isEmpty(), "the server names no sample: the worker finds it by halves");
        assertTrue(bad.why().contains("told to answer 400"), bad.why());

        receiver.answer(500, null);
        assertEquals("status 500", assertInstanceOf(SendResult.Retry.class, send(o, s)).kind());
        assertEquals(6, receiver.requests());
        assertEquals(0, receiver.stored().size());
    }

    @Test
    void whatTheAgentRefusesOrCannotSendNeverReachesTheWire() throws Exception {
        OtlpOutput o = output(OtlpEncoder.Encoding.JSON, HttpAuth.none());
        byte[] good = TestSamples.of("cpu").value("user", 1).json();
        byte[] broken = "{\"not\":\"a sample\"}".getBytes();
        SendResult.Rejected r = assertInstanceOf(SendResult.Rejected.class, send(o, good, broken, good));
        assertEquals(1, r.items().size());
        assertEquals(1, r.items().get(0).index());
        assertTrue(r.items().get(0).reason().startsWith("refused by the agent: not a sample"), r.items().get(0).reason());
        // Only non-finite values (JSON has no NaN; a number past double range reads as infinity): no point at all, so nothing is sent, and the value is counted in the log.
        byte[] infinite = new String(TestSamples.of("cpu").value("user", 7).json()).replace("\"user\":7", "\"user\":1e400").getBytes();
        assertTrue(new String(infinite).contains("1e400"));
        assertInstanceOf(SendResult.Accepted.class, send(o, infinite));
        assertEquals(0, receiver.requests());
    }

    @Test
    void bearerAndBasicAuthComeFromAPrivateCredentialsFileAndNeverShow() throws Exception {
        Path f = dir.resolve("credentials");
        Files.writeString(f, "[credentials]\nbearer_token = tok-123\nusername = aegis\npassword = p a:ss\n");
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
        HttpAuth bearer = HttpAuth.load(OutputSettings.Auth.BEARER, f);
        assertEquals("bearer", bearer.toString());
        send(output(OtlpEncoder.Encoding.PROTOBUF, bearer), TestSamples.of("cpu").value("user", 1).json());
        assertEquals("Bearer tok-123", receiver.authorization());
        output.close();
        send(output(OtlpEncoder.Encoding.PROTOBUF, HttpAuth.load(OutputSettings.Auth.BASIC, f)), TestSamples.of("cpu").value("user", 1).json());
        assertEquals("Basic " + Base64.getEncoder().encodeToString("aegis:p a:ss".getBytes()), receiver.authorization());

        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-r--r--"));
        var e = assertThrows(HttpAuth.Problem.class, () -> HttpAuth.load(OutputSettings.Auth.BEARER, f));
        assertTrue(e.getMessage().contains("chmod 600") && !e.getMessage().contains("tok-123"), e.getMessage());
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
        var missing = assertThrows(HttpAuth.Problem.class, () -> HttpAuth.load(OutputSettings.Auth.TOKEN, f));
        assertTrue(missing.getMessage().contains("token is missing"), missing.getMessage());
    }
}
