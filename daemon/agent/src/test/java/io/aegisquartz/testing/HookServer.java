package io.aegisquartz.testing;

import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * A real HTTP server on loopback (port 0) that answers as a WeCom or DingTalk robot does
 * ({"errcode":0,"errmsg":"ok"}) or as the test says, and keeps every request it was sent.
 */
public final class HookServer implements AutoCloseable {

    /** One request as received. */
    public record Request(String method, String path, String query, Map<String, String> headers, String body) {
        public String header(String name) {
            return headers.get(name.toLowerCase(java.util.Locale.ROOT));
        }
    }

    /** An answer: HTTP status and body. */
    public record Answer(int status, String body) {
    }

    public static final Answer OK = new Answer(200, "{\"errcode\":0,\"errmsg\":\"ok\"}");
    public static final Answer DOWN = new Answer(503, "service unavailable");

    private final HttpServer server;
    private final String scheme;
    private final Path caPem;
    private final List<Request> requests = new ArrayList<>();
    private volatile Function<Request, Answer> answer = r -> OK;
    /** While set, a request waits on it before it is answered (a test's "the agent dies now"). */
    private volatile CountDownLatch hold;
    private final CountDownLatch arrived = new CountDownLatch(1);

    public HookServer() throws IOException {
        this(HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0), "http", null);
    }

    /**
     * The same server over HTTPS (TLS 1.2/1.3), as WeCom, DingTalk and Slack are, with a key for
     * 127.0.0.1 made by keytool in {@code dir}; {@link #caPem()} is its certificate for a channel's ca_file.
     */
    public static HookServer https(Path dir) throws Exception {
        Path p12 = dir.resolve("hook.p12");
        keytool("-genkeypair", "-alias", "hook", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=127.0.0.1",
                "-ext", "SAN=ip:127.0.0.1,dns:localhost", "-validity", "2", "-storetype", "PKCS12", "-keystore", p12.toString(),
                "-storepass", "changeit", "-keypass", "changeit");
        Path pem = dir.resolve("hook.pem");
        keytool("-exportcert", "-rfc", "-alias", "hook", "-keystore", p12.toString(), "-storepass", "changeit", "-file", pem.toString());
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(p12)) {
            ks.load(in, "changeit".toCharArray());
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, "changeit".toCharArray());
        SSLContext tls = SSLContext.getInstance("TLS");
        tls.init(kmf.getKeyManagers(), null, null);
        HttpsServer server = HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.setHttpsConfigurator(new HttpsConfigurator(tls));
        return new HookServer(server, "https", pem);
    }

    private static void keytool(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "keytool").toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException("keytool failed: " + out);
        }
    }

    private HookServer(HttpServer server, String scheme, Path caPem) {
        this.server = server;
        this.scheme = scheme;
        this.caPem = caPem;
        server.setExecutor(Executors.newFixedThreadPool(2));
        server.createContext("/", ex -> {
            Map<String, String> headers = new LinkedHashMap<>();
            ex.getRequestHeaders().forEach((k, v) -> headers.put(k.toLowerCase(java.util.Locale.ROOT), v.get(0)));
            String body;
            try (InputStream in = ex.getRequestBody()) {
                body = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
            Request r = new Request(ex.getRequestMethod(), ex.getRequestURI().getRawPath(), ex.getRequestURI().getRawQuery(), headers, body);
            synchronized (requests) {
                requests.add(r);
            }
            arrived.countDown();
            CountDownLatch h = hold;
            if (h != null) {
                try {
                    h.await(60, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            Answer a = answer.apply(r);
            byte[] out = a.body().getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", "application/json");
            ex.sendResponseHeaders(a.status(), out.length);
            try (OutputStream os = ex.getResponseBody()) {
                os.write(out);
            }
        });
        server.start();
    }

    public String url(String path) {
        return scheme + "://127.0.0.1:" + server.getAddress().getPort() + path;
    }

    /** The PEM certificate of an {@link #https} server (null for plain HTTP). */
    public Path caPem() {
        return caPem;
    }

    public void answer(Function<Request, Answer> f) {
        this.answer = f;
    }

    public void hold(CountDownLatch latch) {
        this.hold = latch;
    }

    public boolean awaitFirst(long seconds) throws InterruptedException {
        return arrived.await(seconds, TimeUnit.SECONDS);
    }

    public List<Request> requests() {
        synchronized (requests) {
            return List.copyOf(requests);
        }
    }

    @Override
    public void close() {
        CountDownLatch h = hold;
        if (h != null) {
            h.countDown();
        }
        server.stop(0);
        ((java.util.concurrent.ExecutorService) server.getExecutor()).shutdownNow();
    }
}
