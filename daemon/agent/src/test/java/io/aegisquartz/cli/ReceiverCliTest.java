package io.aegisquartz.cli;

import io.aegisquartz.output.aegis.RequestSigning;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.zip.GZIPOutputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** 'aegis-quartz receive' as operators run it: a real process, its output, SIGTERM. */
class ReceiverCliTest {

    private static final String SECRET = "cli-Secret-Never-Shown-4e8b";

    @TempDir
    Path dir;

    private Path credentials(String mode) throws Exception {
        Path f = dir.resolve("credentials.ini");
        Files.writeString(f, "[credentials]\naccess_key_id = AK-cli\naccess_key_secret = " + SECRET + "\n");
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString(mode));
        return f;
    }

    @Test
    void helpAndRefusalOfAReadableCredentialsFile() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Cli cli = new Cli(new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8), Map.of());
        assertEquals(0, cli.execute("receive", "--help"));
        assertTrue(out.toString(StandardCharsets.UTF_8).contains("--keystore-password-file"));
        assertTrue(cli.help().contains("receive"));

        Path f = credentials("rw-r--r--");
        assertEquals(1, cli.execute("--home", dir.toString(), "receive", "--credentials", f.toString(), "--listen", "127.0.0.1:0"));
        String e = err.toString(StandardCharsets.UTF_8);
        assertTrue(e.contains("chmod 600 " + f), e);
        assertFalse(e.contains(SECRET), e);
        assertEquals(2, cli.execute("receive", "--listen", "nope"));
    }

    @Test
    void theSilenceCheckRefusesToStartWithoutAUsableChannel() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Cli cli = new Cli(new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8), Map.of());
        Path f = credentials("rw-------");
        String[] base = {"--home", dir.toString(), "receive", "--credentials", f.toString(), "--listen", "127.0.0.1:0",
                "--state-dir", dir.resolve("state").toString()};
        assertEquals(2, cli.execute(concat(base, "--silence-after", "2m")), "--silence-after without --notify");
        assertEquals(2, cli.execute(concat(base, "--notify", "ops")), "--notify without --silence-after");
        assertEquals(2, cli.execute(concat(base, "--silence-after", "soon", "--notify", "ops")));
        assertEquals(2, cli.execute(concat(base, "--silence-after", "2m", "--notify", "ops,,x")));

        Path ini = dir.resolve("notify.ini");
        Files.writeString(ini, "[channel.ops]\ntype = webhook\nurl = https://hooks.example.com/t0ken-Never-Shown\n");
        Files.setPosixFilePermissions(ini, PosixFilePermissions.fromString("rw-r--r--"));
        assertEquals(1, cli.execute(concat(base, "--silence-after", "2m", "--notify", "ops", "--notify-config", ini.toString())));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("chmod 600 " + ini), err.toString(StandardCharsets.UTF_8));
        Files.setPosixFilePermissions(ini, PosixFilePermissions.fromString("rw-------"));
        assertEquals(1, cli.execute(concat(base, "--silence-after", "2m", "--notify", "oncall", "--notify-config", ini.toString())));
        String e = err.toString(StandardCharsets.UTF_8);
        assertTrue(e.contains("--notify oncall: no channel [channel.oncall] in " + ini + "; channels: ops"), e);
        assertFalse(e.contains("t0ken-Never-Shown"), e);
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @Test
    void runsUntilSigtermAndNeverPrintsTheSecret() throws Exception {
        Path creds = credentials("rw-------");
        Path out = dir.resolve("received.jsonl");
        Path log = dir.resolve("stderr.txt");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "--home", dir.toString(), "receive", "--listen", "127.0.0.1:0", "--credentials", creds.toString(),
                "--out", out.toString(), "--state-dir", dir.resolve("state").toString())
                .redirectError(log.toFile()).start();
        try {
            BufferedReader stdout = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            String listening = stdout.readLine();
            assertNotNull(listening, "no output; stderr: " + Files.readString(log));
            assertTrue(listening.startsWith("listening on https://127.0.0.1:"), listening);
            URI endpoint = URI.create(listening.split(" ")[2]);
            assertEquals("storing samples in " + out, stdout.readLine());
            String certLine = stdout.readLine();
            assertTrue(certLine.startsWith("certificate to trust: "), certLine);
            HttpClient client = client(Path.of(certLine.substring("certificate to trust: ".length())));

            String id = UUID.randomUUID().toString();
            assertEquals(401, client.send(request(endpoint, id, SECRET + "-wrong"), HttpResponse.BodyHandlers.ofString()).statusCode());
            HttpResponse<String> ok = client.send(request(endpoint, id, SECRET), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, ok.statusCode(), ok.body());

            p.destroy(); // SIGTERM
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "receive did not stop on SIGTERM");
            assertEquals(0, p.exitValue());
            String all = Files.readString(log);
            assertTrue(all.contains("1 accepted"), all);
            assertTrue(all.contains("signature does not match"), all);
            assertTrue(all.contains("stopped: 2 request(s), 1 sample(s) accepted"), all);
            assertFalse(all.contains(SECRET), all);
            assertEquals(1, Files.readAllLines(out).size());
        } finally {
            p.destroyForcibly();
        }
    }

    /** A started 'receive' process and what it printed. */
    private record Started(Process process, URI endpoint, HttpClient client) {
    }

    private Started startReceiver(Path creds, Path out, String... extra) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "-cp", System.getProperty("java.class.path"),
                Main.class.getName(), "--home", dir.toString(), "receive", "--listen", "127.0.0.1:0", "--credentials", creds.toString(),
                "--out", out.toString(), "--state-dir", dir.resolve("state").toString()));
        cmd.addAll(List.of(extra));
        Path log = dir.resolve("stderr-" + UUID.randomUUID() + ".txt");
        Process p = new ProcessBuilder(cmd).redirectError(log.toFile()).start();
        BufferedReader stdout = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        String listening = stdout.readLine();
        assertNotNull(listening, "no output; stderr: " + Files.readString(log));
        stdout.readLine();
        String certLine = stdout.readLine();
        return new Started(p, URI.create(listening.split(" ")[2]),
                client(Path.of(certLine.substring("certificate to trust: ".length()))));
    }

    /**
     * Issue 18.4: the reference receiver keeps rejecting a verbatim replay after its own restart
     * within the window, also when it was killed (SIGKILL) rather than stopped.
     */
    @Test
    void aVerbatimReplayIsRefusedAfterTheReceiverIsKilledAndStartedAgain() throws Exception {
        Path creds = credentials("rw-------");
        Path out = dir.resolve("received.jsonl");
        Function<URI, HttpRequest> captured = signed(UUID.randomUUID().toString(), SECRET);
        Started first = startReceiver(creds, out);
        try {
            HttpResponse<String> ok = first.client().send(captured.apply(first.endpoint()), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, ok.statusCode(), ok.body());
        } finally {
            first.process().destroyForcibly(); // SIGKILL: no shutdown hook, no close()
            first.process().waitFor(30, TimeUnit.SECONDS);
        }
        Started second = startReceiver(creds, out);
        try {
            HttpResponse<String> replay = second.client().send(captured.apply(second.endpoint()), HttpResponse.BodyHandlers.ofString());
            assertEquals(401, replay.statusCode(), replay.body());
            assertTrue(replay.body().contains("replay"), replay.body());
            assertEquals(1, Files.readAllLines(out).size());
        } finally {
            second.process().destroyForcibly();
            second.process().waitFor(30, TimeUnit.SECONDS);
        }
    }

    /** --faults from the command line: the named faults, one request in --fault-every, in turn. */
    @Test
    void faultInjectionFromTheCommandLine() throws Exception {
        Path creds = credentials("rw-------");
        Path out = dir.resolve("received.jsonl");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Cli cli = new Cli(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), Map.of());
        assertEquals(2, cli.execute("receive", "--faults", "503,teapot"));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("unknown fault 'teapot'; known: all, 500,"), err.toString());
        assertEquals(2, cli.execute("receive", "--fault-every", "3"));
        assertEquals(2, cli.execute("receive", "--faults", "all", "--fault-every", "0"));
        assertEquals(2, cli.execute("receive", "--faults", "slow", "--fault-delay", "10m"));

        Started r = startReceiver(creds, out, "--faults", "503-retry-after,close-before-store", "--fault-every", "2");
        try {
            List<String> seen = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                try {
                    HttpResponse<String> resp = r.client().send(signed(UUID.randomUUID().toString(), SECRET).apply(r.endpoint()),
                            HttpResponse.BodyHandlers.ofString());
                    seen.add(resp.statusCode() + resp.headers().firstValue("Retry-After").map(v -> " Retry-After " + v).orElse(""));
                } catch (java.io.IOException closed) {
                    seen.add("closed");
                }
            }
            assertEquals(List.of("200", "503 Retry-After 2", "200", "closed", "200"), seen);
            assertEquals(3, Files.readAllLines(out).size());
        } finally {
            r.process().destroyForcibly();
            r.process().waitFor(30, TimeUnit.SECONDS);
        }
    }

    /** One signed request, sent verbatim (same timestamp, nonce, body, signature) to whichever endpoint. */
    private static Function<URI, HttpRequest> signed(String sampleId, String secret) throws Exception {
        String batch = UUID.randomUUID().toString();
        String json = "{\"batch_id\":\"" + batch + "\",\"samples\":[{\"id\":\"" + sampleId + "\",\"time\":\"2026-11-22T01:32:30.236Z\","
                + "\"metric\":\"m\",\"status\":\"ok\",\"values\":{},\"tags\":{}}]}";
        ByteArrayOutputStream gz = new ByteArrayOutputStream();
        try (GZIPOutputStream g = new GZIPOutputStream(gz)) {
            g.write(json.getBytes(StandardCharsets.UTF_8));
        }
        byte[] body = gz.toByteArray();
        long ts = System.currentTimeMillis() / 1000;
        String nonce = RequestSigning.newNonce();
        String sha = RequestSigning.sha256Hex(body);
        String sig = RequestSigning.sign(secret, RequestSigning.stringToSign("POST", "/aegis/v1/samples", ts, nonce, sha, batch));
        return endpoint -> HttpRequest.newBuilder(endpoint).POST(HttpRequest.BodyPublishers.ofByteArray(body))
                .header("Content-Type", "application/json").header("Content-Encoding", "gzip")
                .header(RequestSigning.HEADER_KEY_ID, "AK-cli").header(RequestSigning.HEADER_TIMESTAMP, Long.toString(ts))
                .header(RequestSigning.HEADER_NONCE, nonce).header(RequestSigning.HEADER_CONTENT_SHA256, sha)
                .header(RequestSigning.HEADER_BATCH_ID, batch).header(RequestSigning.HEADER_SIGNATURE, sig).build();
    }

    private static HttpRequest request(URI endpoint, String sampleId, String secret) throws Exception {
        return signed(sampleId, secret).apply(endpoint);
    }

    private static HttpClient client(Path pem) throws Exception {
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        try (InputStream in = Files.newInputStream(pem)) {
            trust.setCertificateEntry("receiver", CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        return HttpClient.newBuilder().sslContext(ctx).version(HttpClient.Version.HTTP_1_1).build();
    }
}
