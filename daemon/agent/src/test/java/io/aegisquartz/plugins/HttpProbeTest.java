package io.aegisquartz.plugins;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import io.aegisquartz.config.AgentSettings;
import io.aegisquartz.config.CronFile;
import io.aegisquartz.config.CronFileParser;
import io.aegisquartz.config.JobOptions;
import io.aegisquartz.config.JobSource;
import io.aegisquartz.config.JobSpec;
import io.aegisquartz.plugin.JobMemory;
import io.aegisquartz.plugin.RunResult;
import io.aegisquartz.plugin.groovy.GroovyPlugin;
import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Status;
import io.aegisquartz.testing.PluginRunners;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.security.auth.x500.X500Principal;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.Signature;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static io.aegisquartz.testing.TestJobs.job;
import static io.aegisquartz.testing.TestJobs.limits;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * plugins-default/http_probe.groovy against real HTTPS and HTTP servers on 127.0.0.1 that this test
 * runs, with certificates signed by a CA that keytool makes here: one valid for 30 days, one expired,
 * one expiring in 3 days, one for "localhost" only. Nothing is mocked: the plugin resolves, connects,
 * handshakes and reads over real sockets.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class HttpProbeTest extends PluginRunners {

    static final Path PLUGIN = Path.of(System.getProperty("user.dir")).resolve("../../plugins-default/http_probe.groovy").normalize();
    static final JobOptions LIMITS = limits(Duration.ofSeconds(30), Duration.ofSeconds(20));
    static final String PASSWORD = "test-only";
    static final String OK_BODY = "hello from the aegis-quartz probe test\n";
    /** Delay of /slow: long enough that any --max-ms below it must trip. */
    static final long SLOW_MS = 300;

    @TempDir
    static Path certs;

    static GroovyPlugin plugin;
    static Path caPem;
    static ExecutorService executor;
    static HttpsServer good;
    static HttpsServer expired;
    static HttpsServer soon;
    static HttpsServer localhostOnly;
    static HttpServer plain;

    /** Requests the servers saw, for asserting what the probe sent (and that it sent nothing). */
    static final Queue<Seen> requests = new ConcurrentLinkedQueue<>();
    /** What /slow and /hang wait for; released after each test so no handler outlives it. */
    static volatile CountDownLatch release = new CountDownLatch(1);

    record Seen(int serverPort, String method, String uri, String host, String userAgent, String authorization) {
    }

    @BeforeAll
    static void start() throws Exception {
        plugin = GroovyPlugin.compile(PLUGIN, inJvm, processes);
        keytool("-genkeypair", "-alias", "ca", "-keyalg", "EC", "-groupname", "secp256r1", "-validity", "3650",
                "-dname", "CN=aegis-quartz test CA", "-ext", "bc:c", "-keystore", certs.resolve("ca.p12").toString());
        KeyStore ca = load(certs.resolve("ca.p12"));
        X509Certificate caCert = (X509Certificate) ca.getCertificate("ca");
        caPem = certs.resolve("ca.pem");
        Files.writeString(caPem, pem("CERTIFICATE", caCert.getEncoded()));

        executor = Executors.newCachedThreadPool();
        good = https(leaf("good", "SAN=ip:127.0.0.1,dns:localhost", "-validity", "30"), caCert);
        expired = https(leaf("expired", "SAN=ip:127.0.0.1,dns:localhost", "-startdate", "-10d", "-validity", "5"), caCert);
        soon = https(leaf("soon", "SAN=ip:127.0.0.1,dns:localhost", "-validity", "3"), caCert);
        localhostOnly = https(leaf("localhost", "SAN=dns:localhost", "-validity", "30"), caCert);
        plain = HttpServer.create(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0), 50);
        serve(plain);
    }

    @AfterAll
    static void stop() {
        release.countDown();
        for (HttpServer s : new HttpServer[] {good, expired, soon, localhostOnly, plain}) {
            if (s != null) {
                s.stop(0);
            }
        }
        if (executor != null) {
            executor.shutdownNow();
        }
    }

    @BeforeEach
    void fresh() {
        requests.clear();
        release = new CountDownLatch(1);
    }

    @AfterEach
    void releaseHandlers() {
        release.countDown();
    }

    // ---------------------------------------------------------------- servers and certificates

    /**
     * A new EC key whose certificate the CA signs: {@code ext} is keytool's -ext, then -startdate/-validity.
     * The key and its signing request are made here (see {@link #csr}); only the CA's signature is keytool's.
     */
    private static KeyStore leaf(String name, String ext, String... dates) throws Exception {
        KeyPairGenerator gen = KeyPairGenerator.getInstance("EC");
        gen.initialize(new ECGenParameterSpec("secp256r1"));
        KeyPair pair = gen.generateKeyPair();
        Path csr = Files.writeString(certs.resolve(name + ".csr"), pem("NEW CERTIFICATE REQUEST", csr(pair, "CN=" + name)));
        Path crt = certs.resolve(name + ".crt");
        List<String> gencert = new ArrayList<>(List.of("-gencert", "-alias", "ca", "-keystore", certs.resolve("ca.p12").toString(),
                "-infile", csr.toString(), "-outfile", crt.toString(), "-rfc", "-ext", ext));
        gencert.addAll(List.of(dates));
        keytool(gencert.toArray(String[]::new));
        Certificate signed;
        try (InputStream in = Files.newInputStream(crt)) {
            signed = CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
        KeyStore out = KeyStore.getInstance("PKCS12");
        out.load(null, null);
        // The CA is sent along, as a server with an intermediate would; it is not what makes the client trust it.
        out.setKeyEntry(name, pair.getPrivate(), PASSWORD.toCharArray(),
                new Certificate[] {signed, load(certs.resolve("ca.p12")).getCertificate("ca")});
        return out;
    }

    /**
     * A PKCS#10 certificate signing request (RFC 2986) in DER: what 'keytool -certreq' writes, built here
     * to spare two keytool runs (a JVM start each) per certificate.
     */
    static byte[] csr(KeyPair pair, String subject) throws Exception {
        byte[] info = der(0x30, der(0x02, new byte[] {0}), new X500Principal(subject).getEncoded(), pair.getPublic().getEncoded(),
                der(0xA0));
        Signature sig = Signature.getInstance("SHA256withECDSA");
        sig.initSign(pair.getPrivate());
        sig.update(info);
        byte[] signature = sig.sign();
        byte[] ecdsaWithSha256 = der(0x30, der(0x06, new byte[] {0x2A, (byte) 0x86, 0x48, (byte) 0xCE, 0x3D, 0x04, 0x03, 0x02}));
        byte[] bits = new byte[signature.length + 1];
        System.arraycopy(signature, 0, bits, 1, signature.length);
        return der(0x30, info, ecdsaWithSha256, der(0x03, bits));
    }

    static String pem(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n" + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der)
                + "\n-----END " + type + "-----\n";
    }

    /** One DER element: tag, definite length, the parts concatenated. */
    static byte[] der(int tag, byte[]... parts) {
        java.io.ByteArrayOutputStream body = new java.io.ByteArrayOutputStream();
        for (byte[] p : parts) {
            body.writeBytes(p);
        }
        int n = body.size();
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        out.write(tag);
        if (n < 128) {
            out.write(n);
        } else if (n < 256) {
            out.write(0x81);
            out.write(n);
        } else {
            out.write(0x82);
            out.write(n >> 8);
            out.write(n & 0xff);
        }
        out.writeBytes(body.toByteArray());
        return out.toByteArray();
    }

    private static HttpsServer https(KeyStore identity, X509Certificate caCert) throws Exception {
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(identity, PASSWORD.toCharArray());
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), null, null);
        HttpsServer s = HttpsServer.create(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0), 50);
        s.setHttpsConfigurator(new HttpsConfigurator(ctx));
        serve(s);
        return s;
    }

    private static void serve(HttpServer s) {
        s.setExecutor(executor);
        s.createContext("/", HttpProbeTest::handle);
        s.start();
    }

    private static void handle(HttpExchange ex) throws IOException {
        try (ex) {
            ex.getRequestBody().readAllBytes();
            requests.add(new Seen(ex.getLocalAddress().getPort(), ex.getRequestMethod(), ex.getRequestURI().toString(),
                    ex.getRequestHeaders().getFirst("Host"), ex.getRequestHeaders().getFirst("User-Agent"),
                    ex.getRequestHeaders().getFirst("Authorization")));
            String path = ex.getRequestURI().getPath();
            switch (path) {
                case "/ok" -> send(ex, 200, OK_BODY.getBytes(StandardCharsets.UTF_8), false);
                case "/error" -> send(ex, 500, "boom".getBytes(StandardCharsets.UTF_8), false);
                case "/chunked" -> send(ex, 200, chunkedBody(), true);
                case "/moved" -> {
                    ex.getResponseHeaders().add("Location", "/ok");
                    send(ex, 301, new byte[0], false);
                }
                case "/slow" -> {
                    await(SLOW_MS);
                    send(ex, 200, OK_BODY.getBytes(StandardCharsets.UTF_8), false);
                }
                case "/hang" -> {
                    await(TimeUnit.MINUTES.toMillis(2));
                    send(ex, 200, OK_BODY.getBytes(StandardCharsets.UTF_8), false);
                }
                default -> send(ex, 404, new byte[0], false);
            }
        }
    }

    private static void await(long ms) {
        try {
            release.await(ms, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** 200 KB of text, sent without a length (chunked), with a marker only at its very end. */
    static byte[] chunkedBody() {
        StringBuilder sb = new StringBuilder();
        while (sb.length() < 200_000) {
            sb.append("line ").append(sb.length()).append('\n');
        }
        return sb.append("END-MARKER\n").toString().getBytes(StandardCharsets.UTF_8);
    }

    private static void send(HttpExchange ex, int code, byte[] body, boolean chunked) throws IOException {
        ex.getResponseHeaders().add("Content-Type", "text/plain; charset=utf-8");
        ex.sendResponseHeaders(code, chunked ? 0 : body.length == 0 ? -1 : body.length);
        try (OutputStream out = ex.getResponseBody()) {
            // In pieces, so the chunked response really has several chunks.
            for (int i = 0; i < body.length; i += 8192) {
                out.write(body, i, Math.min(8192, body.length - i));
                out.flush();
            }
        }
    }

    private static KeyStore load(Path p12) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(p12)) {
            ks.load(in, PASSWORD.toCharArray());
        }
        return ks;
    }

    private static void keytool(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
        cmd.addAll(List.of(args));
        cmd.addAll(List.of("-storetype", "PKCS12", "-storepass", PASSWORD, "-keypass", PASSWORD, "-noprompt"));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        try {
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "keytool " + args[0] + " did not finish");
            assertEquals(0, p.exitValue(), "keytool " + String.join(" ", args) + ": " + out);
        } finally {
            p.destroyForcibly();
        }
    }

    // ---------------------------------------------------------------- running the plugin

    private static String url(HttpServer s, String host, String path) {
        return (s instanceof HttpsServer ? "https" : "http") + "://" + host + ":" + s.getAddress().getPort() + path;
    }

    private static RunResult run(JobOptions limits, String... args) throws InterruptedException {
        return plugin.run(job(PLUGIN, limits, args), new JobMemory());
    }

    /** The one http sample of a run that must have completed. */
    private static Measurement probe(String... args) throws InterruptedException {
        RunResult r = run(LIMITS, args);
        assertEquals(Status.OK, r.outcome(), () -> "the run itself must succeed: " + r.measurements());
        assertEquals(1, r.measurements().size(), r.measurements().toString());
        Measurement m = r.measurements().get(0);
        assertEquals("http", m.metric());
        return m;
    }

    private static double v(Measurement m, String name) {
        Double d = m.values().get(name);
        if (d == null) {
            fail(name + " missing in " + m);
        }
        return d;
    }

    // ---------------------------------------------------------------- tests

    @Test
    void upIsOkWithEveryTimingTheSizeAndTheCertificateDaysLeft() throws Exception {
        String url = url(good, "localhost", "/ok");
        Measurement m = probe("--ca-file", caPem.toString(), "--expect", "200", "--match", "from the aegis-.*test", url);

        assertEquals(Status.OK, m.status(), m.toString());
        assertEquals(List.of("dns_ms", "connect_ms", "tls_ms", "first_byte_ms", "total_ms", "size_bytes", "code", "cert_expiry_days"),
                List.copyOf(m.values().keySet()));
        assertEquals(Map.of("dns_ms", "ms", "connect_ms", "ms", "tls_ms", "ms", "first_byte_ms", "ms", "total_ms", "ms",
                "size_bytes", "B", "cert_expiry_days", "d"), m.units());
        assertEquals(Map.of("url", url), m.tags());
        assertEquals(200.0, v(m, "code"));
        assertEquals(OK_BODY.length(), v(m, "size_bytes"), "the body's length");
        for (String phase : List.of("dns_ms", "connect_ms", "tls_ms", "first_byte_ms")) {
            assertTrue(v(m, phase) >= 0, phase + " " + m.values());
        }
        // The phases follow one another: together they fit in the total (1 µs of rounding each).
        double phases = v(m, "dns_ms") + v(m, "connect_ms") + v(m, "tls_ms") + v(m, "first_byte_ms");
        assertTrue(phases <= v(m, "total_ms") + 0.004, "phases " + phases + " > total " + m.values());
        assertTrue(v(m, "tls_ms") > 0 && v(m, "first_byte_ms") > 0, "a handshake and a round trip take time: " + m.values());
        // keytool -validity 30 from now: 30 days minus the seconds this test has run.
        double days = v(m, "cert_expiry_days");
        assertTrue(days > 29.9 && days <= 30.0, "cert_expiry_days " + days);
        assertTrue(m.message().matches("HTTP 200 in \\d+ ms, " + OK_BODY.length() + " B; certificate valid for 30\\.0 more days"),
                m.message());

        Seen req = requests.poll();
        assertEquals(new Seen(good.getAddress().getPort(), "GET", "/ok", "localhost:" + good.getAddress().getPort(), "aegis-quartz", null),
                req, "one plain GET with Host and User-Agent");
        assertNull(requests.poll(), "one request per probe");
    }

    @Test
    void serverErrorIsCriticalWithTheCodeUnlessExpected() throws Exception {
        Measurement m = probe("--ca-file", caPem.toString(), url(good, "127.0.0.1", "/error"));

        assertEquals(Status.CRITICAL, m.status(), m.toString());
        assertEquals("unexpected code 500 (expected 2xx,3xx)", m.message());
        assertEquals(500.0, v(m, "code"));
        assertEquals(4.0, v(m, "size_bytes"), "'boom'");

        Measurement expected = probe("--ca-file", caPem.toString(), "--expect", "5xx", url(good, "127.0.0.1", "/error"));
        assertEquals(Status.OK, expected.status(), expected.toString());
    }

    @Test
    void redirectIsReportedNotFollowed() throws Exception {
        String url = url(plain, "127.0.0.1", "/moved");
        Measurement m = probe(url);

        assertEquals(Status.OK, m.status(), "3xx is expected by default: " + m);
        assertEquals(301.0, v(m, "code"));
        assertTrue(m.message().endsWith(", to /ok"), m.message());
        assertEquals(List.of("/moved"), requests.stream().map(Seen::uri).toList(), "not followed");

        Measurement strict = probe("--expect", "200", url);
        assertEquals(Status.CRITICAL, strict.status());
        assertEquals("unexpected code 301 (expected 200)", strict.message());
    }

    @Test
    void slowerThanMaxMsIsCritical() throws Exception {
        Measurement m = probe("--ca-file", caPem.toString(), "--max-ms", "100", url(good, "127.0.0.1", "/slow"));

        assertEquals(Status.CRITICAL, m.status(), m.toString());
        assertTrue(v(m, "total_ms") >= SLOW_MS, m.values().toString());
        assertTrue(v(m, "first_byte_ms") >= SLOW_MS - 1, "the wait is the server's: " + m.values());
        assertTrue(m.message().matches("slow: \\d+ ms, more than --max-ms 100"), m.message());
        assertEquals(200.0, v(m, "code"));
    }

    @Test
    void timeoutShorterThanTheServersDelayIsCriticalTimedOut() throws Exception {
        // Plain HTTP for the exact figure: a loopback connect is immediate even on a loaded machine, where a
        // TLS handshake with a cold server can itself take longer than 500 ms.
        Measurement m = probe("--timeout", "500ms", url(plain, "127.0.0.1", "/hang"));

        assertEquals(Status.CRITICAL, m.status(), m.toString());
        assertTrue(m.message().matches("timed out waiting for the response after \\d+ ms \\(--timeout 500 ms\\)"), m.message());
        assertEquals(List.of("dns_ms", "connect_ms", "total_ms"), List.copyOf(m.values().keySet()),
                "no response: no code, size or first byte");
        double total = v(m, "total_ms");
        assertTrue(total >= 500 && total < 10_000, "stopped at the timeout: " + total);

        Measurement tls = probe("--ca-file", caPem.toString(), "--timeout", "2", url(good, "127.0.0.1", "/hang"));
        assertEquals(Status.CRITICAL, tls.status(), tls.toString());
        assertTrue(tls.message().matches("timed out waiting for the response after \\d+ ms \\(--timeout 2000 ms\\)"), tls.message());
        assertEquals(List.of("dns_ms", "connect_ms", "tls_ms", "total_ms", "cert_expiry_days"), List.copyOf(tls.values().keySet()));
        assertTrue(v(tls, "total_ms") >= 2000, tls.values().toString());
    }

    @Test
    void theJobsTimeLimitBoundsTheProbesAndLeavesTimeToReport() throws Exception {
        // --timeout 60 s, but the job may run 3 s: the first URL stops in time, the second is not tried.
        RunResult r = run(limits(Duration.ofSeconds(3), Duration.ofSeconds(20)), "--ca-file", caPem.toString(), "--timeout", "60",
                url(good, "127.0.0.1", "/hang"), url(good, "127.0.0.1", "/ok"));

        assertEquals(Status.OK, r.outcome(), "the plugin finished within its limit: " + r.measurements());
        assertEquals(2, r.measurements().size(), r.measurements().toString());
        Measurement hung = r.measurements().get(0);
        assertEquals(Status.CRITICAL, hung.status());
        assertTrue(hung.message().matches("timed out waiting for the response after \\d+ ms \\(the job's time limit\\)"), hung.message());
        Measurement skipped = r.measurements().get(1);
        assertEquals(Status.UNKNOWN, skipped.status());
        assertTrue(skipped.message().startsWith("not probed: the job's time limit was reached"), skipped.message());
        assertEquals(Map.of("url", url(good, "127.0.0.1", "/ok")), skipped.tags());
    }

    @Test
    void expiredCertificateIsCriticalAndNoRequestIsSent() throws Exception {
        Measurement m = probe("--ca-file", caPem.toString(), url(expired, "localhost", "/ok"));

        assertEquals(Status.CRITICAL, m.status(), m.toString());
        assertTrue(m.message().matches("certificate expired on \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ, 5\\.0 days ago"), m.message());
        // -startdate -10d -validity 5: it ended 5 days ago; read from the certificate after the failed handshake.
        double days = v(m, "cert_expiry_days");
        assertTrue(days > -5.01 && days <= -4.99, "cert_expiry_days " + days);
        assertFalse(m.values().containsKey("code"), m.values().toString());
        assertFalse(m.values().containsKey("tls_ms"), "the handshake did not complete: " + m.values());
        assertEquals(List.of(), List.copyOf(requests), "a request is never sent over an unverified connection");
    }

    @Test
    void certificateExpiringWithinCertDaysIsCritical() throws Exception {
        String url = url(soon, "127.0.0.1", "/ok");
        Measurement m = probe("--ca-file", caPem.toString(), url);

        assertEquals(Status.CRITICAL, m.status(), m.toString());
        assertTrue(m.message().matches("certificate expires on \\S+Z, in (2\\.9|3\\.0) days \\(--cert-days 14\\)"), m.message());
        double days = v(m, "cert_expiry_days");
        assertTrue(days > 2.9 && days <= 3.0, "cert_expiry_days " + days);
        assertEquals(200.0, v(m, "code"), "the request itself went through");

        Measurement relaxed = probe("--ca-file", caPem.toString(), "--cert-days", "2", url);
        assertEquals(Status.OK, relaxed.status(), relaxed.toString());
    }

    @Test
    void certificateFromAnUnknownCaIsCriticalUnlessInsecure() throws Exception {
        String url = url(good, "127.0.0.1", "/ok");
        Measurement m = probe(url);

        assertEquals(Status.CRITICAL, m.status(), m.toString());
        assertTrue(m.message().startsWith("certificate not trusted: "), m.message());
        assertTrue(v(m, "cert_expiry_days") > 29.9, "dates still read: " + m.values());
        assertEquals(List.of(), List.copyOf(requests), "nothing sent to an untrusted server");

        Measurement insecure = probe("--insecure", url);
        assertEquals(Status.OK, insecure.status(), insecure.toString());
        assertEquals(200.0, v(insecure, "code"));
    }

    @Test
    void certificateForAnotherNameIsCritical() throws Exception {
        // The certificate names only localhost; the same server asked for as 127.0.0.1 must not pass.
        Measurement byName = probe("--ca-file", caPem.toString(), url(localhostOnly, "localhost", "/ok"));
        assertEquals(Status.OK, byName.status(), byName.toString());

        requests.clear();
        Measurement m = probe("--ca-file", caPem.toString(), url(localhostOnly, "127.0.0.1", "/ok"));
        assertEquals(Status.CRITICAL, m.status(), m.toString());
        assertEquals("certificate does not match the host name 127.0.0.1", m.message());
        assertEquals(List.of(), List.copyOf(requests));
    }

    @Test
    void closedPortIsCriticalDownConnectionRefused() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            port = s.getLocalPort();
        }

        Measurement m = probe("https://127.0.0.1:" + port + "/");

        assertEquals(Status.CRITICAL, m.status(), m.toString());
        assertEquals("down: connection refused by 127.0.0.1 port " + port, m.message());
        assertEquals(List.of("dns_ms", "total_ms"), List.copyOf(m.values().keySet()));
    }

    @Test
    void plainHttpChunkedBodyIsCountedAndSearchedToItsEnd() throws Exception {
        String url = url(plain, "127.0.0.1", "/chunked");
        Measurement m = probe("--match", "(?m)^END-MARKER$", url);

        assertEquals(Status.OK, m.status(), m.toString());
        assertEquals(List.of("dns_ms", "connect_ms", "first_byte_ms", "total_ms", "size_bytes", "code"), List.copyOf(m.values().keySet()),
                "no TLS, no certificate");
        assertEquals(chunkedBody().length, v(m, "size_bytes"), "the body without its chunk framing");

        Measurement missing = probe("--match", "(?i)not in the body", url);
        assertEquals(Status.CRITICAL, missing.status());
        assertEquals("body does not match '(?i)not in the body'", missing.message());
        assertEquals(chunkedBody().length, v(missing, "size_bytes"));
    }

    @Test
    void urlFileWithCommentsQuotesAndPerLineOptions() throws Exception {
        Path file = certs.resolve("urls.txt");
        String ok = url(good, "localhost", "/ok");
        String withSecrets = "https://monitor:s3cret@127.0.0.1:" + good.getAddress().getPort() + "/ok?user=me&token=abc123";
        Files.writeString(file, String.join("\n",
                "# probed every minute",
                "",
                ok + " --match 'from the aegis-quartz probe'   # a comment after the options",
                withSecrets + " --expect 404",
                "  " + url(good, "127.0.0.1", "/slow") + " --max-ms \"50\"",
                ""));

        RunResult r = run(LIMITS, "--ca-file", caPem.toString(), "--file", file.toString());

        assertEquals(Status.OK, r.outcome(), r.measurements().toString());
        List<Measurement> ms = r.measurements();
        assertEquals(3, ms.size(), ms.toString());
        assertEquals(Status.OK, ms.get(0).status(), ms.get(0).toString());
        assertEquals(Map.of("url", ok), ms.get(0).tags());
        assertEquals(Status.CRITICAL, ms.get(1).status(), "--expect 404 on that line only: " + ms.get(1));
        assertEquals("unexpected code 200 (expected 404)", ms.get(1).message());
        assertEquals(Map.of("url", "https://127.0.0.1:" + good.getAddress().getPort() + "/ok?user=me&token=***"), ms.get(1).tags(),
                "no password or token in the tag");
        assertEquals(Status.CRITICAL, ms.get(2).status());
        assertTrue(ms.get(2).message().startsWith("slow: "), ms.get(2).message());

        Seen sent = requests.stream().filter(s -> s.uri().startsWith("/ok?")).findFirst().orElseThrow();
        assertEquals("/ok?user=me&token=abc123", sent.uri(), "the query is sent as written");
        assertEquals("Basic " + Base64.getEncoder().encodeToString("monitor:s3cret".getBytes(StandardCharsets.UTF_8)),
                sent.authorization(), "user:password@ becomes Basic authentication");
    }

    @Test
    void badArgumentsGiveOneClearError() throws Exception {
        assertError("IllegalArgumentException: bad argument '--bogus'; usage: http_probe.groovy", "--bogus", "http://127.0.0.1/");
        assertError("IllegalArgumentException: bad argument '--expect 20x': give codes or classes", "--expect", "20x", "http://127.0.0.1/");
        assertError("IllegalArgumentException: bad argument '--timeout soon': give seconds or a unit", "--timeout", "soon", "http://127.0.0.1/");
        assertError("IllegalArgumentException: bad argument '--match (': not a Java regex", "--match", "(", "http://127.0.0.1/");
        assertError("IllegalArgumentException: bad URL 'ftp://127.0.0.1/': give http://", "ftp://127.0.0.1/");
        assertError("IllegalArgumentException: no URL given; usage:");
        assertError("IllegalArgumentException: bad argument '--ca-file /nonexistent.pem': cannot read a PEM certificate",
                "--ca-file", "/nonexistent.pem", "https://127.0.0.1/");

        Path file = certs.resolve("bad-urls.txt");
        Files.writeString(file, "http://127.0.0.1/ok\n# fine so far\nhttp://127.0.0.1/x --expect 2x5\n");
        assertError("IllegalArgumentException: " + file + ":3: bad argument '--expect 2x5'", "--file", file.toString());
        assertError("IllegalArgumentException: bad argument '--file urls.txt': give an absolute path", "--file", "urls.txt");
        assertEquals(List.of(), List.copyOf(requests), "nothing probed when the arguments are wrong");
    }

    @Test
    void theExampleLinesInConfUserParseAndTheirOptionsAreAccepted() throws Exception {
        Path repo = PLUGIN.getParent().getParent();
        List<String> lines = Files.readAllLines(repo.resolve("conf/aegis_quartz.conf.user")).stream()
                .filter(l -> l.startsWith("#[") && l.contains(" default/http_probe.groovy ")).map(l -> l.substring(1)).toList();
        assertTrue(lines.size() >= 2, "examples with URLs and with --file: " + lines);
        CronFile parsed = new CronFileParser(AgentSettings.defaults(repo, repo.resolve("conf")), new Date())
                .parse(JobSource.USER, repo.resolve("conf/aegis_quartz.conf.user"), String.join("\n", lines) + "\n");
        assertEquals(List.of(), parsed.problems());

        // Their URLs (example.org, a file of the reader's) swapped for a closed local port: every option
        // is accepted, so the run completes and each URL is reported down rather than the job failing.
        int closed;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            closed = s.getLocalPort();
        }
        String local = "http://127.0.0.1:" + closed + "/";
        Path urls = Files.writeString(certs.resolve("example-urls.txt"), local + "\n");
        for (JobSpec job : parsed.jobs()) {
            List<String> args = new ArrayList<>();
            for (String a : job.args()) {
                boolean afterFile = !args.isEmpty() && args.get(args.size() - 1).equals("--file");
                args.add(afterFile ? urls.toString() : a.startsWith("http") ? local : a);
            }
            RunResult r = plugin.run(job(PLUGIN, job.options(), args.toArray(String[]::new)), new JobMemory());
            assertEquals(Status.OK, r.outcome(), () -> job.name() + ": " + r.measurements());
            for (Measurement m : r.measurements()) {
                assertEquals("down: connection refused by 127.0.0.1 port " + closed, m.message(), job.name());
            }
        }
    }

    private static void assertError(String start, String... args) throws InterruptedException {
        RunResult r = run(LIMITS, args);
        assertEquals(Status.ERROR, r.outcome(), () -> String.join(" ", args) + " -> " + r.measurements());
        assertEquals(1, r.measurements().size());
        String message = r.measurements().get(0).message();
        assertTrue(message.startsWith(start), "expected '" + start + "...' but got: " + message);
    }
}
