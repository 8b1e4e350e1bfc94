package io.aegisquartz.upload;

import io.aegisquartz.spool.Spool;
import io.aegisquartz.spool.SpoolBatch;
import io.aegisquartz.spool.SpoolRecord;
import org.apache.hc.client5.http.classic.methods.HttpPost;
import org.apache.hc.client5.http.config.ConnectionConfig;
import org.apache.hc.client5.http.config.RequestConfig;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManagerBuilder;
import org.apache.hc.client5.http.ssl.DefaultClientTlsStrategy;
import org.apache.hc.core5.http.ContentType;
import org.apache.hc.core5.http.Header;
import org.apache.hc.core5.http.io.entity.ByteArrayEntity;
import org.apache.hc.core5.util.Timeout;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Sends what the spool holds to the receiver, oldest first, in signed gzip batches, and acknowledges
 * the spool only after the receiver has stored (or rejected as invalid) every sample of a batch.
 *
 * <p>Per response (docs/PROTOCOL.md): 2xx acknowledges; 413 splits the batch; 400 moves the samples
 * the receiver names (or finds by bisecting) to the dead-letter file and sends the rest; 429 and 503
 * wait for Retry-After; 401/403, other statuses, timeouts and connection errors retry with
 * exponential backoff and full jitter, forever: nothing the spool holds is dropped here.
 *
 * <p>One request is in flight at a time, so batches are delivered and acknowledged in spool order.
 * The thread sleeps until the spool has something new ({@link #wakeUp()}); an idle uploader does not
 * wake up on its own. A request waits until its oldest sample is {@link UploadConfig#linger()} old,
 * as Kafka's producer does with {@code linger.ms}: jobs that fire a few seconds apart share a
 * request, and each request costs the host a TLS record, a signature, a spool checkpoint with two
 * fsyncs, and the receiver a request. A full batch does not wait, nor does a backlog (its samples
 * are old), and {@link #close()} sends what is waiting.
 */
public final class Uploader implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger("upload");
    private static final long SUMMARY_EVERY_MS = 5 * 60_000;
    private static final int MAX_RESPONSE_BYTES = 64 * 1024;
    /** How long {@link #close()} lets the thread send what is lingering before it aborts the request. */
    static final long FLUSH_ON_CLOSE_MS = 3_000;

    private final Spool spool;
    private final UploadConfig config;
    private final Credentials credentials;
    private final String hostUuid;
    private final String target;
    private final CloseableHttpClient http;
    private final DeadLetters deadLetters;
    private final Thread thread;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition wake = lock.newCondition();
    private boolean woken;
    private volatile boolean closed;
    /** Set by close() before closed: send what is lingering, then stop; no retries. */
    private volatile boolean closing;

    private long nextRequestNanos = System.nanoTime();
    private int consecutiveFailures;
    /** Read by status() on other threads; written by the upload thread only. */
    private volatile long failingSince;
    private String failingKind;
    private long lastSummary;
    private volatile long lastSuccess;
    private volatile String lastError;
    private final AtomicLong failedRequests = new AtomicLong();

    /**
     * The newest samples, also kept in memory so that a long backlog does not hold them back: while
     * the spool's oldest pending sample is older than {@link #BACKLOG_AGE_MS}, every other request
     * carries live samples from here instead of the backlog. They stay in the spool too, which stays
     * the only thing acknowledged, so they are sent again in order later; the receiver drops those
     * copies by sample id. Bounded: past {@link #LIVE_MAX} the oldest leave the buffer (not the spool).
     */
    private final ArrayDeque<byte[]> live = new ArrayDeque<>();
    static final int LIVE_MAX = 2_000;
    static final long BACKLOG_AGE_MS = 60_000;
    private boolean liveTurn;

    private final AtomicLong accepted = new AtomicLong();
    private final AtomicLong duplicates = new AtomicLong();
    private final AtomicLong requests = new AtomicLong();
    private final AtomicLong liveSent = new AtomicLong();

    /** Counters since start. {@code liveSent}: samples sent ahead of the backlog (and again with it). */
    public record Stats(long requests, long accepted, long duplicates, long deadLettered, long liveSent) {
    }

    private Uploader(Spool spool, UploadConfig config, Credentials credentials, String hostUuid) throws IOException {
        this.spool = spool;
        this.config = config;
        this.credentials = credentials;
        this.hostUuid = hostUuid;
        String problem = UploadConfig.endpointProblem(config.endpoint(), config.allowHttpLoopback());
        if (problem != null) {
            throw new IOException(problem);
        }
        String path = config.endpoint().getRawPath() == null || config.endpoint().getRawPath().isEmpty() ? "/"
                : config.endpoint().getRawPath();
        this.target = config.endpoint().getRawQuery() == null ? path : path + "?" + config.endpoint().getRawQuery();
        Timeout timeout = Timeout.of(config.timeout());
        this.http = HttpClients.custom()
                .setConnectionManager(PoolingHttpClientConnectionManagerBuilder.create()
                        .setTlsSocketStrategy(new DefaultClientTlsStrategy(TrustStores.context(config.caFile(), config.clientKeystore(),
                                config.clientKeystorePasswordFile())))
                        .setDefaultConnectionConfig(ConnectionConfig.custom().setConnectTimeout(timeout).setSocketTimeout(timeout).build())
                        .setMaxConnTotal(1)
                        .setMaxConnPerRoute(1)
                        .build())
                .setDefaultRequestConfig(RequestConfig.custom().setResponseTimeout(timeout).build())
                // We retry ourselves, with backoff and without ever resending a nonce.
                .disableAutomaticRetries()
                .disableRedirectHandling()
                .setUserAgent("aegis-quartz")
                .build();
        this.deadLetters = new DeadLetters(config.deadLetters());
        this.thread = new Thread(null, this::loop, "aegis-upload", 512 * 1024);
        thread.setDaemon(true);
    }

    /**
     * Starts uploading from {@code spool}.
     *
     * @throws IOException if the endpoint is not allowed (plain http to a remote host) or the CA file is unusable
     */
    public static Uploader start(Spool spool, UploadConfig config, Credentials credentials, String hostUuid) throws IOException {
        Uploader u = new Uploader(spool, config, credentials, hostUuid);
        u.thread.start();
        return u;
    }

    /** Tells the uploader the spool has new records. Cheap; call after every append. */
    public void wakeUp() {
        lock.lock();
        try {
            woken = true;
            wake.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Offers just-spooled samples for early delivery during a backlog (see {@link #live}). */
    public void offerLive(List<byte[]> records) {
        lock.lock();
        try {
            for (byte[] r : records) {
                if (live.size() == LIVE_MAX) {
                    live.pollFirst();
                }
                live.addLast(r);
            }
        } finally {
            lock.unlock();
        }
    }

    /** Up to {@code max} live samples if the spool is behind, else null (and the buffer is cleared). */
    private List<byte[]> takeLive(int max) {
        var st = spool.stats();
        boolean behind = st.oldestPendingTimeMillis() >= 0 && System.currentTimeMillis() - st.oldestPendingTimeMillis() > BACKLOG_AGE_MS;
        lock.lock();
        try {
            if (!behind) {
                live.clear(); // in order anyway: the backlog is short
                return null;
            }
            if (live.isEmpty()) {
                return null;
            }
            List<byte[]> out = new ArrayList<>(Math.min(max, live.size()));
            while (out.size() < max && !live.isEmpty()) {
                out.add(live.pollLast());
            }
            return out;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Sends live samples once, best effort: failures are not retried here, since the same samples
     * are in the spool and go out with the backlog anyway.
     */
    private void sendLive(List<byte[]> records) throws InterruptedException {
        List<SpoolRecord> fake = new ArrayList<>(records.size());
        for (byte[] r : records) {
            fake.add(new SpoolRecord(null, null, 0, r));
        }
        awaitRateSlot();
        try {
            Response r = send(BatchBody.live(hostUuid, fake));
            if (r.status >= 200 && r.status < 300) {
                long dup = r.reply.duplicates();
                accepted.addAndGet(records.size() - dup);
                duplicates.addAndGet(dup);
                liveSent.addAndGet(records.size());
            }
        } catch (IOException e) {
            LOG.debug("upload: live batch not sent ({}); it goes out with the backlog", e.toString());
        }
    }

    /** CPU time the upload thread has used so far, in nanoseconds; 0 if it cannot be told. */
    public long cpuNanos() {
        long t = java.lang.management.ManagementFactory.getThreadMXBean().getThreadCpuTime(thread.getId());
        // -1 once the thread has ended: keep the last reading, a total must never go backwards.
        if (t > lastCpuNanos) {
            lastCpuNanos = t;
        }
        return lastCpuNanos;
    }

    private volatile long lastCpuNanos;

    public Stats stats() {
        return new Stats(requests.get(), accepted.get(), duplicates.get(), deadLetters.count(), liveSent.get());
    }

    /** The uploader as an output: the spool's backlog, the last acknowledged request, the current outage. */
    public io.aegisquartz.sink.OutputStatus status() {
        var st = spool.stats();
        return new io.aegisquartz.sink.OutputStatus("upload", config.endpoint().toString(), st.pendingRecords(),
                st.oldestPendingTimeMillis(), lastSuccess, failingSince, lastError, accepted.get(), failedRequests.get());
    }

    private void loop() {
        try {
            while (!closed) {
                if (!closing && config.linger().toNanos() > 0) {
                    linger();
                }
                SpoolBatch batch;
                try {
                    batch = spool.read(config.maxSamples(), config.maxBytes());
                } catch (IOException e) {
                    failed("cannot read the spool: " + e.getMessage(), "spool", -1);
                    if (closing) {
                        return;
                    }
                    pause(backoff());
                    continue;
                }
                if (batch.isEmpty()) {
                    if (closing) {
                        return;
                    }
                    awaitWake();
                    continue;
                }
                // During a backlog every other request carries the newest samples (see 'live').
                liveTurn = !liveTurn;
                if (liveTurn && consecutiveFailures == 0) {
                    List<byte[]> fresh = takeLive(config.maxSamples());
                    if (fresh != null) {
                        sendLive(fresh);
                    }
                }
                if (!deliver(batch.records())) {
                    return; // closed mid-batch: it stays unacknowledged and is sent again after restart
                }
                try {
                    spool.ack(batch.end());
                } catch (IOException e) {
                    // Delivered but not acknowledged: after a restart these are sent again and the
                    // receiver drops them as duplicates.
                    LOG.error("upload: delivered {} sample(s) but cannot record it in the spool: {}", batch.size(), e.getMessage());
                    if (closing) {
                        return;
                    }
                    pause(backoff());
                }
                if (closing) {
                    return; // one batch on the way out; the rest is sent after the restart
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Waits until the oldest pending sample is {@link UploadConfig#linger()} old, or less once the
     * spool holds a full batch or the uploader is closing; returns at once when nothing is pending.
     * The age comes from the spool's append time, as Kafka's producer times {@code linger.ms} from a
     * batch's first record, so a backlog (left from an outage or the last run) goes out without
     * waiting however the thread happened to be scheduled. A wall clock stepped back never makes it
     * wait longer than one linger from now. Each append wakes the thread to look; at the default jobs
     * that is once or twice per linger.
     */
    private void linger() throws InterruptedException {
        long lingerMillis = config.linger().toMillis();
        long latest = System.nanoTime() + config.linger().toNanos();
        while (!closed && !closing) {
            var st = spool.stats();
            if (st.pendingRecords() == 0 || st.pendingRecords() >= config.maxSamples() || st.pendingBytes() >= config.maxBytes()) {
                return;
            }
            long dueMillis = st.oldestPendingTimeMillis() + lingerMillis - System.currentTimeMillis();
            long left = Math.min(TimeUnit.MILLISECONDS.toNanos(dueMillis), latest - System.nanoTime());
            if (left <= 0) {
                return;
            }
            lock.lock();
            try {
                if (!woken) {
                    wake.awaitNanos(left);
                }
                woken = false;
            } finally {
                lock.unlock();
            }
        }
    }

    /** Delivers every record (or dead-letters it); false if closed (or closing, after one try) before done. */
    private boolean deliver(List<SpoolRecord> records) throws InterruptedException {
        try {
            return deliverOrThrow(records);
        } catch (NotKept e) {
            return false;
        }
    }

    private boolean deliverOrThrow(List<SpoolRecord> records) throws InterruptedException, NotKept {
        Deque<List<SpoolRecord>> work = new ArrayDeque<>();
        work.push(records);
        boolean tried = false;
        while (!work.isEmpty()) {
            if (closed || closing && tried) {
                return false;
            }
            tried = true;
            List<SpoolRecord> part = work.peek();
            BatchBody body = BatchBody.of(hostUuid, part);
            Response r;
            try {
                awaitRateSlot();
                r = send(body);
            } catch (IOException e) {
                if (closed) {
                    return false; // aborted by close(), not a failure worth a log line
                }
                failed(e.getClass().getSimpleName() + ": " + e.getMessage(), "network", -1);
                pause(backoff());
                continue;
            }
            int s = r.status;
            if (s >= 200 && s < 300) {
                work.pop();
                succeeded(r, part.size());
            } else if (s == 413) {
                work.pop();
                if (part.size() == 1) {
                    deadLetter(part.get(0), body.batchId, s, "the receiver refuses this sample as too large (413)");
                } else {
                    LOG.info("upload: receiver says a batch of {} samples is too large (413); splitting it", part.size());
                    work.push(part.subList(part.size() / 2, part.size()));
                    work.push(part.subList(0, part.size() / 2));
                }
            } else if (s == 400) {
                work.pop();
                List<SpoolRecord> rest = rejected(part, body.batchId, r);
                if (rest != null) {
                    if (!rest.isEmpty()) {
                        work.push(rest);
                    }
                } else if (part.size() == 1) {
                    deadLetter(part.get(0), body.batchId, s, "rejected by the receiver: " + r.error());
                } else {
                    // No sample named: find the bad ones by halves.
                    work.push(part.subList(part.size() / 2, part.size()));
                    work.push(part.subList(0, part.size() / 2));
                }
            } else if (s == 429 || s == 503) {
                failed("receiver busy (" + s + (r.retryAfterSeconds >= 0 ? ", Retry-After " + r.retryAfterSeconds + " s" : "") + ")",
                        "busy", s);
                pause(r.retryAfterSeconds >= 0 ? TimeUnit.SECONDS.toNanos(r.retryAfterSeconds) : backoff());
            } else if (s == 401 || s == 403) {
                failed("the receiver refuses our credentials (" + s + "): " + r.error()
                        + "; check the key id and secret in the credentials file, and the clock", "auth", s);
                pause(backoff());
            } else {
                failed("receiver answered " + s + ": " + r.error(), "status " + s, s);
                pause(backoff());
            }
        }
        return true;
    }

    /** For a 400 naming its rejected samples: dead-letters those and returns the others; null if none named. */
    private List<SpoolRecord> rejected(List<SpoolRecord> part, String batchId, Response r) throws InterruptedException, NotKept {
        List<Reply.Rejection> list = r.reply.rejected();
        if (list == null || list.isEmpty()) {
            return null;
        }
        Set<Integer> bad = new HashSet<>();
        for (Reply.Rejection n : list) {
            int index = n.index();
            if (index < 0 || index >= part.size()) {
                return null; // not something we can trust; bisect instead
            }
            if (bad.add(index)) {
                deadLetter(part.get(index), batchId, 400, "rejected by the receiver: " + (n.reason() != null ? n.reason() : r.error()));
            }
        }
        List<SpoolRecord> rest = new ArrayList<>(part.size() - bad.size());
        for (int i = 0; i < part.size(); i++) {
            if (!bad.contains(i)) {
                rest.add(part.get(i));
            }
        }
        return rest;
    }

    /**
     * Keeps a sample the receiver refused, retrying until it is written.
     *
     * @throws NotKept if the uploader stops first: the batch must then stay unacknowledged, since the
     *                 sample is neither delivered nor kept
     */
    private void deadLetter(SpoolRecord r, String batchId, int status, String reason) throws InterruptedException, NotKept {
        while (true) {
            try {
                deadLetters.add(r, batchId, status, reason);
                LOG.warn("upload: 1 sample moved to {}: {}", deadLetters.file(), reason);
                return;
            } catch (IOException e) {
                LOG.error("upload: cannot write the dead-letter file {}: {}; retrying", deadLetters.file(), e.getMessage());
                if (closed || closing) {
                    throw new NotKept();
                }
                pause(backoff());
            }
        }
    }

    /** A refused sample could not be written to the dead-letter file before the uploader stopped. */
    private static final class NotKept extends Exception {
        NotKept() {
            super(null, null, false, false);
        }
    }

    private record Response(int status, long retryAfterSeconds, Reply reply) {
        String error() {
            return reply.reason();
        }
    }

    private Response send(BatchBody body) throws IOException {
        long ts = System.currentTimeMillis() / 1000;
        String nonce = RequestSigning.newNonce();
        String sha = RequestSigning.sha256Hex(body.gzipped);
        String toSign = RequestSigning.stringToSign("POST", target, ts, nonce, sha, body.batchId);
        HttpPost post = new HttpPost(config.endpoint());
        post.setHeader("Content-Encoding", "gzip");
        post.setHeader(RequestSigning.HEADER_KEY_ID, credentials.accessKeyId());
        post.setHeader(RequestSigning.HEADER_TIMESTAMP, Long.toString(ts));
        post.setHeader(RequestSigning.HEADER_NONCE, nonce);
        post.setHeader(RequestSigning.HEADER_CONTENT_SHA256, sha);
        post.setHeader(RequestSigning.HEADER_BATCH_ID, body.batchId);
        post.setHeader(RequestSigning.HEADER_SIGNATURE, RequestSigning.sign(credentials.accessKeySecret(), toSign));
        if (credentials.bearerToken() != null) {
            post.setHeader("Authorization", "Bearer " + credentials.bearerToken());
        }
        post.setEntity(new ByteArrayEntity(body.gzipped, ContentType.APPLICATION_JSON));
        requests.incrementAndGet();
        return http.execute(post, response -> {
            Reply reply = Reply.EMPTY;
            if (response.getEntity() != null) {
                try (InputStream in = response.getEntity().getContent()) {
                    reply = Reply.parse(readAtMost(in, MAX_RESPONSE_BYTES));
                }
            }
            return new Response(response.getCode(), retryAfter(response.getFirstHeader("Retry-After")), reply);
        });
    }

    private void succeeded(Response r, int samples) {
        long dup = r.reply.duplicates();
        accepted.addAndGet(samples - dup);
        duplicates.addAndGet(dup);
        consecutiveFailures = 0;
        lastSuccess = System.currentTimeMillis();
        if (failingSince != 0) {
            var st = spool.stats();
            LOG.info("upload recovered after {}; draining {} sample(s) ({} bytes)",
                    human(System.currentTimeMillis() - failingSince), st.pendingRecords(), st.pendingBytes());
            failingSince = 0;
            failingKind = null;
        }
    }

    /** The story of an outage in three kinds of line: it started, it goes on (every 5 min), it changed. */
    private void failed(String reason, String kind, int status) {
        consecutiveFailures++;
        failedRequests.incrementAndGet();
        lastError = reason;
        long now = System.currentTimeMillis();
        var st = spool.stats();
        String pending = st.pendingRecords() + " samples, " + st.pendingBytes() + " bytes pending";
        if (failingSince == 0) {
            failingSince = now;
            failingKind = kind;
            lastSummary = now;
            LOG.warn("upload failing since {}: {} ({})", java.time.LocalTime.now().withNano(0), reason, pending);
        } else if (!kind.equals(failingKind)) {
            failingKind = kind;
            lastSummary = now;
            LOG.warn("upload now failing with: {} (failing for {}; {})", reason, human(now - failingSince), pending);
        } else if (now - lastSummary >= SUMMARY_EVERY_MS) {
            lastSummary = now;
            LOG.warn("upload still failing after {}: {} ({})", human(now - failingSince), reason, pending);
        } else {
            LOG.debug("upload attempt failed ({}): {}", status, reason);
        }
    }

    /** Full jitter: uniformly random up to base * 2^failures, capped. */
    private long backoff() {
        long base = config.backoffBase().toNanos();
        long cap = config.backoffMax().toNanos();
        long ceiling = consecutiveFailures >= 30 ? cap : Math.min(cap, base << Math.max(0, consecutiveFailures - 1));
        return ThreadLocalRandom.current().nextLong(Math.max(1, ceiling) + 1);
    }

    private void awaitRateSlot() throws InterruptedException {
        long gap = (long) (1e9 / config.requestsPerSecond());
        long now = System.nanoTime();
        long at = Math.max(now, nextRequestNanos);
        nextRequestNanos = at + gap;
        if (at > now) {
            pause(at - now);
        }
    }

    /** Sleeps, waking early only on close. */
    private void pause(long nanos) throws InterruptedException {
        lock.lock();
        try {
            long left = nanos;
            while (left > 0 && !closed && !closing) {
                left = wake.awaitNanos(left);
            }
        } finally {
            lock.unlock();
        }
    }

    private void awaitWake() throws InterruptedException {
        lock.lock();
        try {
            while (!woken && !closed && !closing) {
                wake.await();
            }
            woken = false;
        } finally {
            lock.unlock();
        }
    }

    private static long retryAfter(Header h) {
        if (h == null) {
            return -1;
        }
        try {
            return Math.max(0, Long.parseLong(h.getValue().strip()));
        } catch (NumberFormatException e) {
            try {
                long at = java.time.ZonedDateTime.parse(h.getValue().strip(), java.time.format.DateTimeFormatter.RFC_1123_DATE_TIME)
                        .toInstant().toEpochMilli();
                return Math.max(0, (at - System.currentTimeMillis() + 999) / 1000);
            } catch (java.time.format.DateTimeParseException e2) {
                return -1;
            }
        }
    }

    private static byte[] readAtMost(InputStream in, int max) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[4096];
        int n;
        while ((n = in.read(buf)) > 0 && out.size() < max) {
            out.write(buf, 0, Math.min(n, max - out.size()));
        }
        return out.toByteArray();
    }

    private static String human(long millis) {
        return io.aegisquartz.config.Units.format(Duration.ofMillis(Math.max(millis, 0)));
    }

    /**
     * Stops uploading. Samples waiting out the linger get one try, for up to {@value #FLUSH_ON_CLOSE_MS}
     * ms; then a batch in flight is abandoned, stays unacknowledged and is sent again next time (the
     * receiver drops what it already stored). Returns within seconds, not a request timeout.
     */
    @Override
    public void close() {
        closing = true;
        signalThread();
        joinThread(FLUSH_ON_CLOSE_MS);
        closed = true;
        signalThread();
        // Closing the client aborts a request in flight, so a stop does not wait out a slow receiver.
        http.close(org.apache.hc.core5.io.CloseMode.IMMEDIATE);
        joinThread(TimeUnit.SECONDS.toMillis(5));
    }

    /** Wakes the thread from any wait, to look at closing and closed. */
    private void signalThread() {
        lock.lock();
        try {
            wake.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private void joinThread(long millis) {
        try {
            thread.join(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
