package io.aegisquartz.output;

import io.aegisquartz.config.SecretMask;
import io.aegisquartz.config.Units;
import io.aegisquartz.sample.SampleJson;
import io.aegisquartz.sample.SampleStamper;
import io.aegisquartz.spool.CursorStats;
import io.aegisquartz.spool.DropReport;
import io.aegisquartz.spool.SpoolBatch;
import io.aegisquartz.spool.SpoolCursor;
import io.aegisquartz.spool.SpoolRecord;
import io.aegisquartz.spool.SpoolTail;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
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
 * Feeds one {@link Output} from its spool cursor, on a thread of its own: the one place where
 * batching, linger, the rate cap, retries with exponential backoff and full jitter, Retry-After,
 * splitting a batch the backend finds too large, dead letters, the live lane, the log lines of an
 * outage and the output's state live, for every output.
 *
 * <p>Batches go out oldest first, one at a time, and the cursor is acknowledged only after the
 * backend has stored (or rejected as invalid, into the dead-letter file) every sample of a batch;
 * nothing the spool holds is given up here. A batch goes out when it is full, when its oldest sample
 * has waited {@link WorkerConfig#linger()} (timed from the sample's append, as Kafka's producer times
 * {@code linger.ms} from a batch's first record, so a backlog goes at once), or when the worker is
 * closing. The thread sleeps until the spool has something new: an idle worker does not wake up.
 *
 * <p>The spool's {@code dropped} reports for this output travel in the next batch, as samples, and
 * are acknowledged with it. While the oldest pending sample is more than a minute old, an output that
 * {@link Output#acceptsOutOfOrder() accepts out-of-order data} and has {@link WorkerConfig#live()}
 * sends every other request from the newest samples (a tail of the spool) ahead of the backlog, best
 * effort, never retried; they stay pending and go out again, in order, later.
 */
public final class OutputWorker<E> implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger("output");
    private static final long SUMMARY_EVERY_MS = 5 * 60_000;
    /** How long {@link #close()} lets the thread send what is lingering before it aborts the send. */
    public static final long FLUSH_ON_CLOSE_MS = 3_000;
    /** A backlog older than this gets the live lane. */
    static final long BACKLOG_AGE_MS = 60_000;
    /** The longest an idle worker sleeps without an append (only to notice a clock that stepped). */
    private static final long IDLE_NANOS = TimeUnit.HOURS.toNanos(1);

    private final Output<E> output;
    private final SpoolCursor cursor;
    private final WorkerConfig config;
    private final DeadLetters deadLetters;
    private final SampleStamper host;
    private final OutputEvents events;
    private final Thread thread;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition wake = lock.newCondition();
    private volatile boolean closed;
    /** Set by close() before closed: send what is lingering, then stop; no retries. */
    private volatile boolean closing;

    private long nextRequestNanos = System.nanoTime();
    private int consecutiveFailures;
    private volatile long failingSince = -1;
    private String failingKind;
    private long lastSummary;
    private volatile String lastError;
    private volatile long lastSuccess = -1;
    private SpoolTail tail;
    private boolean liveTurn;
    /** Records from the acknowledged position the previous agent was sending when it stopped: sent first, alone. */
    private int resendLeft;
    /** Items of the re-sent batch the backend already had (refused again as such): duplicates, not dead letters. */
    private long storedBefore;

    private final AtomicLong accepted = new AtomicLong();
    private final AtomicLong duplicates = new AtomicLong();
    private final AtomicLong requests = new AtomicLong();
    private final AtomicLong failures = new AtomicLong();
    private final AtomicLong liveSent = new AtomicLong();
    private volatile long lastCpuNanos;

    /**
     * @param host the host's identity, for the {@code dropped} samples this worker builds from the spool's reports
     */
    public OutputWorker(Output<E> output, SpoolCursor cursor, WorkerConfig config, DeadLetters deadLetters, SampleStamper host) {
        this(output, cursor, config, deadLetters, host, OutputEvents.NONE);
    }

    /**
     * @param host   the host's identity, for the {@code dropped} samples this worker builds from the spool's reports
     * @param events told of every send's outcome and every drop report taken (the agent's alerts)
     */
    public OutputWorker(Output<E> output, SpoolCursor cursor, WorkerConfig config, DeadLetters deadLetters, SampleStamper host,
                        OutputEvents events) {
        this.events = events;
        this.output = output;
        this.cursor = cursor;
        this.config = config;
        this.deadLetters = deadLetters;
        this.host = host;
        this.thread = new Thread(null, this::loop, "aegis-output-" + output.name(), 512 * 1024);
        thread.setDaemon(true);
    }

    /** Starts the thread; returns at once. */
    public OutputWorker<E> start() {
        if (config.live() && output.acceptsOutOfOrder()) {
            // What is appended from now on is live; what is there already is the backlog.
            tail = cursor.tail();
        }
        thread.start();
        return this;
    }

    public String name() {
        return output.name();
    }

    /** The output this worker feeds. */
    public Output<E> output() {
        return output;
    }

    /** A snapshot of this output, safe from any thread. */
    public OutputState state() {
        CursorStats st = cursor.stats();
        long now = System.currentTimeMillis();
        return new OutputState(output.name(), output.type(), st.pendingRecords(), st.pendingBytes(),
                st.oldestPendingTimeMillis() < 0 ? -1 : Math.max(0, now - st.oldestPendingTimeMillis()), lastSuccess, failingSince,
                lastError, accepted.get(), duplicates.get(), requests.get(), failures.get(), deadLetters.count(), st.dropped(),
                liveSent.get());
    }

    /** CPU time the thread has used so far, in nanoseconds; 0 if it cannot be told. Never goes backwards. */
    public long cpuNanos() {
        long t = java.lang.management.ManagementFactory.getThreadMXBean().getThreadCpuTime(thread.getId());
        if (t > lastCpuNanos) {
            lastCpuNanos = t; // -1 once the thread has ended: keep the last reading
        }
        return lastCpuNanos;
    }

    /** What one turn of the loop sends: records read from the cursor and the drop reports that go with them. */
    private record Batch(List<SpoolRecord> records, SpoolBatch last, List<DropReport> drops, boolean resent) {
        boolean isEmpty() {
            return records.isEmpty() && drops.isEmpty();
        }
    }

    private void loop() {
        resendLeft = cursor.inFlightBefore();
        try {
            while (!closed) {
                Batch batch;
                try {
                    batch = collect();
                } catch (IOException e) {
                    failed("cannot read the spool: " + e.getMessage(), "spool");
                    if (closing) {
                        return;
                    }
                    pause(backoff());
                    continue;
                }
                if (batch == null || batch.isEmpty()) {
                    return; // closed, or closing with nothing left
                }
                live(batch);
                List<Item> items = new ArrayList<>(batch.records.size() + batch.drops.size());
                for (SpoolRecord r : batch.records) {
                    items.add(new Item(r.payload(), r.timeMillis(), r.position().segment() + ":" + r.position().offset()));
                }
                for (DropReport d : batch.drops) {
                    io.aegisquartz.sample.Sample dropped = DroppedSamples.of(d, output.name(), host.hostUuid(), host.hostname());
                    items.add(new Item(SampleJson.toJson(dropped).getBytes(StandardCharsets.UTF_8), System.currentTimeMillis(),
                            "dropped:" + d.number()));
                    tell(() -> events.dropped(dropped));
                }
                if (batch.last != null) {
                    try {
                        cursor.markInFlight(batch.last.end());
                    } catch (IOException e) {
                        // Without the mark a restart treats this batch as never sent: the behaviour before marks.
                        LOG.debug("output {}: cannot note the batch in flight: {}", output.name(), e.toString());
                    }
                }
                storedBefore = 0;
                if (!deliver(items, batch.resent)) {
                    return; // closed mid-batch: it stays unacknowledged and is sent again after a restart
                }
                if (storedBefore > 0) {
                    LOG.info("output {}: {} of the {} sample(s) in flight when the agent last stopped were already stored (the"
                            + " backend refused them again as such); counted as duplicates, not dead letters", output.name(),
                            storedBefore, items.size());
                }
                try {
                    cursor.ack(batch.last == null ? null : batch.last.end(), batch.drops);
                } catch (IOException e) {
                    // Delivered but not recorded: after a restart these go again, and backends that drop
                    // repeated ids (ours does) store them once.
                    LOG.error("output {}: delivered {} sample(s) but cannot record it in the spool: {}", output.name(), items.size(),
                            e.getMessage());
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
        } finally {
            if (tail != null) {
                tail.close();
            }
        }
    }

    /**
     * Reads the next batch: what is there, then, if it is not full, more as it is appended until its
     * oldest sample has waited the linger. Null once closed.
     */
    private Batch collect() throws IOException, InterruptedException {
        List<SpoolRecord> records = new ArrayList<>();
        long bytes = 0;
        SpoolBatch last = null;
        List<DropReport> drops = List.of();
        long lingerNanos = config.linger().toNanos();
        long latest = 0;
        if (resendLeft > 0) {
            // The batch the previous agent had in flight, first and alone, exactly as it was: so that a
            // refusal of what the backend already has is told from a refusal of anything new.
            int n = resendLeft;
            resendLeft = 0;
            drops = cursor.takeDrops();
            SpoolBatch b = cursor.read(n, Long.MAX_VALUE);
            if (!b.isEmpty()) {
                return new Batch(b.records(), b, drops, true);
            }
        }
        while (true) {
            if (closed) {
                return null;
            }
            if (drops.isEmpty()) {
                // Before every read: a drop since the last one is reported with the records read after it
                // (a read would freeze its report anyway; taking it here sends it now).
                drops = cursor.takeDrops();
            }
            int want = config.maxSamples() - records.size();
            SpoolBatch b = cursor.read(want, Math.max(1, config.maxBytes() - bytes));
            if (!b.isEmpty()) {
                if (records.isEmpty()) {
                    latest = System.nanoTime() + lingerNanos; // a wall clock stepped back never holds a batch longer
                }
                records.addAll(b.records());
                for (SpoolRecord r : b.records()) {
                    bytes += r.payload().length;
                }
                last = b;
            }
            boolean full = records.size() >= config.maxSamples() || (!b.isEmpty() && b.size() < want && cursor.hasUnread());
            // With a report to deliver, nothing waits for the linger: the cursor reads no further
            // than the next gap until this report is acknowledged (docs/SPOOL.md).
            if (full || closing || (b.isEmpty() && !drops.isEmpty())) {
                return new Batch(records, last, drops, false);
            }
            if (records.isEmpty()) {
                cursor.awaitUnread(IDLE_NANOS);
                continue;
            }
            if (lingerNanos <= 0) {
                return new Batch(records, last, drops, false);
            }
            long dueMillis = records.get(0).timeMillis() + config.linger().toMillis() - System.currentTimeMillis();
            long left = Math.min(TimeUnit.MILLISECONDS.toNanos(dueMillis), latest - System.nanoTime());
            if (left <= 0) {
                return new Batch(records, last, drops, false);
            }
            cursor.awaitUnread(left);
        }
    }

    /** The live lane: during a backlog, every other request carries the newest samples, once, best effort. */
    private void live(Batch batch) throws InterruptedException {
        if (!config.live() || !output.acceptsOutOfOrder() || batch.records.isEmpty()) {
            return;
        }
        boolean behind = System.currentTimeMillis() - batch.records.get(0).timeMillis() > BACKLOG_AGE_MS;
        if (!behind) {
            if (tail != null) {
                tail.close();
                tail = null; // in order anyway: the backlog is short
            }
            return;
        }
        if (tail == null) {
            tail = cursor.tail();
        }
        liveTurn = !liveTurn;
        if (!liveTurn || consecutiveFailures > 0) {
            return;
        }
        SpoolBatch fresh;
        try {
            fresh = tail.read(config.maxSamples(), config.maxBytes());
        } catch (IOException e) {
            return; // the same samples go out with the backlog anyway
        }
        if (fresh.isEmpty()) {
            return;
        }
        List<Item> items = new ArrayList<>(fresh.size());
        for (SpoolRecord r : fresh.records()) {
            items.add(new Item(r.payload(), r.timeMillis(), null));
        }
        awaitRateSlot();
        try {
            requests.incrementAndGet();
            if (output.send(output.encode(items)) instanceof SendResult.Accepted a) {
                accepted.addAndGet(items.size() - a.duplicates());
                duplicates.addAndGet(a.duplicates());
                liveSent.addAndGet(items.size());
            }
        } catch (IOException e) {
            LOG.debug("output {}: live batch not sent ({}); it goes out with the backlog", output.name(), e.toString());
        }
    }

    /**
     * Delivers every item (or dead-letters it); false if closed (or closing, after one try) before
     * done. {@code resent}: the items were in flight when the previous agent stopped.
     */
    private boolean deliver(List<Item> items, boolean resent) throws InterruptedException {
        Deque<List<Item>> work = new ArrayDeque<>();
        work.push(items);
        boolean tried = false;
        while (!work.isEmpty()) {
            if (closed || closing && tried) {
                return false;
            }
            tried = true;
            List<Item> part = work.peek();
            E body = output.encode(part);
            SendResult result;
            try {
                awaitRateSlot();
                requests.incrementAndGet();
                result = output.send(body);
            } catch (IOException e) {
                if (closed) {
                    return false; // aborted by close(), not a failure worth a log line
                }
                failed(e.getClass().getSimpleName() + ": " + e.getMessage(), "network");
                pause(backoff());
                continue;
            }
            String batchId = output.batchId(body);
            try {
                if (result instanceof SendResult.Accepted a) {
                    work.pop();
                    succeeded(a, part.size());
                } else if (result instanceof SendResult.TooLarge t) {
                    work.pop();
                    if (part.size() == 1) {
                        deadLetter(part.get(0), batchId, t.status(), t.why());
                    } else {
                        LOG.info("output {}: a batch of {} samples is too large for the backend ({}); splitting it", output.name(),
                                part.size(), t.why());
                        split(work, part);
                    }
                } else if (result instanceof SendResult.Rejected r) {
                    work.pop();
                    rejected(work, part, batchId, r, resent);
                } else if (result instanceof SendResult.Retry r) {
                    failed(r.why(), r.kind());
                    // Retry-After is honoured up to the backoff's cap (docs/PROTOCOL.md): a backend or a
                    // proxy asking for hours must not park the agent's data that long; at the cap it is
                    // asked again.
                    pause(r.after() != null ? Math.min(r.after().toNanos(), config.backoff().max().toNanos()) : backoff());
                }
            } catch (NotKept e) {
                return false;
            }
        }
        return true;
    }

    private static <T> void split(Deque<List<T>> work, List<T> part) {
        work.push(part.subList(part.size() / 2, part.size()));
        work.push(part.subList(0, part.size() / 2));
    }

    /**
     * Dead-letters the items a rejection names and queues the rest. The list is used only if it fits
     * this batch (docs/PROTOCOL.md, "A usable rejected list"): not empty, every index inside the batch,
     * and every id given the id of the sample at its index. A list that fails any of these describes
     * some other batch, or none, and is not trusted with a single sample: the worker finds the refused
     * samples by halves instead.
     */
    private void rejected(Deque<List<Item>> work, List<Item> part, String batchId, SendResult.Rejected r, boolean resent)
            throws InterruptedException, NotKept {
        Set<Integer> bad = new HashSet<>();
        boolean usable = !r.items().isEmpty();
        for (SendResult.Rejection n : r.items()) {
            usable &= n.index() >= 0 && n.index() < part.size() && (n.id() == null || n.id().equals(sampleId(part.get(n.index()))));
        }
        if (!usable && !r.items().isEmpty()) {
            LOG.info("output {}: the backend names {} rejected sample(s), but its list does not match this batch of {};"
                    + " finding the refused samples by halves instead", output.name(), r.items().size(), part.size());
        }
        if (!usable) {
            if (part.size() == 1 && resent && output.refusedBecauseStored(r)) {
                storedBefore++;
                succeeded(new SendResult.Accepted(1), 1);
            } else if (part.size() == 1) {
                deadLetter(part.get(0), batchId, r.status(), r.why());
            } else {
                split(work, part); // no sample named (or not trustworthy): find the bad ones by halves
            }
            return;
        }
        for (SendResult.Rejection n : r.items()) {
            if (bad.add(n.index())) {
                deadLetter(part.get(n.index()), batchId, r.status(), n.reason());
            }
        }
        List<Item> rest = new ArrayList<>(part.size() - bad.size());
        for (int i = 0; i < part.size(); i++) {
            if (!bad.contains(i)) {
                rest.add(part.get(i));
            }
        }
        if (!rest.isEmpty()) {
            work.push(rest);
        }
    }

    /** The id of a stored sample, or null if it cannot be read as one. */
    private static String sampleId(Item item) {
        try {
            return StoredSample.parse(item.json()).id();
        } catch (StoredSample.NotASample e) {
            return null;
        }
    }

    /**
     * Keeps a sample the backend refused, retrying until it is written.
     *
     * @throws NotKept if the worker stops first: the batch must then stay unacknowledged, since the
     *                 sample is neither delivered nor kept
     */
    private void deadLetter(Item item, String batchId, int status, String reason) throws InterruptedException, NotKept {
        while (true) {
            try {
                deadLetters.add(item, batchId, status, reason);
                LOG.warn("output {}: 1 sample moved to {}: {}", output.name(), deadLetters.file(), reason);
                return;
            } catch (IOException e) {
                LOG.error("output {}: cannot write the dead-letter file {}: {}; retrying", output.name(), deadLetters.file(),
                        e.getMessage());
                if (closed || closing) {
                    throw new NotKept();
                }
                pause(backoff());
            }
        }
    }

    /** A refused sample could not be written to the dead-letter file before the worker stopped. */
    private static final class NotKept extends Exception {
        NotKept() {
            super(null, null, false, false);
        }
    }

    private void succeeded(SendResult.Accepted a, int samples) {
        accepted.addAndGet(samples - a.duplicates());
        duplicates.addAndGet(a.duplicates());
        consecutiveFailures = 0;
        try {
            events.delivered(output.name(), output.type()); // every batch: no lambda to allocate
        } catch (RuntimeException e) {
            LOG.error("output {}: a listener of its events failed", output.name(), e);
        }
        lastSuccess = System.currentTimeMillis();
        if (failingSince >= 0) {
            CursorStats st = cursor.stats();
            LOG.info("output {} recovered after {}; draining {} sample(s) ({} bytes)", output.name(),
                    human(System.currentTimeMillis() - failingSince), st.pendingRecords(), st.pendingBytes());
            failingSince = -1;
            failingKind = null;
        }
    }

    /** The story of an outage in three kinds of line: it started, it goes on (every 5 min), it changed. */
    private void failed(String rawReason, String kind) {
        // A client library's message may quote the endpoint, and an endpoint may carry user:password@ or ?token=.
        String reason = SecretMask.maskText(rawReason);
        consecutiveFailures++;
        failures.incrementAndGet();
        lastError = reason;
        int n = consecutiveFailures;
        long now = System.currentTimeMillis();
        CursorStats st = cursor.stats();
        tell(() -> events.failed(output.name(), output.type(), n, reason, st.dropsUndelivered()));
        String pending = st.pendingRecords() + " samples, " + st.pendingBytes() + " bytes pending";
        if (failingSince < 0) {
            failingSince = now;
            failingKind = kind;
            lastSummary = now;
            LOG.warn("output {} failing since {}: {} ({})", output.name(), java.time.LocalTime.now().withNano(0), reason, pending);
        } else if (!kind.equals(failingKind)) {
            failingKind = kind;
            lastSummary = now;
            LOG.warn("output {} now failing with: {} (failing for {}; {})", output.name(), reason, human(now - failingSince), pending);
        } else if (now - lastSummary >= SUMMARY_EVERY_MS) {
            lastSummary = now;
            LOG.warn("output {} still failing after {}: {} ({})", output.name(), human(now - failingSince), reason, pending);
        } else {
            LOG.debug("output {}: attempt failed ({}): {}", output.name(), kind, reason);
        }
    }

    /** Tells {@link #events}; a listener that throws must not stop the delivery. */
    private void tell(Runnable r) {
        try {
            r.run();
        } catch (RuntimeException e) {
            LOG.error("output {}: a listener of its events failed", output.name(), e);
        }
    }

    private long backoff() {
        return config.backoff().delayNanos(consecutiveFailures, ThreadLocalRandom.current());
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

    private static String human(long millis) {
        return Units.format(Duration.ofMillis(Math.max(millis, 0)));
    }

    /**
     * Stops. Samples waiting out the linger get one try, for up to {@value #FLUSH_ON_CLOSE_MS} ms;
     * then a send in flight is aborted and its batch stays unacknowledged, sent again next time.
     * Returns within seconds, not a request timeout. Closes the output.
     */
    @Override
    public void close() {
        closing = true;
        signalThread();
        joinThread(FLUSH_ON_CLOSE_MS);
        closed = true;
        signalThread();
        output.close();
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
        cursor.wakeUp();
    }

    private void joinThread(long millis) {
        try {
            thread.join(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
