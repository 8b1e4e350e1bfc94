package io.aegisquartz.output.aegis;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.HashSet;
import java.util.Set;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The signature scheme, and the worked example of docs/PROTOCOL.md, which must be what the code computes. */
class RequestSigningTest {

    // The worked example, exactly as docs/PROTOCOL.md shows it.
    static final String KEY_ID = "AKIDEXAMPLE";
    static final String SECRET = "kQ3vN8pX2mR7tY5wZ1aB4cD6eF9gH0jL";
    static final long TIMESTAMP = 1795311180L;
    static final String NONCE = "6f1c0e2a9b8d4f3e5a7c1b2d3e4f5a6b";
    static final String BATCH_ID = "0192f5a8-7c3e-7d21-9b4a-3f1e2d5c6b7a";
    static final String JSON = "{\"batch_id\":\"0192f5a8-7c3e-7d21-9b4a-3f1e2d5c6b7a\",\"samples\":[{\"id\":\"01a200e2-249c-7351-9e58-199f7fd26fef\","
            + "\"time\":\"2026-11-22T01:32:30.236Z\",\"host_uuid\":\"3d1219c7-c4c5-404a-aa1f-6d2a48adfda4\",\"hostname\":\"vm\","
            + "\"job\":\"default/sampler.groovy\",\"plugin\":\"default/sampler.groovy\",\"metric\":\"memory\",\"status\":\"ok\","
            + "\"values\":{\"used_pct\":1.49},\"units\":{\"used_pct\":\"%\"},\"tags\":{},\"duration_ms\":15.87,\"cpu_ms\":15.353}]}";
    static final String BODY_BASE64 = """
            H4sIAAAAAAAA/31PS27DIBC9C1J3wYUBjPE5umpVWWM+iVtjLBsiVVHuXpKmmy66e3/NXMiI2Z6G
            yZGeMG4gKOyotsJT7YBTM0qkInAPTtl21EgOZMe4zn4n/duFPHoIjHmgII2lWqja86qj3Jigg4M2
            +FB7eYq+poFBSzmnAC+M9wJ6wRoQ7WtNnNKeh1Luo8Jx4MZqaqVVVLJ6ByIPtHWAskMXHMpHZcH7
            8DlW/pHGCp0PWOb8/HPq1hy3lM5f1V7ncpyW/xLR522yNRF9TNtN2TPmUt8l6bOyM87l9vyFlN27
            YbWZ9LyR5nogZZnyH4c8kWpkPN70ilzZME9pGWIVuGo6fSB2Lb9UKHF9v34DM/R6ZZUBAAA=
            """;
    static final String BODY_SHA256 = "6a575bbae958e8743aede616f93ce36a93366d1646ce210b74c32a7ff8c98f91";
    static final String STRING_TO_SIGN = """
            AEGIS-HMAC-SHA256
            POST
            /aegis/v1/samples
            1795311180
            6f1c0e2a9b8d4f3e5a7c1b2d3e4f5a6b
            6a575bbae958e8743aede616f93ce36a93366d1646ce210b74c32a7ff8c98f91
            0192f5a8-7c3e-7d21-9b4a-3f1e2d5c6b7a""";
    static final String SIGNATURE = "2f0c4a85fdb316dbcfed1a8ab51b9a16024031b7ae1035ce73e36761a71a9450";

    private static byte[] exampleBody() {
        return Base64.getMimeDecoder().decode(BODY_BASE64);
    }

    @Test
    void workedExampleIsWhatTheCodeComputes() throws Exception {
        byte[] body = exampleBody();
        try (GZIPInputStream in = new GZIPInputStream(new ByteArrayInputStream(body))) {
            assertEquals(JSON, new String(in.readAllBytes(), StandardCharsets.UTF_8));
        }
        assertEquals(BODY_SHA256, RequestSigning.sha256Hex(body));
        String sts = RequestSigning.stringToSign("POST", "/aegis/v1/samples", TIMESTAMP, NONCE, BODY_SHA256, BATCH_ID);
        assertEquals(STRING_TO_SIGN, sts);
        assertEquals(SIGNATURE, RequestSigning.sign(SECRET, sts));
        assertTrue(RequestSigning.verify(SECRET, sts, SIGNATURE));
    }

    @Test
    void protocolDocumentShowsTheWorkedExampleVerbatim() throws Exception {
        Path doc = Path.of(System.getProperty("user.dir")).resolve("../../docs/PROTOCOL.md").normalize();
        String text = Files.readString(doc);
        for (String value : new String[] {KEY_ID, SECRET, Long.toString(TIMESTAMP), NONCE, BATCH_ID, JSON, BODY_BASE64.strip(),
                BODY_SHA256, STRING_TO_SIGN, SIGNATURE}) {
            assertTrue(text.contains(value), "docs/PROTOCOL.md does not show: " + value);
        }
    }

    @Test
    void everyFieldOfTheStringToSignChangesTheSignature() {
        String base = RequestSigning.sign(SECRET, STRING_TO_SIGN);
        String[] variants = {
            RequestSigning.stringToSign("PUT", "/aegis/v1/samples", TIMESTAMP, NONCE, BODY_SHA256, BATCH_ID),
            RequestSigning.stringToSign("POST", "/aegis/v1/samples?x=1", TIMESTAMP, NONCE, BODY_SHA256, BATCH_ID),
            RequestSigning.stringToSign("POST", "/aegis/v1/samples", TIMESTAMP + 1, NONCE, BODY_SHA256, BATCH_ID),
            RequestSigning.stringToSign("POST", "/aegis/v1/samples", TIMESTAMP, RequestSigning.newNonce(), BODY_SHA256, BATCH_ID),
            RequestSigning.stringToSign("POST", "/aegis/v1/samples", TIMESTAMP, NONCE, RequestSigning.sha256Hex(new byte[0]), BATCH_ID),
            RequestSigning.stringToSign("POST", "/aegis/v1/samples", TIMESTAMP, NONCE, BODY_SHA256, "00000000-0000-0000-0000-000000000000"),
        };
        for (String v : variants) {
            assertNotEquals(base, RequestSigning.sign(SECRET, v), v);
            assertFalse(RequestSigning.verify(SECRET, v, base));
        }
        assertFalse(RequestSigning.verify("another secret", STRING_TO_SIGN, base));
        assertFalse(RequestSigning.verify(SECRET, STRING_TO_SIGN, base.toUpperCase()));
        assertFalse(RequestSigning.verify(SECRET, STRING_TO_SIGN, "zz"));
    }

    @Test
    void fieldsWithLineBreaksAreRefused() {
        assertThrows(IllegalArgumentException.class,
                () -> RequestSigning.stringToSign("POST", "/a\n1", TIMESTAMP, NONCE, BODY_SHA256, BATCH_ID));
        assertThrows(IllegalArgumentException.class,
                () -> RequestSigning.stringToSign("POST", "/a", TIMESTAMP, NONCE, BODY_SHA256, null));
    }

    @Test
    void noncesAre32LowerCaseHexAndDiffer() {
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < 1000; i++) {
            String n = RequestSigning.newNonce();
            assertTrue(RequestSigning.NONCE.matcher(n).matches(), n);
            assertTrue(seen.add(n), "repeated nonce " + n);
        }
    }
}
