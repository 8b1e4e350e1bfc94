package io.aegisquartz.spool;

import io.aegisquartz.lock.ProcessLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;

/**
 * A durable, size-capped queue of opaque records on disk (format: docs/SPOOL.md).
 *
 * <p>Writers call {@link #append}: it returns once the records are on stable storage, and
 * concurrent callers share one fsync (group commit). One consumer reads the oldest unacknowledged
 * records with {@link #read} and later calls {@link #ack}; reading does not consume, so after a
 * crash everything unacknowledged is read again (at-least-once). When the size cap or the
 * free-disk minimum would be exceeded, whole oldest segments are dropped and reported through
 * {@link #drainDropped()}, never silently.
 *
 * <p>If writing or fsyncing fails, the spool refuses further appends until it is reopened: after
 * a failed fsync the kernel may have discarded the dirty pages, so only a fresh recovery scan
 * knows what is really on disk.
 */
public final class Spool implements Closeable {

    /** The lock file that keeps one process per spool directory ({@link ProcessLock}). */
    public static final String LOCK_FILE = "spool.lock";

    private static final Logger LOG = LoggerFactory.getLogger("spool");
    private static final int HEADER = SegmentFile.HEADER_BYTES;
    private static final int MIN_READ_CHUNK = 64 << 10;
    private static final int MAX_READ_CHUNK = 8 << 20;

    private final Path dir;
    private final SpoolConfig config;
    private final ProcessLock dirLock;
    private final SpoolConfig.FreeSpace freeSpace;
    private final LongSupplier clock;
    private final FrameCodec writeCodec = new FrameCodec();
    private final RecoveryReport report;

    /** Guards all state below except the read channel. Held only briefly: never across write+fsync of a group. */
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    /** Oldest first; the last one is {@link #current}. */
    private final ArrayDeque<SegmentFile> segments = new ArrayDeque<>();
    private SegmentFile current;
    /** Frames encoded but not yet handed to the file; swapped with {@link #inFlight} by the group leader. */
    private ByteBuffer pending = ByteBuffer.allocateDirect(256 << 10);
    private ByteBuffer inFlight = ByteBuffer.allocateDirect(256 << 10);
    private boolean flushing;
    private IOException failure;
    private boolean closed;
    private long nextSeq;
    private long durableSeq;
    private long ackSeq;
    private SpoolPosition ackPos;
    private SpoolPosition readPos;
    private long totalBytes;
    private long forces;
    private long droppedTotal;
    private long corruptTotal;
    private final List<DropReport> drops = new ArrayList<>();
    private long knownFree = -1;
    private long sinceFreeCheck;
    /** Free space is asked of the filesystem again after this many appended bytes (a syscall per append would cost too much). */
    private long freeRecheckBytes = 1 << 20;

    /** One consumer at a time; also guards the read channel and codec. */
    private final ReentrantLock consumer = new ReentrantLock();
    private final FrameCodec readCodec = new FrameCodec();
    private FileChannel readChannel;
    private long readChannelSegment = -1;

    private Spool(Path dir, SpoolConfig config, ProcessLock dirLock) throws IOException {
        this.dir = dir;
        this.config = config;
        this.dirLock = dirLock;
        this.clock = config.clock() != null ? config.clock() : System::currentTimeMillis;
        if (config.freeSpace() != null) {
            this.freeSpace = config.freeSpace();
        } else {
            FileStore store = Files.getFileStore(dir);
            this.freeSpace = store::getUsableSpace;
        }
        this.report = recover();
    }

    /**
     * Opens (creating if needed) the spool in {@code dir}, repairing what a crash or bad media
     * left behind; see {@link #recoveryReport()}. Fails only if the directory is unusable or
     * owned by another process.
     */
    public static Spool open(Path dir, SpoolConfig config) throws IOException {
        Files.createDirectories(dir);
        ProcessLock dirLock = ProcessLock.acquire(dir.resolve(LOCK_FILE), "spool directory " + dir);
        try {
            return new Spool(dir, config, dirLock);
        } catch (IOException | RuntimeException e) {
            dirLock.close();
            throw e;
        }
    }

    public static Spool open(Path dir) throws IOException {
        return open(dir, SpoolConfig.defaults());
    }

    public Path dir() {
        return dir;
    }

    /** What opening found and repaired. */
    public RecoveryReport recoveryReport() {
        return report;
    }

    private RecoveryReport recover() throws IOException {
        // Temp files are renamed into place only once complete, so they never hold the only copy of a record.
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.tmp")) {
            for (Path p : ds) {
                Files.deleteIfExists(p);
            }
        }
        Checkpoint.Read ck = Checkpoint.read(dir);
        if (ck.problem() != null) {
            LOG.warn("checkpoint {} ignored ({}): records in existing segments will be delivered again",
                    dir.resolve(Checkpoint.FILE), ck.problem());
        }
        TreeMap<Long, Path> files = new TreeMap<>();
        TreeSet<Long> seen = new TreeSet<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "seg-*")) {
            for (Path p : ds) {
                String name = p.getFileName().toString();
                long id = SegmentFile.idOf(p);
                if (id >= 0) {
                    files.put(id, p);
                    seen.add(id);
                } else if (name.length() >= 24 && name.substring(4, 24).chars().allMatch(Character::isDigit)) {
                    seen.add(Long.parseLong(name.substring(4, 24))); // a segment set aside earlier: keep its id taken
                }
            }
        }
        long recovered = 0;
        long corrupt = 0;
        long truncated = 0;
        List<Path> setAside = new ArrayList<>();
        for (var e : files.entrySet()) {
            long id = e.getKey();
            Path path = e.getValue();
            if (ck.valid() && id < ck.segment()) {
                // Wholly acknowledged; a crash came between writing the checkpoint and deleting it.
                Files.deleteIfExists(path);
                continue;
            }
            SegmentFile.Scan scan = SegmentFile.recover(path, id, ck.valid() && id == ck.segment() ? ck.offset() : -1, writeCodec);
            if (scan.badHeader != null) {
                Path aside = SegmentFile.setAside(path);
                setAside.add(aside);
                LOG.warn("segment {} is unreadable ({}); set aside as {}", path, scan.badHeader, aside.getFileName());
                continue;
            }
            SegmentFile seg = scan.segment;
            seg.firstSeq = nextSeq;
            nextSeq += seg.records;
            recovered += scan.recovered;
            corrupt += scan.corrupt;
            truncated += scan.truncated;
            if (scan.corrupt > 0) {
                LOG.warn("segment {}: {} damaged record(s) skipped", path, scan.corrupt);
            }
            if (scan.truncated > 0) {
                LOG.warn("segment {}: torn tail of {} byte(s) truncated", path, scan.truncated);
            }
            if (ck.valid() && id == ck.segment()) {
                ackPos = new SpoolPosition(id, scan.ackBoundary, seg.firstSeq + scan.acked);
            }
            segments.addLast(seg);
            totalBytes += seg.size;
        }
        List<Long> missing = missingIds(ck.valid() ? seen.tailSet(ck.segment(), true) : seen, ck.valid() ? ck.segment() : -1);
        if (!missing.isEmpty()) {
            LOG.warn("spool {}: segment(s) {} missing; their records are lost", dir, missing);
        }
        long newId = Math.max(seen.isEmpty() ? -1 : seen.last(), ck.valid() ? ck.segment() : -1) + 1;
        current = SegmentFile.create(dir, newId, nextSeq);
        segments.addLast(current);
        totalBytes += current.size;
        durableSeq = nextSeq;
        if (ackPos == null) {
            SegmentFile first = segments.peekFirst();
            ackPos = new SpoolPosition(first.id, HEADER, first.firstSeq);
        }
        ackSeq = ackPos.seq();
        readPos = ackPos;
        corruptTotal = corrupt;
        deleteAcked();
        return new RecoveryReport(recovered, nextSeq - ackSeq, corrupt, truncated, List.copyOf(setAside),
                List.copyOf(missing), ck.problem());
    }

    /**
     * Segment ids are consecutive, so a gap between the checkpoint's segment (or the oldest file)
     * and the newest file is a segment that vanished. The checkpoint's own segment may rightly be
     * gone: it is deleted once acknowledged to its end.
     */
    static List<Long> missingIds(java.util.SortedSet<Long> present, long checkpointSegment) {
        List<Long> missing = new ArrayList<>();
        if (present.isEmpty()) {
            return missing;
        }
        long from = checkpointSegment >= 0 ? checkpointSegment + 1 : present.first();
        for (long id = from; id < present.last() && missing.size() < 10_000; id++) {
            if (!present.contains(id)) {
                missing.add(id);
            }
        }
        return missing;
    }

    /** Appends one record; returns once it is durable. */
    public void append(byte[] record) throws IOException {
        appendAll(null, record);
    }

    /** Appends records in order with one shared append time; returns once all are durable. */
    public void append(List<byte[]> records) throws IOException {
        appendAll(records, null);
    }

    private void appendAll(List<byte[]> many, byte[] single) throws IOException {
        int n = single != null ? 1 : many.size();
        if (n == 0) {
            return;
        }
        long need = 0;
        for (int i = 0; i < n; i++) {
            byte[] r = single != null ? single : many.get(i);
            if (r.length > config.maxRecordBytes()) {
                throw new IllegalArgumentException("record of " + r.length + " bytes exceeds the limit of " + config.maxRecordBytes());
            }
            need += FrameCodec.frameBytes(r);
        }
        if (need + HEADER > config.maxBytes()) {
            throw new IllegalArgumentException(need + " bytes of records cannot fit a spool capped at " + config.maxBytes());
        }
        long now = clock.getAsLong();
        lock.lock();
        try {
            checkUsable();
            // Rolls add segment headers; count them so the cap holds exactly for single records.
            long headers = current.size + need > config.segmentBytes() ? (need / (config.segmentBytes() - HEADER) + 1) * HEADER : 0;
            makeRoom(need + headers);
            for (int i = 0; i < n; i++) {
                byte[] r = single != null ? single : many.get(i);
                int frame = FrameCodec.frameBytes(r);
                roll(frame);
                if (pending.remaining() < frame) {
                    ByteBuffer bigger = ByteBuffer.allocateDirect(Math.max(pending.capacity() * 2, pending.position() + frame));
                    pending.flip();
                    bigger.put(pending);
                    pending = bigger;
                }
                writeCodec.encode(pending, now, r);
                SegmentFile seg = current;
                seg.size += frame;
                totalBytes += frame;
                if (seg.records++ == 0) {
                    seg.firstTime = now;
                }
                seg.lastTime = now;
                nextSeq++;
            }
            sinceFreeCheck += need;
            awaitDurable(nextSeq);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Group commit: the first waiter to find no flush running takes everything encoded so far,
     * writes it with one positional write and one force outside the lock; the rest wait for it.
     */
    private void awaitDurable(long ticket) throws IOException {
        while (durableSeq < ticket) {
            checkUsable();
            if (flushing) {
                changed.awaitUninterruptibly();
                continue;
            }
            flushing = true;
            ByteBuffer buf = pending;
            pending = inFlight;
            inFlight = buf;
            SegmentFile seg = current;
            long pos = seg.fileSize;
            long target = nextSeq;
            lock.unlock();
            long written = 0;
            IOException err = null;
            try {
                buf.flip();
                while (buf.hasRemaining()) {
                    written += seg.channel.write(buf, pos + written);
                }
                seg.channel.force(false);
            } catch (IOException e) {
                err = e;
            } finally {
                buf.clear();
                lock.lock();
            }
            flushing = false;
            changed.signalAll();
            if (err != null) {
                fail(err);
                throw new IOException("spool " + dir + ": records could not be made durable: " + err, err);
            }
            forces++;
            seg.fileSize += written;
            seg.durableSize = seg.fileSize;
            durableSeq = Math.max(durableSeq, target);
        }
    }

    /** Starts a new segment if a frame of this size would not fit the current one (unless it is empty). */
    private void roll(long frame) throws IOException {
        if (current.size <= HEADER || current.size + frame <= config.segmentBytes()) {
            return;
        }
        while (flushing) {
            changed.awaitUninterruptibly();
        }
        checkUsable();
        if (current.size <= HEADER || current.size + frame <= config.segmentBytes()) {
            return; // another thread rolled while we waited
        }
        SegmentFile old = current;
        try {
            pending.flip();
            while (pending.hasRemaining()) {
                old.fileSize += old.channel.write(pending, old.fileSize);
            }
            old.channel.force(false);
            forces++;
            old.channel.close();
            old.channel = null;
            old.durableSize = old.fileSize;
            durableSeq = nextSeq;
            changed.signalAll();
            current = SegmentFile.create(dir, old.id + 1, nextSeq);
        } catch (IOException e) {
            fail(e);
            throw new IOException("spool " + dir + ": cannot finish segment " + old.path.getFileName() + ": " + e, e);
        } finally {
            pending.clear();
        }
        segments.addLast(current);
        totalBytes += current.size;
    }

    /** Drops oldest segments until {@code need} more bytes fit both limits. */
    private void makeRoom(long need) throws IOException {
        while (true) {
            DropReport.Reason reason = null;
            if (totalBytes + need > config.maxBytes()) {
                reason = DropReport.Reason.SIZE_CAP;
            } else if (config.minFreeBytes() > 0 && freeAfter(need) < config.minFreeBytes()) {
                reason = DropReport.Reason.DISK_FREE;
            }
            if (reason == null) {
                return;
            }
            if (!dropOldest(reason)) {
                throw new IOException("spool " + dir + ": " + knownFree + " byte(s) free on its filesystem, below the minimum of "
                        + config.minFreeBytes() + ", and nothing left to drop; records not stored");
            }
        }
    }

    private long freeAfter(long need) {
        if (knownFree < 0 || sinceFreeCheck + need >= freeRecheckBytes
                || knownFree - sinceFreeCheck - need < config.minFreeBytes()) {
            try {
                knownFree = freeSpace.usableBytes();
            } catch (IOException e) {
                // Unknown free space must not stop appends; the size cap still holds.
                LOG.warn("spool {}: cannot read free disk space: {}", dir, e.toString());
                return Long.MAX_VALUE;
            }
            sinceFreeCheck = 0;
        }
        return knownFree - sinceFreeCheck - need;
    }

    /** Deletes the oldest segment, reporting its unacknowledged records; false if there is nothing to drop. */
    private boolean dropOldest(DropReport.Reason reason) throws IOException {
        if (segments.size() == 1) {
            if (current.size <= HEADER) {
                return false;
            }
            roll(Long.MAX_VALUE / 4);
            return true;
        }
        SegmentFile victim = segments.peekFirst();
        long fromSeq = victim.firstSeq;
        long firstTime = victim.firstTime;
        if (ackPos.segment() == victim.id && ackPos.offset() > HEADER) {
            fromSeq = Math.max(fromSeq, ackSeq);
            firstTime = timeAt(victim, ackPos.offset(), victim.firstTime);
        }
        long count = victim.firstSeq + victim.records - fromSeq;
        SegmentFile next = segments.stream().skip(1).findFirst().orElseThrow();
        SpoolPosition past = new SpoolPosition(next.id, HEADER, next.firstSeq);
        if (past.isAfter(ackPos)) {
            // The checkpoint moves first: a crash before the delete then finds an acknowledged segment, not a gap.
            Checkpoint.write(dir, past.segment(), past.offset());
            ackPos = past;
            ackSeq = Math.max(ackSeq, past.seq());
        }
        if (ackPos.isAfter(readPos)) {
            readPos = ackPos;
        }
        segments.removeFirst();
        victim.dropped = true;
        totalBytes -= victim.size;
        deleteFile(victim);
        knownFree = -1;
        if (count > 0) {
            droppedTotal += count;
            DropReport last = drops.isEmpty() ? null : drops.get(drops.size() - 1);
            if (last != null && last.reason() == reason) {
                drops.set(drops.size() - 1, new DropReport(last.count() + count, Math.min(last.firstTimeMillis(), firstTime),
                        Math.max(last.lastTimeMillis(), victim.lastTime), reason));
            } else {
                drops.add(new DropReport(count, firstTime, victim.lastTime, reason));
            }
            LOG.warn("spool {}: dropped {} unsent record(s) appended {}..{} ({})", dir, count, firstTime, victim.lastTime,
                    reason == DropReport.Reason.SIZE_CAP ? "size cap " + config.maxBytes() + " bytes reached"
                            : "free disk space below " + config.minFreeBytes() + " bytes");
        }
        return true;
    }

    /** The append time of the frame at {@code offset}, or {@code fallback} if it cannot be read. */
    private static long timeAt(SegmentFile seg, long offset, long fallback) {
        try (FileChannel ch = FileChannel.open(seg.path, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(FrameCodec.HEADER_BYTES);
            ch.read(b, offset);
            return b.position() == b.capacity() && b.getInt(0) == FrameCodec.MARKER ? FrameCodec.time(b, 0) : fallback;
        } catch (IOException e) {
            return fallback;
        }
    }

    private void deleteFile(SegmentFile seg) {
        try {
            Files.deleteIfExists(seg.path);
        } catch (IOException e) {
            // Harmless: the checkpoint already says it is done, so the next open deletes it.
            LOG.warn("spool {}: cannot delete {}: {}", dir, seg.path.getFileName(), e.toString());
        }
    }

    /** Deletes sealed segments that the acknowledged position has passed entirely. */
    private void deleteAcked() {
        while (segments.size() > 1) {
            SegmentFile s = segments.peekFirst();
            if (!(s.id < ackPos.segment() || (s.id == ackPos.segment() && ackPos.offset() >= s.size))) {
                return;
            }
            segments.removeFirst();
            s.dropped = true;
            totalBytes -= s.size;
            ackSeq = Math.max(ackSeq, s.firstSeq + s.records);
            deleteFile(s);
        }
    }

    /**
     * Reads up to {@code maxRecords} of the oldest records after the read cursor, at most
     * {@code maxBytes} of payload (but always at least one record if any is available), and moves
     * the cursor past them. Only durable records are returned. Reading again before
     * acknowledging continues after this batch; nothing is removed until {@link #ack}.
     */
    public SpoolBatch read(int maxRecords, long maxBytes) throws IOException {
        if (maxRecords < 1) {
            throw new IllegalArgumentException("maxRecords must be positive");
        }
        consumer.lock();
        try {
            List<SpoolRecord> acc = new ArrayList<>();
            long accBytes = 0;
            while (true) {
                SegmentFile seg;
                SpoolPosition start;
                long limit;
                List<long[]> skips;
                lock.lock();
                try {
                    if (closed) {
                        throw new IOException("spool " + dir + " is closed");
                    }
                    if (ackPos.isAfter(readPos)) {
                        readPos = ackPos;
                    }
                    seg = find(readPos.segment());
                    if (seg == null) {
                        SegmentFile first = segments.peekFirst();
                        readPos = new SpoolPosition(first.id, HEADER, first.firstSeq);
                        continue;
                    }
                    limit = seg == current ? seg.durableSize : seg.size;
                    if (readPos.offset() >= limit) {
                        if (seg == current) {
                            return new SpoolBatch(acc, readPos);
                        }
                        SegmentFile next = after(seg);
                        readPos = new SpoolPosition(next.id, HEADER, next.firstSeq);
                        continue;
                    }
                    start = readPos;
                    skips = new ArrayList<>(seg.skips);
                } finally {
                    lock.unlock();
                }
                Chunk chunk;
                try {
                    chunk = readFrames(seg, start, limit, skips, maxRecords - acc.size(), maxBytes - accBytes, acc.isEmpty());
                } catch (NoSuchFileException e) {
                    if (isDropped(seg)) {
                        continue; // dropped to make room while we were opening it
                    }
                    throw e;
                }
                lock.lock();
                try {
                    if (seg.dropped || !readPos.equals(start)) {
                        // A drop overtook this read: start again from the new oldest record, or hand
                        // out what we have (acking it is then a no-op, the ack is already past it).
                        if (acc.isEmpty()) {
                            continue;
                        }
                        return new SpoolBatch(acc, acc.get(acc.size() - 1).next());
                    }
                    seg.skips.addAll(chunk.newSkips);
                    corruptTotal += chunk.newSkips.size();
                    readPos = chunk.end;
                    acc.addAll(chunk.records);
                    for (SpoolRecord r : chunk.records) {
                        accBytes += r.payload().length;
                    }
                    boolean full = acc.size() >= maxRecords || chunk.end.offset() < limit;
                    if (!full || acc.isEmpty()) {
                        continue; // reached the end of a sealed segment (or only stepped over damage): go on with the next
                    }
                    return new SpoolBatch(acc, readPos);
                } finally {
                    lock.unlock();
                }
            }
        } finally {
            consumer.unlock();
        }
    }

    private boolean isDropped(SegmentFile seg) {
        lock.lock();
        try {
            return seg.dropped;
        } finally {
            lock.unlock();
        }
    }

    private record Chunk(List<SpoolRecord> records, SpoolPosition end, List<long[]> newSkips) {
    }

    /** Parses frames from {@code start} up to {@code limit}; called without the main lock. */
    private Chunk readFrames(SegmentFile seg, SpoolPosition start, long limit, List<long[]> skips, int maxRecords,
                             long maxBytes, boolean takeOne) throws IOException {
        FileChannel ch = readChannel(seg);
        List<SpoolRecord> out = new ArrayList<>(Math.min(maxRecords, 1024));
        List<long[]> newSkips = new ArrayList<>(0);
        int chunkSize = (int) Math.max(MIN_READ_CHUNK, Math.min(MAX_READ_CHUNK,
                Math.max(0, maxBytes) + (long) Math.min(maxRecords, 100_000) * FrameCodec.HEADER_BYTES));
        long pos = start.offset();
        long seq = start.seq();
        long bytes = 0;
        ByteBuffer buf = null;
        long bufStart = 0;
        while (out.size() < maxRecords && pos < limit) {
            long skipEnd = skipAt(skips, pos);
            if (skipEnd > pos) {
                pos = skipEnd;
                continue;
            }
            if (buf == null || pos + FrameCodec.HEADER_BYTES > bufStart + buf.limit()) {
                buf = load(ch, pos, limit, chunkSize);
                bufStart = pos;
            }
            int rel = (int) (pos - bufStart);
            if (buf.limit() - rel >= FrameCodec.HEADER_BYTES) {
                int len = FrameCodec.length(buf, rel);
                long frameEnd = pos + FrameCodec.HEADER_BYTES + (long) len;
                if (len >= 0 && len <= FrameCodec.MAX_PAYLOAD_BYTES && frameEnd <= limit && frameEnd > bufStart + buf.limit()) {
                    buf = load(ch, pos, limit, Math.max(chunkSize, FrameCodec.HEADER_BYTES + len));
                    bufStart = pos;
                    rel = 0;
                }
            }
            int frame = readCodec.validAt(buf, rel, buf.limit());
            if (frame < 0) {
                // Damaged after open (recovery checked everything before): step over it like recovery would.
                ByteBuffer rest = load(ch, pos, limit, (int) (limit - pos));
                int next = readCodec.findNext(rest, 1, rest.limit());
                long end = next < 0 ? limit : pos + next;
                newSkips.add(new long[] {pos, end});
                LOG.warn("spool {}: damaged record in {} at offset {}; skipped {} byte(s)", dir, seg.path.getFileName(), pos, end - pos);
                pos = end;
                buf = null;
                continue;
            }
            int len = frame - FrameCodec.HEADER_BYTES;
            if ((!out.isEmpty() || !takeOne) && bytes + len > maxBytes) {
                break;
            }
            out.add(new SpoolRecord(new SpoolPosition(seg.id, pos, seq), new SpoolPosition(seg.id, pos + frame, seq + 1),
                    FrameCodec.time(buf, rel), FrameCodec.payload(buf, rel)));
            bytes += len;
            pos += frame;
            seq++;
        }
        return new Chunk(out, new SpoolPosition(seg.id, pos, seq), newSkips);
    }

    private static long skipAt(List<long[]> skips, long pos) {
        for (long[] s : skips) {
            if (s[0] == pos) {
                return s[1];
            }
        }
        return -1;
    }

    private static ByteBuffer load(FileChannel ch, long pos, long limit, int size) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate((int) Math.min(limit - pos, size));
        while (buf.hasRemaining()) {
            if (ch.read(buf, pos + buf.position()) < 0) {
                break;
            }
        }
        buf.flip();
        return buf;
    }

    private FileChannel readChannel(SegmentFile seg) throws IOException {
        if (readChannelSegment != seg.id || readChannel == null) {
            closeReadChannel();
            readChannel = FileChannel.open(seg.path, StandardOpenOption.READ);
            readChannelSegment = seg.id;
        }
        return readChannel;
    }

    private void closeReadChannel() {
        if (readChannel != null) {
            try {
                readChannel.close();
            } catch (IOException ignored) {
                // read-only channel: nothing to lose
            }
            readChannel = null;
            readChannelSegment = -1;
        }
    }

    private SegmentFile find(long id) {
        for (SegmentFile s : segments) {
            if (s.id == id) {
                return s;
            }
        }
        return null;
    }

    private SegmentFile after(SegmentFile seg) {
        boolean found = false;
        for (SegmentFile s : segments) {
            if (found) {
                return s;
            }
            found = s == seg;
        }
        throw new IllegalStateException("no segment after " + seg.id);
    }

    /**
     * Acknowledges every record before {@code upTo} (a {@link SpoolRecord#next()} or
     * {@link SpoolBatch#end()}): the checkpoint is made durable, then fully acknowledged segments
     * are deleted. Acks must come in order; an ack behind the current one (for example overtaken
     * by a drop) is ignored.
     */
    public void ack(SpoolPosition upTo) throws IOException {
        lock.lock();
        try {
            if (closed) {
                throw new IOException("spool " + dir + " is closed");
            }
            if (!upTo.isAfter(ackPos)) {
                return;
            }
            if (upTo.isAfter(readPos)) {
                throw new IllegalArgumentException("cannot acknowledge " + upTo + ": records were read only up to " + readPos);
            }
            Checkpoint.write(dir, upTo.segment(), upTo.offset());
            ackPos = upTo;
            ackSeq = Math.max(ackSeq, upTo.seq());
            deleteAcked();
        } finally {
            lock.unlock();
        }
    }

    /** Drop reports since the last call (consecutive drops for the same reason are merged). */
    public List<DropReport> drainDropped() {
        lock.lock();
        try {
            List<DropReport> out = List.copyOf(drops);
            drops.clear();
            return out;
        } finally {
            lock.unlock();
        }
    }

    public SpoolStats stats() {
        lock.lock();
        try {
            long pendingBytes = 0;
            long oldest = -1;
            for (SegmentFile s : segments) {
                long from = s.id == ackPos.segment() ? ackPos.offset() : HEADER;
                pendingBytes += Math.max(0, s.size - from);
                if (oldest < 0 && s.size > from && s.records > 0) {
                    oldest = from > HEADER ? timeAt(s, from, s.firstTime) : s.firstTime;
                }
            }
            return new SpoolStats(nextSeq - ackSeq, pendingBytes, oldest, segments.size(), droppedTotal, corruptTotal, forces);
        } finally {
            lock.unlock();
        }
    }

    /** For tests: how often free space is re-read. */
    void recheckFreeSpaceEvery(long bytes) {
        lock.lock();
        try {
            freeRecheckBytes = bytes;
        } finally {
            lock.unlock();
        }
    }

    /** Number of data fsyncs so far (group commits and segment seals). */
    public long forceCount() {
        lock.lock();
        try {
            return forces;
        } finally {
            lock.unlock();
        }
    }

    private void checkUsable() throws IOException {
        if (closed) {
            throw new IOException("spool " + dir + " is closed");
        }
        if (failure != null) {
            throw new IOException("spool " + dir + " failed to write earlier and must be reopened: " + failure, failure);
        }
    }

    private void fail(IOException e) {
        if (failure == null) {
            failure = e;
            LOG.error("spool {}: write failed, appends refused until it is reopened: {}", dir, e.toString());
        }
    }

    /** Makes anything still buffered durable, then releases the files and the directory lock. */
    @Override
    public void close() throws IOException {
        lock.lock();
        try {
            if (closed) {
                return;
            }
            while (flushing) {
                changed.awaitUninterruptibly();
            }
            try {
                if (failure == null && pending.position() > 0) {
                    pending.flip();
                    while (pending.hasRemaining()) {
                        current.fileSize += current.channel.write(pending, current.fileSize);
                    }
                    current.channel.force(false);
                    forces++;
                    current.durableSize = current.fileSize;
                    durableSeq = nextSeq;
                }
            } finally {
                closed = true;
                changed.signalAll();
                current.channel.close();
            }
        } finally {
            lock.unlock();
        }
        consumer.lock();
        try {
            closeReadChannel();
        } finally {
            consumer.unlock();
        }
        dirLock.close();
    }
}
