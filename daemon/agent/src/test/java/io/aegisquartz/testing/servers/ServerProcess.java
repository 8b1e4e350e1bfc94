package io.aegisquartz.testing.servers;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * A server a test started as a child process on loopback: started with its output in a log file,
 * waited for until it answers, and stopped by its PID (SIGTERM, then SIGKILL after 15 s), never by
 * name. What the per-server harnesses ({@link InfluxServer}, {@link VictoriaMetricsServer},
 * {@link PrometheusServer}, {@link KafkaBroker}) share.
 */
public class ServerProcess implements AutoCloseable {

    /** One client for every harness: loopback only, short timeouts. */
    public static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private final String name;
    private final Path log;
    private Process process;
    private List<String> command;
    private Path workDir;
    private BooleanSupplier ready;

    protected ServerProcess(String name, Path log) {
        this.name = name;
        this.log = log;
    }

    /** A TCP port free on 127.0.0.1 right now (the server binds it moments later; a clash shows as a failed start, retried). */
    public static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** The path of an installed server binary, or a failure saying which package to install. */
    protected static String binary(String path, String debianPackage) {
        if (!Files.isExecutable(Path.of(path))) {
            throw new IllegalStateException(path + " is missing: apt-get install " + debianPackage + " (.ci/run installs it)");
        }
        return path;
    }

    /**
     * Starts {@code command} and waits up to {@code timeout} for {@code ready}; false if the process
     * died first (a port taken since we chose it, typically), so the caller can try other ports.
     */
    protected boolean start(List<String> command, Path workDir, BooleanSupplier ready, Duration timeout) throws IOException {
        this.command = command;
        this.workDir = workDir;
        this.ready = ready;
        process = new ProcessBuilder(command).directory(workDir.toFile()).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                return false;
            }
            if (ready.getAsBoolean()) {
                return true;
            }
            try {
                // Polling a child's readiness: there is nothing to wait on but its port.
                process.waitFor(100, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted waiting for " + name);
            }
        }
        String tail = tail();
        close();
        throw new IOException(name + " did not get ready in " + timeout.toSeconds() + " s; its log ends:\n" + tail);
    }

    /** Starts with up to three tries, each with the ports {@code attempt} chooses anew. */
    protected void startWithRetries(Attempt attempt) throws IOException {
        for (int i = 0; i < 3; i++) {
            if (attempt.run()) {
                return;
            }
            Files.writeString(log, "\n--- " + name + " exited during start (exit " + process.exitValue() + "); trying other ports\n",
                    StandardCharsets.UTF_8, java.nio.file.StandardOpenOption.APPEND, java.nio.file.StandardOpenOption.CREATE);
        }
        throw new IOException(name + " did not start in three tries; its log ends:\n" + tail());
    }

    /** One start attempt with freshly chosen ports. */
    @FunctionalInterface
    protected interface Attempt {
        boolean run() throws IOException;
    }

    /** Whether {@code url} answers GET with a 2xx. */
    protected static boolean answers(String url) {
        try {
            HttpResponse<Void> r = HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(2)).GET().build(),
                    HttpResponse.BodyHandlers.discarding());
            return r.statusCode() / 100 == 2;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** GET {@code url}; the body, or an exception with the status and body if not 2xx. */
    public static String get(String url) throws IOException, InterruptedException {
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() / 100 != 2) {
            throw new IOException("GET " + url + ": " + r.statusCode() + " " + r.body());
        }
        return r.body();
    }

    /** POSTs {@code body} with {@code headers} (name, value, ...); the answer whatever its status. */
    public static HttpResponse<String> post(String url, byte[] body, String... headers) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(60))
                .POST(HttpRequest.BodyPublishers.ofByteArray(body));
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** The PID of the server process. */
    public long pid() {
        return process.pid();
    }

    public boolean isAlive() {
        return process != null && process.isAlive();
    }

    /** The last 4 KiB of the server's log. */
    public String tail() {
        try {
            byte[] b = Files.readAllBytes(log);
            int from = Math.max(0, b.length - 4096);
            return new String(b, from, b.length - from, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    /** Starts the server again after {@link #close()}, on the same ports and data (a backend back from an outage). */
    public void restart() throws IOException {
        if (isAlive()) {
            throw new IllegalStateException(name + " is running");
        }
        if (!start(command, workDir, ready, Duration.ofSeconds(120))) {
            throw new IOException(name + " did not start again; its log ends:\n" + tail());
        }
    }

    /** Stops the server: SIGTERM to its PID, SIGKILL after 15 s; then whatever it started. */
    @Override
    public void close() {
        if (process == null) {
            return;
        }
        List<ProcessHandle> children = process.descendants().toList();
        process.destroy();
        try {
            if (!process.waitFor(15, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(15, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        children.forEach(ProcessHandle::destroyForcibly);
    }
}
