package io.aegisquartz.receive;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;
import io.aegisquartz.output.aegis.Credentials;
import io.aegisquartz.output.aegis.RequestSigning;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.net.ssl.SSLParameters;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.ZipException;

/**
 * The receiving end of upload protocol version 1 (docs/PROTOCOL.md): an HTTPS server that checks each
 * request's headers, key, clock skew, nonce, content hash and signature, in that order, then the size
 * and the samples, and appends accepted samples to a JSON-lines file, each sample id once.
 *
 * <p>It is the reference receiver for the protocol, what {@code aegis-quartz receive} runs, and the
 * server the uploader's tests talk to (see {@link #failNext}).
 */
public final class Receiver implements AutoCloseable {

    /** The one path samples are posted to. */
    public static final String PATH = "/aegis/v1/samples";
    /** Largest accepted |receiver time - request timestamp|, in seconds; also how long a nonce is remembered. */
    public static final long MAX_SKEW_SECONDS = 300;
    /** Default for both the body as sent and the decompressed JSON: twice the agent's default batch size. */
    public static final int DEFAULT_MAX_BODY = 1024 * 1024;
    /** Default most samples per batch; the agent sends at most 100 by default. */
    public static final int DEFAULT_MAX_SAMPLES = 1000;

    private static final Logger LOG = LoggerFactory.getLogger("receive");

    static {
        // The JDK's HttpServer leaves Nagle's algorithm on unless told otherwise, so every response
        // waits ~40 ms for the client's delayed ACK: measured, that halves the drain rate of a backlog
        // (docs/BENCHMARKS.md). The property is read when the server classes first load.
        if (System.getProperty("sun.net.httpserver.nodelay") == null) {
            System.setProperty("sun.net.httpserver.nodelay", "true");
        }
    }
    private static final ObjectMapper JSON = new ObjectMapper();

    /** What the receiver listens on, where it stores and whom it trusts. */
    public static final class Config {
        private InetSocketAddress listen = new InetSocketAddress("127.0.0.1", 8443);
        private Path out;
        private Path stateDir;
        private Path keystore;
        private char[] keystorePassword;
        private List<Credentials> credentials = List.of();
        private int maxBody = DEFAULT_MAX_BODY;
        private int maxSamples = DEFAULT_MAX_SAMPLES;
        private int threads = 4;
        private Clock clock = Clock.systemUTC();
        private List<Fault> faults = List.of();
        private int faultEvery;
        private Duration faultDelay = Duration.ofSeconds(35);
        private SilenceWatch silence;

        public Config listen(InetSocketAddress a) {
            listen = a;
            return this;
        }

        /** The JSON-lines file accepted samples are appended to. */
        public Config out(Path file) {
            out = file;
            return this;
        }

        /** Where a generated TLS keystore and its PEM certificate are kept (when no keystore is given). */
        public Config stateDir(Path dir) {
            stateDir = dir;
            return this;
        }

        /** A PKCS#12 keystore holding the server's key and certificate, instead of a generated one. */
        public Config keystore(Path file, char[] password) {
            keystore = file;
            keystorePassword = password;
            return this;
        }

        /** The access keys requests may be signed with. */
        public Config credentials(List<Credentials> c) {
            credentials = List.copyOf(c);
            return this;
        }

        /** Largest body, both as sent (gzipped) and decompressed, in bytes. */
        public Config maxBody(int bytes) {
            maxBody = bytes;
            return this;
        }

        public Config maxSamples(int n) {
            maxSamples = n;
            return this;
        }

        /** Worker threads; requests beyond them wait in a bounded queue. */
        public Config threads(int n) {
            threads = n;
            return this;
        }

        /** Tells {@code watch} which hosts each stored batch came from (the silence check); null: none. */
        public Config silence(SilenceWatch watch) {
            silence = watch;
            return this;
        }

        /** The clock timestamps are checked against. */
        public Config clock(Clock c) {
            clock = c;
            return this;
        }

        /**
         * Fault injection, off by default: every {@code every}-th request (the {@code every}-th, the
         * {@code 2*every}-th, ...) is answered with the next fault of {@code cycle}, round and round.
         * {@code delay} is how long a {@link Fault#SLOW} request waits before it is handled.
         */
        public Config faults(List<Fault> cycle, int every, Duration delay) {
            if (every < 1 || cycle.isEmpty()) {
                throw new IllegalArgumentException("fault injection needs at least one fault and every >= 1");
            }
            faults = List.copyOf(cycle);
            faultEvery = every;
            faultDelay = delay;
            return this;
        }
    }

    /** The receiver cannot start; the message says why and what to do. */
    public static final class StartException extends Exception {
        private static final long serialVersionUID = 1L;

        StartException(String message) {
            super(message);
        }
    }

    /** Counters since start. {@code injectedFaults}: requests answered with a {@link Fault} on purpose. */
    public record Stats(long requests, long acceptedSamples, long duplicateSamples, long rejectedRequests, long injectedFaults) {
    }

    /** An injected answer (testing hook). */
    private record Injected(int status, int retryAfterSeconds) {
    }

    private final Config config;
    private final Map<String, String> secrets = new HashMap<>();
    private final NonceCache nonces;
    private final SampleStore store;
    private final HttpsServer server;
    private final ThreadPoolExecutor workers;
    private final Path certificatePem;
    private final Deque<Injected> injected = new ArrayDeque<>();
    private final Deque<Fault> queuedFaults = new ArrayDeque<>();
    private final AtomicLong requests = new AtomicLong();
    private final AtomicLong accepted = new AtomicLong();
    private final AtomicLong duplicates = new AtomicLong();
    private final AtomicLong rejected = new AtomicLong();
    private final AtomicLong injectedFaults = new AtomicLong();
    /** Requests seen, for choosing which get an injected fault. */
    private final AtomicLong faultCounter = new AtomicLong();
    /** Opened by close(): a slow (injected) request stops waiting. */
    private final java.util.concurrent.CountDownLatch closingLatch = new java.util.concurrent.CountDownLatch(1);
    /** Requests being handled; close() waits for them (guarded by this). */
    private int inFlight;
    private boolean closing;

    private Receiver(Config config, NonceCache nonces, SampleStore store, HttpsServer server, ThreadPoolExecutor workers,
                     Path certificatePem) {
        this.config = config;
        this.nonces = nonces;
        this.store = store;
        this.server = server;
        this.workers = workers;
        this.certificatePem = certificatePem;
        for (Credentials c : config.credentials) {
            secrets.put(c.accessKeyId(), c.accessKeySecret());
        }
    }

    /** Sets up TLS, loads the ids already stored, binds and starts serving. */
    public static Receiver start(Config config) throws StartException, IOException {
        if (config.out == null || config.credentials.isEmpty()) {
            throw new IllegalArgumentException("a receiver needs an output file and at least one access key");
        }
        if (config.keystore == null && config.stateDir == null) {
            throw new IllegalArgumentException("a receiver needs a keystore or a state directory to generate one in");
        }
        ReceiverTls.Identity tls;
        try {
            tls = config.keystore != null ? ReceiverTls.fromKeystore(config.keystore, config.keystorePassword)
                    : ReceiverTls.generatedIn(config.stateDir, config.listen.getHostString());
        } catch (ReceiverTls.TlsException e) {
            throw new StartException(e.getMessage());
        }
        NonceCache nonces;
        try {
            nonces = config.stateDir == null ? NonceCache.inMemory(MAX_SKEW_SECONDS)
                    : NonceCache.open(config.stateDir, MAX_SKEW_SECONDS, config.clock.instant().getEpochSecond());
        } catch (IOException e) {
            throw new StartException("cannot open the nonce journal in " + config.stateDir + ": " + e
                    + " (fix: make the state directory writable, or pass another --state-dir)");
        }
        SampleStore store;
        try {
            store = new SampleStore(config.out);
        } catch (IOException e) {
            nonces.close();
            throw new StartException("cannot open output file " + config.out + ": " + e
                    + " (fix: make its directory writable, or pass another --out)");
        }
        HttpsServer server;
        try {
            server = HttpsServer.create(config.listen, 64);
        } catch (IOException e) {
            nonces.close();
            store.close();
            throw new StartException("cannot listen on " + config.listen.getHostString() + ":" + config.listen.getPort()
                    + ": " + e.getMessage() + " (fix: choose a free port with --listen HOST:PORT)");
        }
        server.setHttpsConfigurator(new HttpsConfigurator(tls.context()) {
            @Override
            public void configure(HttpsParameters params) {
                SSLParameters p = getSSLContext().getDefaultSSLParameters();
                p.setProtocols(new String[] {"TLSv1.3", "TLSv1.2"});
                params.setSSLParameters(p);
            }
        });
        AtomicInteger n = new AtomicInteger();
        // Bounded threads and queue; when both are full the accepting thread runs the request itself,
        // which stops it accepting more: back-pressure instead of unbounded memory.
        ThreadPoolExecutor workers = new ThreadPoolExecutor(config.threads, config.threads, 60, TimeUnit.SECONDS,
                new ArrayBlockingQueue<>(256), r -> {
                    Thread t = new Thread(r, "receive-" + n.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                }, new ThreadPoolExecutor.CallerRunsPolicy());
        server.setExecutor(workers);
        Receiver receiver = new Receiver(config, nonces, store, server, workers, tls.certificatePem());
        server.createContext("/", receiver::handle);
        server.start();
        LOG.info("receiving on https://{}:{}{}, storing to {} ({} sample id(s) already stored, {} nonce(s) still in the window)",
                receiver.address().getHostString(), receiver.address().getPort(), PATH, config.out, store.size(), nonces.size());
        if (config.faultEvery > 0) {
            LOG.warn("fault injection on: every {} request(s) answered with the next of {}", config.faultEvery,
                    config.faults.stream().map(Fault::id).collect(java.util.stream.Collectors.joining(", ")));
        }
        return receiver;
    }

    /** The bound address (the real port when started with port 0). */
    public InetSocketAddress address() {
        return server.getAddress();
    }

    /** The URL agents post to, with the host as bound. */
    public URI endpoint() {
        String host = address().getAddress().isAnyLocalAddress() ? "localhost" : address().getHostString();
        return URI.create("https://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + address().getPort() + PATH);
    }

    /** The generated certificate, PEM, for agents to trust; null when a keystore was given. */
    public Path certificatePem() {
        return certificatePem;
    }

    public Stats stats() {
        return new Stats(requests.get(), accepted.get(), duplicates.get(), rejected.get(), injectedFaults.get());
    }

    /**
     * Testing hook, for the uploader's tests: the next {@code count} requests, whatever they hold, are
     * answered {@code status} without being checked or stored (their nonces are not recorded, so the
     * same request may be retried). With {@code retryAfterSeconds > 0} the answer carries
     * {@code Retry-After: N}. Typical uses: 503 with Retry-After 2, 429, 413, 403.
     */
    public void failNext(int count, int status, int retryAfterSeconds) {
        if (status < 400 || status > 599) {
            throw new IllegalArgumentException("inject 4xx or 5xx statuses only, not " + status);
        }
        synchronized (injected) {
            for (int i = 0; i < count; i++) {
                injected.add(new Injected(status, retryAfterSeconds));
            }
        }
    }

    /**
     * Lets requests in progress finish (up to 5 s; new ones are answered 503), then stops and closes the
     * output file. Not HttpServer.stop(delay) alone: with an idle keep-alive connection open it always
     * waits the whole delay.
     */
    @Override
    public void close() throws IOException {
        closingLatch.countDown();
        synchronized (this) {
            closing = true;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            try {
                while (inFlight > 0 && System.nanoTime() < deadline) {
                    wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        server.stop(0);
        workers.shutdown();
        try {
            workers.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            nonces.close();
        } finally {
            store.close();
        }
    }

    /** One request: the checks of docs/PROTOCOL.md in order; every outcome is a JSON answer and one log line. */
    private void handle(HttpExchange ex) {
        requests.incrementAndGet();
        String client = ex.getRemoteAddress().getAddress().getHostAddress();
        boolean counted;
        synchronized (this) {
            counted = !closing;
            if (counted) {
                inFlight++;
            }
        }
        try {
            Answer a = counted ? answer(ex)
                    : new Answer(503, error("receiver is shutting down"), "receiver is shutting down", null, 2);
            if (a.status == Answer.CLOSE) {
                rejected.incrementAndGet();
                LOG.warn("request from {}{}: {}; connection closed without an answer", client,
                        a.keyId == null ? "" : " (key " + a.keyId + ")", a.logMessage);
                return; // ex.close() below, with no response started, closes the connection
            }
            if (a.status != 200) {
                rejected.incrementAndGet();
                LOG.warn("rejected request from {}{}: {} {}", client, a.keyId == null ? "" : " (key " + a.keyId + ")",
                        a.status, a.logMessage);
            } else {
                LOG.info("{}", a.logMessage + " from " + client + " (key " + a.keyId + ")");
            }
            send(ex, a);
        } catch (IOException e) {
            // The client went away or the output file failed; one line, the agent will retry.
            LOG.warn("request from {} failed: {}", client, e.toString());
        } catch (RuntimeException e) {
            LOG.error("request from {} failed unexpectedly", client, e);
            try {
                send(ex, new Answer(500, error("internal error"), "internal error", null, 0));
            } catch (IOException | RuntimeException ignored) {
                // the answer cannot be sent either (headers may be out already); closing ends the exchange
            }
        } finally {
            ex.close();
            if (counted) {
                synchronized (this) {
                    inFlight--;
                    notifyAll();
                }
            }
        }
    }

    /** A response, and what to log about it. */
    private record Answer(int status, ObjectNode body, String logMessage, String keyId, int retryAfter) {
        /** Not a status: close the connection without answering (an injected fault). */
        static final int CLOSE = 0;

        static Answer fail(int status, String message, String keyId) {
            return new Answer(status, error(message), message, keyId, 0);
        }
    }

    /**
     * Testing hook: the next requests get these faults, one each, before any of {@link Config#faults}
     * (as from the command line, each applies once the request has passed every check).
     */
    public void injectNext(Fault... faults) {
        synchronized (queuedFaults) {
            queuedFaults.addAll(List.of(faults));
        }
    }

    /** The fault this request is to get, or null: a queued one, else every {@code faultEvery}-th request the next of the cycle. */
    private Fault nextFault() {
        synchronized (queuedFaults) {
            if (!queuedFaults.isEmpty()) {
                return queuedFaults.poll();
            }
        }
        if (config.faultEvery == 0) {
            return null;
        }
        long n = faultCounter.incrementAndGet();
        if (n % config.faultEvery != 0) {
            return null;
        }
        return config.faults.get((int) ((n / config.faultEvery - 1) % config.faults.size()));
    }

    /** The answer of an injected fault to a batch that passed every check; stores only for close-after-store. */
    private Answer inject(Fault fault, Batch batch, String batchId, String keyId) throws IOException {
        injectedFaults.incrementAndGet();
        String what = "injected fault " + fault.id() + " for batch " + batchId;
        if (fault == Fault.CLOSE_BEFORE_STORE) {
            return new Answer(Answer.CLOSE, null, what, keyId, 0);
        }
        if (fault == Fault.CLOSE_AFTER_STORE) {
            SampleStore.Result r = store.store(batch.samples());
            seen(batch);
            accepted.addAndGet(r.accepted());
            duplicates.addAndGet(r.duplicates());
            return new Answer(Answer.CLOSE, null, what + " (" + r.accepted() + " accepted, " + r.duplicates() + " duplicate(s))",
                    keyId, 0);
        }
        ObjectNode body = error(what + " (fault injection of the reference receiver)");
        if (fault.status() == 400 && fault != Fault.S400 && !batch.samples().isEmpty()) {
            ArrayNode list = body.putArray("rejected");
            if (fault != Fault.S400_EMPTY) {
                ObjectNode o = list.addObject();
                o.put("id", fault == Fault.S400_WRONG_ID ? "not-" + batch.samples().get(0).id() : batch.samples().get(0).id());
                o.put("index", fault == Fault.S400_BAD_INDEX ? batch.samples().size() : 0);
                o.put("reason", "refused by an injected fault (testing)");
            }
        }
        return new Answer(fault.status(), body, what, keyId, fault.retryAfter());
    }

    private Answer answer(HttpExchange ex) throws IOException {
        Injected inj;
        synchronized (injected) {
            inj = injected.poll();
        }
        if (inj != null) {
            ex.getRequestBody().readNBytes(config.maxBody); // let the client finish sending
            return new Answer(inj.status, error("injected failure (testing hook)"), "injected failure (testing hook)", null,
                    inj.retryAfterSeconds);
        }
        Fault fault = nextFault();
        if (fault == Fault.SLOW) {
            injectedFaults.incrementAndGet();
            LOG.warn("injected fault slow: handling a request from {} after {}", ex.getRemoteAddress().getAddress().getHostAddress(),
                    config.faultDelay);
            try {
                if (closingLatch.await(config.faultDelay.toMillis(), TimeUnit.MILLISECONDS)) {
                    return new Answer(503, error("receiver is shutting down"), "receiver is shutting down", null, 2);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return new Answer(503, error("receiver is shutting down"), "receiver is shutting down", null, 2);
            }
            fault = null;
        }
        URI uri = ex.getRequestURI();
        if (!PATH.equals(uri.getRawPath())) {
            return Answer.fail(404, "no such endpoint; samples are posted to " + PATH, null);
        }
        if (!ex.getRequestMethod().equals("POST")) {
            return Answer.fail(405, "method " + ex.getRequestMethod() + " not allowed; use POST", null);
        }
        Headers h = ex.getRequestHeaders();

        // 1. Headers present and well-formed.
        String contentType = single(h, "Content-Type");
        if (contentType == null || !contentType.toLowerCase(Locale.ROOT).replaceAll(";.*", "").strip().equals("application/json")) {
            return Answer.fail(400, "Content-Type must be application/json", null);
        }
        String encoding = single(h, "Content-Encoding");
        if (encoding == null || !encoding.strip().equalsIgnoreCase("gzip")) {
            return Answer.fail(400, "Content-Encoding must be gzip", null);
        }
        String keyId = single(h, RequestSigning.HEADER_KEY_ID);
        String timestamp = single(h, RequestSigning.HEADER_TIMESTAMP);
        String nonce = single(h, RequestSigning.HEADER_NONCE);
        String contentSha = single(h, RequestSigning.HEADER_CONTENT_SHA256);
        String batchId = single(h, RequestSigning.HEADER_BATCH_ID);
        String signature = single(h, RequestSigning.HEADER_SIGNATURE);
        String bad = keyId == null || !keyId.matches("[A-Za-z0-9_.-]{1,128}") ? RequestSigning.HEADER_KEY_ID
                : timestamp == null || !timestamp.matches("[0-9]{1,12}") ? RequestSigning.HEADER_TIMESTAMP
                : nonce == null || !RequestSigning.NONCE.matcher(nonce).matches() ? RequestSigning.HEADER_NONCE
                : contentSha == null || !RequestSigning.HEX_256.matcher(contentSha).matches() ? RequestSigning.HEADER_CONTENT_SHA256
                : batchId == null || !RequestSigning.BATCH_ID.matcher(batchId).matches() ? RequestSigning.HEADER_BATCH_ID
                : signature == null || !RequestSigning.HEX_256.matcher(signature).matches() ? RequestSigning.HEADER_SIGNATURE
                : null;
        if (bad != null) {
            return Answer.fail(400, "header " + bad + " is missing, repeated or malformed (see docs/PROTOCOL.md)", null);
        }

        // 2. Key id known.
        String secret = secrets.get(keyId);
        if (secret == null) {
            return Answer.fail(401, "unknown access key id", keyId);
        }

        // 3. Timestamp within the skew window.
        long ts = Long.parseLong(timestamp);
        long now = config.clock.instant().getEpochSecond();
        if (Math.abs(now - ts) > MAX_SKEW_SECONDS) {
            return Answer.fail(401, "timestamp " + ts + " is " + Math.abs(now - ts) + " s " + (ts < now ? "behind" : "ahead of")
                    + " the receiver's clock (" + now + "); allowed clock skew is " + MAX_SKEW_SECONDS
                    + " s: check the agent host's time (NTP)", keyId);
        }

        // 4. Nonce not seen (recorded only once the signature holds, so forged requests cannot fill the cache).
        if (nonces.seen(nonce)) {
            return Answer.fail(401, "nonce already used: replayed request", keyId);
        }

        // The body as sent, never more than maxBody: an oversized one is refused as soon as it is seen.
        String declared = h.getFirst("Content-Length");
        if (declared != null && declared.matches("[0-9]{1,18}") && Long.parseLong(declared) > config.maxBody) {
            return Answer.fail(413, "body of " + declared + " bytes exceeds the limit of " + config.maxBody + " bytes", keyId);
        }
        byte[] body = ex.getRequestBody().readNBytes(config.maxBody + 1);
        if (body.length > config.maxBody) {
            return Answer.fail(413, "body exceeds the limit of " + config.maxBody + " bytes", keyId);
        }

        // 5. Content hash.
        if (!RequestSigning.sha256Hex(body).equals(contentSha)) {
            return Answer.fail(400, RequestSigning.HEADER_CONTENT_SHA256 + " does not match the body received", keyId);
        }

        // 6. Signature, over the request target exactly as it arrived.
        String target = uri.getRawPath() + (uri.getRawQuery() != null ? "?" + uri.getRawQuery() : "");
        String toSign = RequestSigning.stringToSign(ex.getRequestMethod(), target, ts, nonce, contentSha, batchId);
        if (!RequestSigning.verify(secret, toSign, signature)) {
            return Answer.fail(401, "signature does not match (wrong secret, or the request was changed)", keyId);
        }
        if (!nonces.record(nonce, ts, now)) {
            return Answer.fail(401, "nonce already used: replayed request", keyId);
        }

        // 7. Decompressed size, enforced while inflating.
        byte[] json;
        try {
            json = BoundedGunzip.gunzip(new ByteArrayInputStream(body), config.maxBody);
        } catch (BoundedGunzip.TooLargeException e) {
            return Answer.fail(413, "decompressed body exceeds the limit of " + config.maxBody + " bytes", keyId);
        } catch (ZipException | java.io.EOFException e) {
            return Answer.fail(400, "body is not valid gzip: " + e.getMessage(), keyId);
        }

        // 8. The batch itself.
        Batch batch;
        try {
            batch = Batch.parse(json, config.maxSamples);
        } catch (Batch.MalformedException e) {
            return Answer.fail(e.getMessage().startsWith("batch has more than") ? 413 : 400, e.getMessage(), keyId);
        }
        if (!batch.batchId().equals(batchId)) {
            return Answer.fail(400, "batch_id in the body does not match " + RequestSigning.HEADER_BATCH_ID, keyId);
        }

        // 9. Every sample valid, or none stored: the agent bisects using the list.
        if (!batch.rejected().isEmpty()) {
            ObjectNode b = error(batch.rejected().size() + " invalid sample(s); nothing from this batch was stored");
            ArrayNode list = b.putArray("rejected");
            for (Batch.Rejection r : batch.rejected()) {
                ObjectNode o = list.addObject();
                if (r.id() == null) {
                    o.putNull("id");
                } else {
                    o.put("id", r.id());
                }
                o.put("index", r.index());
                o.put("reason", r.reason());
            }
            Batch.Rejection first = batch.rejected().get(0);
            return new Answer(400, b, "batch " + batchId + ": " + batch.rejected().size() + " invalid sample(s), first at index "
                    + first.index() + ": " + first.reason(), keyId, 0);
        }

        if (fault != null) {
            return inject(fault, batch, batchId, keyId);
        }

        // 10. Store, each id once.
        SampleStore.Result r = store.store(batch.samples());
        seen(batch);
        accepted.addAndGet(r.accepted());
        duplicates.addAndGet(r.duplicates());
        ObjectNode ok = JSON.createObjectNode();
        ok.put("accepted", r.accepted());
        ok.put("duplicates", r.duplicates());
        return new Answer(200, ok, "batch " + batchId + ": " + r.accepted() + " accepted, " + r.duplicates() + " duplicate(s)",
                keyId, 0);
    }

    /**
     * The hosts of a stored batch, for the silence check: by host_uuid, else by host name. A batch
     * of duplicates counts too (the agent that re-sent it is alive).
     */
    private void seen(Batch batch) {
        if (config.silence == null) {
            return;
        }
        Map<String, String> hosts = new HashMap<>();
        for (Batch.Sample s : batch.samples()) {
            String key = !s.hostUuid().isEmpty() ? s.hostUuid() : !s.hostname().isEmpty() ? "hostname:" + s.hostname() : null;
            if (key != null) {
                hosts.merge(key, s.hostname(), (a, b) -> b.isEmpty() ? a : b);
            }
        }
        config.silence.seen(hosts);
    }

    /** The header's only value; null if absent or given more than once (ambiguous, so refused). */
    private static String single(Headers h, String name) {
        List<String> values = h.get(name);
        return values == null || values.size() != 1 ? null : values.get(0);
    }

    private static ObjectNode error(String message) {
        return JSON.createObjectNode().put("error", message);
    }

    private static void send(HttpExchange ex, Answer a) throws IOException {
        byte[] bytes = (a.body.toString() + "\n").getBytes(StandardCharsets.UTF_8);
        Headers out = ex.getResponseHeaders();
        out.set("Content-Type", "application/json");
        if (a.retryAfter > 0) {
            out.set("Retry-After", Integer.toString(a.retryAfter));
        }
        if (a.status == 401) {
            out.set("WWW-Authenticate", RequestSigning.ALGORITHM);
        }
        if (a.status == 405) {
            out.set("Allow", "POST");
        }
        ex.sendResponseHeaders(a.status, bytes.length);
        ex.getResponseBody().write(bytes);
    }
}
