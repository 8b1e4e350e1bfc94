package io.aegisquartz.spool;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One reader of the spool, by name (one per output), with a checkpoint of its own
 * ({@code <name>.cursor}, docs/SPOOL.md). It reads the oldest records it has not acknowledged, in
 * order; {@link #ack} makes its position durable, after which segments that every cursor has passed
 * are deleted. After a restart it reads again from its checkpoint (at-least-once). Reading does not
 * consume: only acknowledging does.
 *
 * <p>One thread reads and acknowledges through a cursor (its output's worker); {@link #stats()} may
 * be called from any thread.
 */
public final class SpoolCursor {

    private final Spool spool;
    private final String name;

    // Guarded by the spool's lock.
    CursorFile file;
    SpoolPosition ackPos;
    SpoolPosition readPos;
    /** Set by {@link #wakeUp()}: the next or current {@link #awaitUnread} returns at once. */
    boolean woken;
    /** Append time of the last record read, the end of an in-flight range a drop may cut. */
    long lastReadTime = -1;
    final DropLedger ledger;
    /** Bumped at every change a checkpoint must carry; durableVersion is what the file holds. */
    long version;
    long durableVersion;
    SpoolPosition durableAck;

    /** Serializes writes of the checkpoint file (held without the spool's lock). */
    final ReentrantLock writeLock = new ReentrantLock();
    /** One reader at a time; guards the read channel and codec. */
    final ReentrantLock readLock = new ReentrantLock();
    final FrameCodec readCodec = new FrameCodec();
    FileChannel readChannel;
    long readChannelSegment = -1;

    SpoolCursor(Spool spool, String name, SpoolPosition position, DropLedger ledger) {
        this.spool = spool;
        this.name = name;
        this.ackPos = position;
        this.readPos = position;
        this.durableAck = position;
        this.ledger = ledger;
    }

    public String name() {
        return name;
    }

    /**
     * Reads up to {@code maxRecords} of the oldest records after this cursor's read position, at most
     * {@code maxBytes} of payload (but always one record if any is available), and moves the read
     * position past them. Only durable records are returned. Reading again before acknowledging
     * continues after this batch; nothing is removed until {@link #ack}.
     */
    public SpoolBatch read(int maxRecords, long maxBytes) throws IOException {
        return spool.read(this, maxRecords, maxBytes);
    }

    /** True if durable records wait after the read position. */
    public boolean hasUnread() {
        return spool.hasUnread(this);
    }

    /**
     * Waits up to {@code nanos} for durable records after the read position (no polling: appends
     * signal). Returns at once if some are there; false on timeout or when the spool closes.
     */
    public boolean awaitUnread(long nanos) throws InterruptedException {
        return spool.awaitUnread(this, nanos);
    }

    /** Makes a thread blocked in {@link #awaitUnread} return now (to look at a stop request). */
    public void wakeUp() {
        spool.wakeUp(this);
    }

    /**
     * Acknowledges every record before {@code upTo} (a {@link SpoolRecord#next()} or
     * {@link SpoolBatch#end()}): returns once this cursor's checkpoint holds it durably; then segments
     * every cursor has passed are deleted. An ack behind the current one (overtaken by a drop) changes
     * no position, but still confirms the delivery of records a drop had found in flight.
     */
    public void ack(SpoolPosition upTo) throws IOException {
        spool.ack(this, upTo, List.of());
    }

    /**
     * As {@link #ack(SpoolPosition)}, and records that the {@code dropped} reports {@code delivered}
     * (from {@link #takeDrops()}) were delivered, in the same durable write. {@code upTo} may be null
     * when only reports were delivered.
     */
    public void ack(SpoolPosition upTo, List<DropReport> delivered) throws IOException {
        spool.ack(this, upTo, delivered);
    }

    /**
     * The {@code dropped} reports this cursor's output must deliver: those handed out before and not
     * yet acknowledged, or else every new one, which are made durable as handed out before this
     * returns (so a report that may have reached a backend never changes). Empty if nothing was dropped.
     */
    public List<DropReport> takeDrops() throws IOException {
        return spool.takeDrops(this);
    }

    /** Pending records, bytes, oldest pending append time and drops; reads at most one frame header, without blocking appends. */
    public CursorStats stats() {
        return spool.stats(this);
    }

    /**
     * A reader that starts at the end of what is durable now and follows new appends, without a
     * checkpoint: for sending the newest records ahead of a backlog (the live lane). What it reads
     * stays in the spool for this cursor.
     */
    public SpoolTail tail() {
        return spool.tail();
    }

    /**
     * Notes, in {@code NAME.inflight} (written, not fsynced), that the records from the acknowledged
     * position up to {@code end} are about to be sent: if the agent dies before {@link #ack}, the next
     * start knows that the backend may already have them ({@link #inFlightBefore()}).
     */
    public void markInFlight(SpoolPosition end) throws IOException {
        SpoolPosition start = spool.acked(this);
        InFlightMark.write(spool.dir(), name, start, (int) Math.min(Integer.MAX_VALUE, Math.max(0, end.seq() - start.seq())));
    }

    /**
     * How many records from the acknowledged position were being sent when the previous agent
     * stopped without acknowledging them ({@link #markInFlight}); 0 if none, or not known. Meaningful
     * before the first {@link #ack} of this run.
     */
    public int inFlightBefore() {
        return InFlightMark.read(spool.dir(), name, spool.acked(this));
    }


    @Override
    public String toString() {
        return "cursor " + name;
    }
}
