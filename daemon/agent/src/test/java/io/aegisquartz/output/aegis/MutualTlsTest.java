package io.aegisquartz.output.aegis;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsExchange;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;
import io.aegisquartz.output.DeadLetters;
import io.aegisquartz.output.OutputWorker;
import io.aegisquartz.output.WorkerConfig;
import io.aegisquartz.output.http.HttpTransport;
import io.aegisquartz.sample.SampleStamper;
import io.aegisquartz.spool.Spool;
import io.aegisquartz.util.ExponentialBackoff;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The optional client certificate: a server that requires one gets it, and one without it gets nothing through. */
class MutualTlsTest {

    @TempDir
    Path dir;

    private HttpsServer server;
    private Spool spool;
    private OutputWorker<?> uploader;
    private final List<String> clients = new CopyOnWriteArrayList<>();

    @AfterEach
    void close() throws Exception {
        if (uploader != null) {
            uploader.close();
        }
        if (spool != null) {
            spool.close();
        }
        if (server != null) {
            server.stop(0);
        }
    }

    private void keytool(String... args) throws Exception {
        String[] cmd = new String[args.length + 1];
        cmd[0] = Path.of(System.getProperty("java.home"), "bin", "keytool").toString();
        System.arraycopy(args, 0, cmd, 1, args.length);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, "keytool failed: " + out);
    }

    /** A key pair in NAME.p12 (password "secret-pw") and its certificate in NAME.pem. */
    private void identity(String name, String cn) throws Exception {
        keytool("-genkeypair", "-alias", name, "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=" + cn,
                "-ext", "SAN=ip:127.0.0.1", "-validity", "2", "-storetype", "PKCS12", "-keystore", dir.resolve(name + ".p12").toString(),
                "-storepass", "secret-pw", "-keypass", "secret-pw");
        keytool("-exportcert", "-rfc", "-alias", name, "-keystore", dir.resolve(name + ".p12").toString(), "-storepass", "secret-pw",
                "-file", dir.resolve(name + ".pem").toString());
    }

    /** An HTTPS server that requires a client certificate signed by (here: equal to) client.pem. */
    private URI startServer() throws Exception {
        KeyStore keys = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(dir.resolve("server.p12"))) {
            keys.load(in, "secret-pw".toCharArray());
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(keys, "secret-pw".toCharArray());
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        try (InputStream in = Files.newInputStream(dir.resolve("client.pem"))) {
            trust.setCertificateEntry("client", CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
        server = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 8);
        server.setHttpsConfigurator(new HttpsConfigurator(ctx) {
            @Override
            public void configure(HttpsParameters params) {
                var p = getSSLContext().getDefaultSSLParameters();
                p.setNeedClientAuth(true);
                params.setSSLParameters(p);
            }
        });
        server.createContext("/", exchange -> {
            X509Certificate peer = (X509Certificate) ((HttpsExchange) exchange).getSSLSession().getPeerCertificates()[0];
            clients.add(peer.getSubjectX500Principal().getName());
            exchange.getRequestBody().readAllBytes();
            byte[] ok = "{\"accepted\":1,\"duplicates\":0}".getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, ok.length);
            exchange.getResponseBody().write(ok);
            exchange.close();
        });
        server.start();
        return URI.create("https://127.0.0.1:" + server.getAddress().getPort() + "/aegis/v1/samples");
    }

    /** A worker feeding the aegis output to {@code endpoint}, trusting server.pem, with the given client keystore (or none). */
    private OutputWorker<?> worker(URI endpoint, Path keystore, Path password) throws java.io.IOException {
        HttpTransport http = new HttpTransport(endpoint, false, dir.resolve("server.pem"), keystore, password, Duration.ofSeconds(10));
        WorkerConfig c = new WorkerConfig(100, 500_000, 20, ExponentialBackoff.jittered(Duration.ofMillis(50), Duration.ofMillis(200)),
                Duration.ZERO, true);
        return new OutputWorker<>(new AegisOutput("aegis", http, Credentials.of("AKID", "s", null), "h"), spool.cursor("aegis"), c,
                new DeadLetters(dir.resolve("dead.jsonl"), "aegis"), new SampleStamper("h", "h")).start();
    }

    @Test
    void theClientCertificateIsPresentedWhenConfigured() throws Exception {
        identity("server", "127.0.0.1");
        identity("client", "agent-web-17");
        URI endpoint = startServer();
        Path pw = dir.resolve("client.pw");
        Files.writeString(pw, "secret-pw\n");
        Files.setPosixFilePermissions(pw, PosixFilePermissions.fromString("rw-------"));
        spool = Spool.open(dir.resolve("spool"), io.aegisquartz.spool.SpoolConfig.defaults(), java.util.List.of("aegis"), null);
        spool.append("{\"id\":\"a\"}".getBytes(StandardCharsets.UTF_8));
        uploader = worker(endpoint, dir.resolve("client.p12"), pw);

        await().atMost(Duration.ofSeconds(10)).until(() -> spool.cursor("aegis").stats().pendingRecords() == 0);
        assertEquals("CN=agent-web-17", clients.get(0));
    }

    @Test
    void withoutTheClientCertificateNothingGetsThrough() throws Exception {
        identity("server", "127.0.0.1");
        identity("client", "agent-web-17");
        URI endpoint = startServer();
        spool = Spool.open(dir.resolve("spool"), io.aegisquartz.spool.SpoolConfig.defaults(), java.util.List.of("aegis"), null);
        spool.append("{\"id\":\"a\"}".getBytes(StandardCharsets.UTF_8));
        uploader = worker(endpoint, null, null);

        await().atMost(Duration.ofSeconds(10)).until(() -> uploader.state().requests() >= 2);
        assertTrue(clients.isEmpty());
        assertEquals(1, spool.cursor("aegis").stats().pendingRecords(), "kept for when the certificate is fixed");
    }

    @Test
    void aPasswordFileOthersCanReadIsRefused() throws Exception {
        identity("client", "agent-web-17");
        Path pw = dir.resolve("client.pw");
        Files.writeString(pw, "secret-pw\n");
        Files.setPosixFilePermissions(pw, PosixFilePermissions.fromString("rw-r--r--"));
        spool = Spool.open(dir.resolve("spool"), io.aegisquartz.spool.SpoolConfig.defaults(), java.util.List.of("aegis"), null);
        java.io.IOException e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class,
                () -> worker(URI.create("https://127.0.0.1:9/x"), dir.resolve("client.p12"), pw));
        assertTrue(e.getMessage().contains("chmod 600"), e.getMessage());
    }
}
