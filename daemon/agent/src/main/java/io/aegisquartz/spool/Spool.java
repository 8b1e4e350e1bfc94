package io.aegisquartz.spool;

import io.aegisquartz.lock.ProcessLock;
import io.aegisquartz.util.AtomicFiles;
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
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;

/**
 * A durable, size-capped log of opaque records on disk, read through named cursors (format and
 * rules: docs/SPOOL.md).
 *
 * <p>Writers call {@link #append}: it returns once the records are on stable storage, and
 * concurrent callers share one fsync (group commit). Each reader (one per output) has a
 * {@link SpoolCursor} with a checkpoint of its own; a segment is deleted once every cursor has
 * acknowledged past it. When the size cap or the free-disk minimum would be exceeded, the oldest
 * segment is dropped, and each cursor that had not yet read its records is charged exactly those,
 * in its own durable ledger, for its output to report; never silently.
 *
 * <p>Locking: one lock guards the in-memory state and is held only briefly, never across an fsync.
 * A group flush, a segment roll and a drop do their file I/O outside it (appenders wait for a roll
 * or a drop, readers, acknowledgements and stats do not); a cursor's checkpoint is written outside
 * it too, under that cursor's own write lock.
 *
 * <p>If writing or fsyncing a segment fails, the spool refuses further appends until it is reopened:
 * after a failed fsync the kernel may have discarded the dirty pages, so only a fresh recovery scan
 * knows what is really on disk.
 */
public final class Spool implements Closeable {

    /** The lock file that keeps one process per spool directory ({@link ProcessLock}). */
    public static final String LOCK_FILE = "spool.lock";

    private static final Logger LOG = LoggerFactory.getLogger("spool");
    private static final int HEADER = SegmentFile.HEADER_BYTES;
    private static final int MIN_READ_CHUNK = 64 << 10;
    private static final int MAX_READ_CHUNK = 8 << 20;
    /** Stands for the single-reader spool's checkpoint during recovery; not a valid cursor name. */
    private static final String LEGACY = "(checkpoint)";

    private final Path dir;
    private final SpoolConfig config;
    private final ProcessLock dirLock;
    private final SpoolConfig.FreeSpace freeSpace;
    private final LongSupplier clock;
    private final FrameCodec writeCodec = new FrameCodec();
    private final RecoveryReport report;

    /** Guards all state below. Held only briefly: never across a write+fsync. */
    private final ReentrantLock lock = new ReentrantLock();
    /** Appenders wait here: for their group's flush, or for a roll or drop to finish. */
    private final Condition changed = lock.newCondition();
    /** Readers wait here for new durable records. */
    private final Condition arrived = lock.newCondition();
    /** Oldest first; the last one is {@link #current}. */
    private final ArrayDeque<SegmentFile> segments = new ArrayDeque<>();
    private SegmentFile current;
    /** Frames encoded but not yet handed to the file; swapped with {@link #inFlight} by the group leader. */
    private ByteBuffer pending = ByteBuffer.allocateDirect(256 << 10);
    private ByteBuffer inFlight = ByteBuffer.allocateDirect(256 << 10);
    /** A group flush (or a roll) is writing outside the lock. */
    private boolean flushing;
    /** A roll or a drop is doing file I/O outside the lock; appenders wait for it. */
    private boolean exclusive;
    private IOException failure;
    private boolean closed;
    private long nextSeq;
    private long durableSeq;
    private long totalBytes;
    private long forces;
    private long corruptTotal;
    private long knownFree = -1;
    private long sinceFreeCheck;
    /** Free space is asked of the filesystem again after this many appended bytes (a syscall per append would cost too much). */
    private long freeRecheckBytes = 1 << 20;
    private final Map<String, SpoolCursor> cursors = new LinkedHashMap<>();

    private Spool(Path dir, SpoolConfig config, ProcessLock dirLock, Collection<String> names, String legacyHeir) throws IOException {
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
        this.report = recover(names, legacyHeir);
    }

    /**
     * Opens (creating if needed) the spool in {@code dir} with one cursor per name, repairing what a
     * crash or bad media left behind (see {@link #recoveryReport()}). A cursor with a checkpoint goes
     * on from it; a new one starts at the end of what is stored. Checkpoints of cursors not named are
     * deleted, freeing what only they held. The checkpoint of a spool written by a version with a
     * single reader (file {@code checkpoint}) becomes {@code legacyHeir}'s, if it is one of the names
     * and has no checkpoint of its own yet; else that backlog is released. Fails only if the directory
     * is unusable or owned by another process.
     *
     * @param names      cursor names, each matching {@code [a-z0-9][a-z0-9_-]{0,31}}
     * @param legacyHeir the cursor that takes over an old single checkpoint, or null
     */
    public static Spool open(Path dir, SpoolConfig config, Collection<String> names, String legacyHeir) throws IOException {
        for (String n : names) {
            if (!CursorFile.NAME.matcher(n).matches()) {
                throw new IllegalArgumentException("cursor name '" + n + "' must be 1-32 of a-z 0-9 _ - (starting with a letter or digit)");
            }
        }
        Files.createDirectories(dir);
        ProcessLock dirLock = ProcessLock.acquire(dir.resolve(LOCK_FILE), "spool directory " + dir);
        try {
            return new Spool(dir, config, dirLock, List.copyOf(new java.util.LinkedHashSet<>(names)), legacyHeir);
        } catch (IOException | RuntimeException e) {
            dirLock.close();
            throw e;
        }
    }

    public Path dir() {
        return dir;
    }

    /** What opening found and repaired. */
    public RecoveryReport recoveryReport() {
        return report;
    }

    /** The cursor named {@code name}, as opened. */
    public SpoolCursor cursor(String name) {
        SpoolCursor c = cursors.get(name);
        if (c == null) {
            throw new IllegalArgumentException("no cursor '" + name + "' in spool " + dir + "; opened with " + cursors.keySet());
        }
        return c;
    }

    /** Cursor names in the order given to {@link #open}. */
    public List<String> cursorNames() {
        return List.copyOf(cursors.keySet());
    }

    /** The largest record {@link #append} takes (depends on the segment size, docs/SPOOL.md). */
    public int maxRecordBytes() {
        return config.maxRecordBytes();
    }

    // ---- recovery ------------------------------------------------------------------------

    /** Where a cursor starts at open, before the segments are scanned. */
    private record Start(String name, long segment, long offset, DropLedger ledger, long sequence, boolean fromFile,
                         boolean oldest, boolean end) {
    }

    private RecoveryReport recover(Collection<String> names, String legacyHeir) throws IOException {
        // Temp files are renamed into place only once complete, so they never hold the only copy of anything.
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.tmp")) {
            for (Path p : ds) {
                Files.deleteIfExists(p);
            }
        }
        Map<String, CursorFile.Read> onDisk = CursorFile.readAll(dir);
        boolean legacyPresent = Files.exists(dir.resolve(Checkpoint.FILE));
        Checkpoint.Read legacy = legacyPresent ? Checkpoint.read(dir) : new Checkpoint.Read(-1, -1, null);
        boolean heirConfigured = legacyHeir != null && names.contains(legacyHeir);
        // The heir takes the old checkpoint over unless it already did (a crash came before the old file was deleted).
        String heir = legacyPresent && heirConfigured && !onDisk.containsKey(legacyHeir) ? legacyHeir : null;

        List<Start> starts = new ArrayList<>();
        Map<String, String> problems = new LinkedHashMap<>();
        for (String n : names) {
            CursorFile.Read r = onDisk.get(n);
            if (r != null && r.valid()) {
                CursorFile.State st = r.state();
                starts.add(new Start(n, st.segment(), st.offset(), st.ledger(), st.sequence(), true, false, false));
            } else if (r != null) {
                problems.put(n, r.problem());
                LOG.warn("spool {}: checkpoint of output {} ignored ({}): its records in existing segments are delivered again",
                        dir, n, r.problem());
                starts.add(new Start(n, -1, -1, new DropLedger(), 0, false, true, false));
            } else if (n.equals(heir) && legacy.valid()) {
                starts.add(new Start(n, legacy.segment(), legacy.offset(), new DropLedger(), 0, false, false, false));
            } else if (n.equals(heir)) {
                problems.put(n, "old checkpoint: " + legacy.problem());
                LOG.warn("spool {}: old checkpoint {} ignored ({}): records in existing segments are delivered again to output {}",
                        dir, dir.resolve(Checkpoint.FILE), legacy.problem(), n);
                starts.add(new Start(n, -1, -1, new DropLedger(), 0, false, true, false));
            } else {
                starts.add(new Start(n, -1, -1, new DropLedger(), 0, false, false, true));
            }
        }
        // Positions that are not kept cursors' but still say what is pending: removed cursors and an
        // old checkpoint nobody takes over. Counted exactly, then released.
        Map<String, Start> released = new LinkedHashMap<>();
        for (var e : onDisk.entrySet()) {
            if (!names.contains(e.getKey())) {
                CursorFile.State st = e.getValue().state();
                released.put(e.getKey(), st == null ? new Start(e.getKey(), -1, -1, null, 0, false, true, false)
                        : new Start(e.getKey(), st.segment(), st.offset(), null, 0, false, false, false));
            }
        }
        boolean legacyLeftover = legacyPresent && heirConfigured && heir == null;
        if (legacyPresent && !heirConfigured) {
            // Keyed by a name no cursor can have.
            released.put(LEGACY, legacy.valid() ? new Start(LEGACY, legacy.segment(), legacy.offset(), null, 0, false, false, false)
                    : new Start(LEGACY, -1, -1, null, 0, false, true, false));
        }
        List<Start> all = new ArrayList<>(starts);
        all.addAll(released.values());

        // Segments wholly before every checkpoint on disk were acknowledged by all; a crash came
        // between a checkpoint and the delete.
        long floor = Long.MAX_VALUE;
        for (Start st : all) {
            if (st.oldest) {
                floor = -1;
            } else if (!st.end && floor >= 0) {
                floor = Math.min(floor, st.segment);
            }
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
        Map<String, SpoolPosition> positions = new LinkedHashMap<>();
        for (var e : files.entrySet()) {
            long id = e.getKey();
            Path path = e.getValue();
            if (floor != Long.MAX_VALUE && id < floor) {
                Files.deleteIfExists(path);
                continue;
            }
            List<String> here = new ArrayList<>();
            List<Long> offsets = new ArrayList<>();
            for (Start st : all) {
                if (!st.oldest && !st.end && st.segment == id) {
                    here.add(st.name);
                    offsets.add(st.offset);
                }
            }
            SegmentFile.Scan scan = SegmentFile.recover(path, id, offsets.stream().mapToLong(Long::longValue).toArray(), writeCodec);
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
            for (int i = 0; i < here.size(); i++) {
                positions.put(here.get(i), new SpoolPosition(id, scan.boundaries[i], seg.firstSeq + scan.acked[i]));
            }
            segments.addLast(seg);
            totalBytes += seg.size;
        }
        long lowest = floor >= 0 && floor != Long.MAX_VALUE ? floor : -1;
        List<Long> missing = missingIds(lowest >= 0 ? seen.tailSet(lowest, true) : seen, lowest);
        if (!missing.isEmpty()) {
            LOG.warn("spool {}: segment(s) {} missing; their records are lost", dir, missing);
        }
        long newId = seen.isEmpty() ? 0 : seen.last() + 1;
        for (Start st : all) {
            if (!st.oldest && !st.end) {
                newId = Math.max(newId, st.segment + 1);
            }
        }
        current = SegmentFile.create(dir, newId, nextSeq);
        segments.addLast(current);
        totalBytes += current.size;
        durableSeq = nextSeq;
        corruptTotal = corrupt;

        Map<String, Long> pendingBy = new LinkedHashMap<>();
        List<String> added = new ArrayList<>();
        List<String> lostAtRisk = new ArrayList<>();
        for (Start st : starts) {
            SpoolPosition p = positionOf(st, positions);
            if (st.end) {
                added.add(st.name);
            }
            SpoolCursor c = new SpoolCursor(this, st.name, p, st.ledger);
            boolean riskLost = st.ledger.riskBecameDrops();
            if (riskLost) {
                lostAtRisk.add(st.name);
            }
            if (st.fromFile && !riskLost && p.segment() == st.segment && p.offset() == st.offset) {
                c.file = CursorFile.open(dir, st.name, st.sequence);
            } else {
                // New, taken over from the old checkpoint, repaired or moved: durable before anything is deleted.
                c.file = CursorFile.create(dir, st.name, CursorFile.body(p, st.ledger));
            }
            cursors.put(st.name, c);
            pendingBy.put(st.name, nextSeq - p.seq());
        }
        if (!lostAtRisk.isEmpty()) {
            LOG.warn("spool {}: output(s) {} stopped with records in flight that a drop had removed from the spool; "
                    + "they are reported as dropped", dir, lostAtRisk);
        }
        if (heir != null) {
            LOG.info("spool {}: the checkpoint of the single-reader spool is now output {}'s ({} record(s) pending)", dir, heir,
                    pendingBy.get(heir));
        }
        Map<String, Long> removed = new LinkedHashMap<>();
        long legacyReleased = -1;
        for (Start st : released.values()) {
            long pending = nextSeq - positionOf(st, positions).seq();
            if (st.name.equals(LEGACY)) {
                legacyReleased = pending;
                LOG.warn("spool {}: no output {} takes over the checkpoint of the single-reader spool; its {} pending record(s) "
                        + "are released", dir, legacyHeir == null ? "" : legacyHeir, pending);
            } else {
                removed.put(st.name, pending);
                Files.deleteIfExists(CursorFile.path(dir, st.name));
                Files.deleteIfExists(dir.resolve(st.name + InFlightMark.SUFFIX));
                LOG.warn("spool {}: output {} is no longer configured; its checkpoint is removed and its {} pending record(s) released",
                        dir, st.name, pending);
            }
        }
        if (legacyPresent) {
            if (legacyLeftover) {
                LOG.info("spool {}: output {} had already taken the old checkpoint over; deleting it", dir, legacyHeir);
            }
            Files.deleteIfExists(dir.resolve(Checkpoint.FILE));
        }
        if (legacyPresent || !removed.isEmpty()) {
            AtomicFiles.syncDir(dir);
        }
        release();
        return new RecoveryReport(recovered, pendingBy, corrupt, truncated, List.copyOf(setAside), List.copyOf(missing),
                heir != null || legacyReleased >= 0 ? legacy.problem() : null, problems, added, removed, heir, legacyReleased);
    }

    /** Where a start lands among the segments kept: its exact record boundary, the oldest record, or the end. */
    private SpoolPosition positionOf(Start st, Map<String, SpoolPosition> scanned) {
        if (st.end) {
            return new SpoolPosition(current.id, HEADER, current.firstSeq);
        }
        SegmentFile first = segments.peekFirst();
        if (st.oldest) {
            return new SpoolPosition(first.id, HEADER, first.firstSeq);
        }
        SpoolPosition p = scanned.get(st.name);
        if (p != null) {
            return p;
        }
        // Its segment is gone (acknowledged to its end, then deleted; or set aside): the next one kept.
        for (SegmentFile s : segments) {
            if (s.id > st.segment) {
                return new SpoolPosition(s.id, HEADER, s.firstSeq);
            }
        }
        return new SpoolPosition(current.id, HEADER, current.firstSeq);
    }

    /**
     * Segment ids are consecutive, so a gap between the lowest checkpoint's segment (or the oldest
     * file) and the newest file is a segment that vanished. A checkpoint's own segment may rightly be
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

    // ---- appending -----------------------------------------------------------------------

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
        long now = clock.getAsLong();
        lock.lock();
        try {
            awaitNoExclusive();
            // Rolls add segment headers; count them so the cap holds exactly for single records.
            long headers = current.size + need > config.segmentBytes() ? (need / (config.segmentBytes() - HEADER) + 1) * HEADER : 0;
            makeRoom(Math.min(need + headers, config.maxBytes()));
            for (int i = 0; i < n; i++) {
                byte[] r = single != null ? single : many.get(i);
                int frame = FrameCodec.frameBytes(r);
                roll(frame);
                if (totalBytes + frame > config.maxBytes()) {
                    makeRoom(frame); // an append larger than the cap: its own first records may go, counted
                }
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

    private void awaitNoExclusive() throws IOException {
        checkUsable();
        while (exclusive) {
            changed.awaitUninterruptibly();
            checkUsable();
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
            ByteBuffer buf = takePending();
            SegmentFile seg = current;
            long pos = seg.fileSize;
            long target = nextSeq;
            lock.unlock();
            long written = 0;
            IOException err = null;
            try {
                written = writeAll(seg.channel, buf, pos);
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
            arrived.signalAll();
        }
    }

    /** The frames encoded so far, for one writer to write outside the lock; appends go on into the other buffer. */
    private ByteBuffer takePending() {
        ByteBuffer buf = pending;
        pending = inFlight;
        inFlight = buf;
        return buf;
    }

    /** Writes the buffer's frames at {@code pos}; returns the bytes written. */
    private static long writeAll(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        long written = 0;
        buf.flip();
        while (buf.hasRemaining()) {
            written += ch.write(buf, pos + written);
        }
        return written;
    }

    /**
     * Starts a new segment if a frame of this size would not fit the current one (unless it is
     * empty). The old segment's buffered frames are written and forced and the new one created
     * outside the lock; appenders wait meanwhile, readers do not.
     */
    private void roll(long frame) throws IOException {
        if (current.size <= HEADER || current.size + frame <= config.segmentBytes()) {
            return;
        }
        while (flushing || exclusive) {
            changed.awaitUninterruptibly();
            checkUsable();
        }
        if (current.size <= HEADER || current.size + frame <= config.segmentBytes()) {
            return; // another thread rolled while we waited
        }
        SegmentFile old = current;
        flushing = true;
        exclusive = true;
        ByteBuffer buf = takePending();
        long target = nextSeq;
        long pos = old.fileSize;
        lock.unlock();
        long written = 0;
        SegmentFile next = null;
        IOException err = null;
        try {
            written = writeAll(old.channel, buf, pos);
            old.channel.force(false);
            old.channel.close();
            next = SegmentFile.create(dir, old.id + 1, target);
        } catch (IOException e) {
            err = e;
        } finally {
            buf.clear();
            lock.lock();
        }
        flushing = false;
        exclusive = false;
        changed.signalAll();
        if (err != null) {
            fail(err);
            throw new IOException("spool " + dir + ": cannot finish segment " + old.path.getFileName() + ": " + err, err);
        }
        forces++;
        old.channel = null;
        old.fileSize += written;
        old.durableSize = old.fileSize;
        durableSeq = Math.max(durableSeq, target);
        arrived.signalAll();
        current = next;
        segments.addLast(next);
        totalBytes += next.size;
        if (cursors.isEmpty()) {
            releaseLocked().forEach(this::deleteFile); // nobody reads: nothing is kept (unlinks only, no fsync)
        }
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
                if (reason == DropReport.Reason.SIZE_CAP) {
                    return; // a record as large as the cap: it gets the spool to itself
                }
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

    /**
     * Deletes the oldest segment; false if there is nothing to drop. Each cursor that had not read
     * all of it is charged exactly the records it had not read (first and last append time too) in
     * its ledger; records it had read but not acknowledged are in flight, delivered by its output,
     * and only noted as at risk. Every cursor's checkpoint is past the segment, durably, before the
     * file goes.
     */
    private boolean dropOldest(DropReport.Reason reason) throws IOException {
        while (exclusive) {
            changed.awaitUninterruptibly();
            checkUsable();
        }
        if (segments.size() == 1) {
            if (current.size <= HEADER) {
                return false;
            }
            roll(Long.MAX_VALUE / 4);
            return true;
        }
        exclusive = true;
        SegmentFile victim = segments.removeFirst();
        victim.dropped = true;
        totalBytes -= victim.size;
        SegmentFile next = segments.peekFirst();
        SpoolPosition past = new SpoolPosition(next.id, HEADER, next.firstSeq);
        long victimEnd = victim.firstSeq + victim.records;
        long lost = 0;
        List<SpoolCursor> moved = new ArrayList<>();
        for (SpoolCursor c : cursors.values()) {
            if (!past.isAfter(c.ackPos)) {
                continue;
            }
            long readSeq = clamp(c.readPos.seq(), victim.firstSeq, victimEnd);
            long ackSeq = clamp(c.ackPos.seq(), victim.firstSeq, victimEnd);
            boolean readInside = c.readPos.segment() == victim.id;
            boolean ackInside = c.ackPos.segment() == victim.id;
            long dropped = victimEnd - readSeq;
            if (dropped > 0) {
                long first = readInside && c.readPos.offset() > HEADER ? timeAt(victim, c.readPos.offset(), victim.firstTime) : victim.firstTime;
                c.ledger.dropped(reason, dropped, first, victim.lastTime);
                lost = Math.max(lost, dropped);
                LOG.warn("spool {}: dropped {} record(s) not yet sent to output {}, appended {}..{} ({})", dir, dropped, c.name(),
                        first, victim.lastTime, reason == DropReport.Reason.SIZE_CAP ? "size cap " + config.maxBytes() + " bytes reached"
                                : "free disk space below " + config.minFreeBytes() + " bytes");
            }
            long inFlightCount = readSeq - ackSeq;
            if (inFlightCount > 0) {
                long first = ackInside && c.ackPos.offset() > HEADER ? timeAt(victim, c.ackPos.offset(), victim.firstTime) : victim.firstTime;
                long last = readInside ? c.lastReadTime : victim.lastTime;
                c.ledger.atRisk(reason, inFlightCount, first, last, readInside ? c.readPos : past);
            }
            c.ackPos = past;
            if (past.isAfter(c.readPos)) {
                c.readPos = past;
            }
            c.version++;
        }
        for (SpoolCursor c : cursors.values()) {
            if (past.isAfter(c.durableAck)) {
                moved.add(c);
            }
        }
        lock.unlock();
        IOException err = null;
        try {
            for (SpoolCursor c : moved) {
                persist(c);
            }
        } catch (IOException e) {
            err = e;
        }
        if (err == null) {
            deleteFile(victim);
        }
        lock.lock();
        exclusive = false;
        changed.signalAll();
        knownFree = -1;
        if (err != null) {
            // The segment stays on disk: a checkpoint could not say it is gone. Refuse appends until reopened.
            fail(err);
            throw new IOException("spool " + dir + ": cannot record a drop in a checkpoint: " + err, err);
        }
        return true;
    }

    private static long clamp(long v, long lo, long hi) {
        return Math.max(lo, Math.min(hi, v));
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
            // Harmless: every checkpoint already says it is done, so the next open deletes it.
            LOG.warn("spool {}: cannot delete {}: {}", dir, seg.path.getFileName(), e.toString());
        }
    }

    // ---- checkpoints and releasing segments ---------------------------------------------

    /** Makes {@code c}'s current state durable in its checkpoint file; called without the spool's lock. */
    private void persist(SpoolCursor c) throws IOException {
        c.writeLock.lock();
        try {
            byte[] body;
            long version;
            SpoolPosition at;
            lock.lock();
            try {
                if (c.durableVersion >= c.version) {
                    return;
                }
                body = CursorFile.body(c.ackPos, c.ledger);
                version = c.version;
                at = c.ackPos;
            } finally {
                lock.unlock();
            }
            c.file.write(body);
            lock.lock();
            try {
                c.durableVersion = version;
                c.durableAck = at;
            } finally {
                lock.unlock();
            }
        } finally {
            c.writeLock.unlock();
        }
    }

    /** Deletes sealed segments every cursor's durable checkpoint has passed. */
    private void release() {
        List<SegmentFile> gone;
        lock.lock();
        try {
            gone = releaseLocked();
        } finally {
            lock.unlock();
        }
        gone.forEach(this::deleteFile);
    }

    /** Takes them out of the list; the caller deletes the files. */
    private List<SegmentFile> releaseLocked() {
        List<SegmentFile> gone = new ArrayList<>(0);
        outer:
        while (segments.size() > 1) {
            SegmentFile s = segments.peekFirst();
            for (SpoolCursor c : cursors.values()) {
                SpoolPosition p = c.durableAck;
                if (!(s.id < p.segment() || (s.id == p.segment() && p.offset() >= s.size))) {
                    break outer;
                }
            }
            segments.removeFirst();
            s.dropped = true;
            totalBytes -= s.size;
            gone.add(s);
        }
        return gone;
    }

    void ack(SpoolCursor c, SpoolPosition upTo, List<DropReport> delivered) throws IOException {
        lock.lock();
        try {
            if (closed) {
                throw new IOException("spool " + dir + " is closed");
            }
            boolean change = false;
            if (upTo != null) {
                if (upTo.isAfter(c.ackPos)) {
                    if (upTo.isAfter(c.readPos)) {
                        throw new IllegalArgumentException("cannot acknowledge " + upTo + ": records were read only up to " + c.readPos);
                    }
                    c.ackPos = upTo;
                    change = true;
                }
                change |= c.ledger.acknowledged(upTo);
            }
            change |= !delivered.isEmpty() && c.ledger.delivered(delivered);
            if (!change) {
                return;
            }
            c.version++;
        } finally {
            lock.unlock();
        }
        persist(c);
        release();
    }

    List<DropReport> takeDrops(SpoolCursor c) throws IOException {
        List<DropReport> out;
        boolean[] changed = new boolean[1];
        lock.lock();
        try {
            out = c.ledger.take(changed);
            if (changed[0]) {
                c.version++;
            }
            // A report frozen by a read may not be durable yet: it is, before it is handed out.
            changed[0] |= !out.isEmpty() && c.durableVersion < c.version;
        } finally {
            lock.unlock();
        }
        if (changed[0]) {
            persist(c);
        }
        return out;
    }

    // ---- reading -------------------------------------------------------------------------

    SpoolTail tail() {
        lock.lock();
        try {
            SpoolPosition end = new SpoolPosition(current.id, current.durableSize, durableSeq);
            return new SpoolTail(this, new SpoolCursor(this, "tail", end, new DropLedger()));
        } finally {
            lock.unlock();
        }
    }

    boolean hasUnread(SpoolCursor c) {
        lock.lock();
        try {
            return unreadLocked(c);
        } finally {
            lock.unlock();
        }
    }

    private boolean unreadLocked(SpoolCursor c) {
        SpoolPosition from = c.ackPos.isAfter(c.readPos) ? c.ackPos : c.readPos;
        return from.seq() < durableSeq;
    }

    boolean awaitUnread(SpoolCursor c, long nanos) throws InterruptedException {
        lock.lock();
        try {
            long left = nanos;
            while (!closed && !c.woken && !unreadLocked(c)) {
                if (left <= 0) {
                    return false;
                }
                left = arrived.awaitNanos(left);
            }
            c.woken = false;
            return !closed && unreadLocked(c);
        } finally {
            lock.unlock();
        }
    }

    void wakeUp(SpoolCursor c) {
        lock.lock();
        try {
            c.woken = true;
            arrived.signalAll();
        } finally {
            lock.unlock();
        }
    }

    SpoolBatch read(SpoolCursor c, int maxRecords, long maxBytes) throws IOException {
        if (maxRecords < 1) {
            throw new IllegalArgumentException("maxRecords must be positive");
        }
        c.readLock.lock();
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
                    boolean[] frozen = new boolean[1];
                    if (!c.ledger.beforeRead(frozen)) {
                        // A second gap while the first one's report is undelivered: reading past it would
                        // make the two one report spanning delivered records. Deliver the first one first.
                        return new SpoolBatch(acc, acc.isEmpty() ? c.readPos : acc.get(acc.size() - 1).next());
                    }
                    if (frozen[0]) {
                        c.version++;
                    }
                    if (c.ackPos.isAfter(c.readPos)) {
                        c.readPos = c.ackPos;
                    }
                    seg = find(c.readPos.segment());
                    if (seg == null) {
                        // Its segment was dropped (a tail's) or set aside: go on with the next one kept.
                        SegmentFile next = segments.stream().filter(x -> x.id > c.readPos.segment()).findFirst().orElse(current);
                        c.readPos = new SpoolPosition(next.id, HEADER, next.firstSeq);
                        continue;
                    }
                    limit = seg == current ? seg.durableSize : seg.size;
                    if (c.readPos.offset() >= limit) {
                        if (seg == current) {
                            return new SpoolBatch(acc, c.readPos);
                        }
                        SegmentFile next = after(seg);
                        c.readPos = new SpoolPosition(next.id, HEADER, next.firstSeq);
                        continue;
                    }
                    start = c.readPos;
                    skips = new ArrayList<>(seg.skips);
                } finally {
                    lock.unlock();
                }
                Chunk chunk;
                try {
                    chunk = readFrames(c, seg, start, limit, skips, maxRecords - acc.size(), maxBytes - accBytes, acc.isEmpty());
                } catch (NoSuchFileException e) {
                    if (isDropped(seg)) {
                        continue; // dropped to make room while we were opening it
                    }
                    throw e;
                }
                lock.lock();
                try {
                    if (seg.dropped || !c.readPos.equals(start)) {
                        // A drop overtook this read and charged these records to this cursor as dropped:
                        // they must not be handed out as well. What was read before them is in flight.
                        if (acc.isEmpty()) {
                            continue;
                        }
                        return new SpoolBatch(acc, acc.get(acc.size() - 1).next());
                    }
                    seg.skips.addAll(chunk.newSkips);
                    corruptTotal += chunk.newSkips.size();
                    c.readPos = chunk.end;
                    acc.addAll(chunk.records);
                    for (SpoolRecord r : chunk.records) {
                        accBytes += r.payload().length;
                    }
                    if (!chunk.records.isEmpty()) {
                        c.lastReadTime = chunk.records.get(chunk.records.size() - 1).timeMillis();
                    }
                    boolean full = acc.size() >= maxRecords || chunk.end.offset() < limit;
                    if (!full || acc.isEmpty()) {
                        continue; // reached the end of a sealed segment (or only stepped over damage): go on with the next
                    }
                    return new SpoolBatch(acc, c.readPos);
                } finally {
                    lock.unlock();
                }
            }
        } finally {
            c.readLock.unlock();
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
    private Chunk readFrames(SpoolCursor c, SegmentFile seg, SpoolPosition start, long limit, List<long[]> skips, int maxRecords,
                             long maxBytes, boolean takeOne) throws IOException {
        FileChannel ch = readChannel(c, seg);
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
            int frame = c.readCodec.validAt(buf, rel, buf.limit());
            if (frame < 0) {
                // Damaged after open (recovery checked everything before): step over it like recovery would.
                ByteBuffer rest = load(ch, pos, limit, (int) (limit - pos));
                int next = c.readCodec.findNext(rest, 1, rest.limit());
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

    private static FileChannel readChannel(SpoolCursor c, SegmentFile seg) throws IOException {
        if (c.readChannelSegment != seg.id || c.readChannel == null) {
            closeReadChannel(c);
            c.readChannel = FileChannel.open(seg.path, StandardOpenOption.READ);
            c.readChannelSegment = seg.id;
        }
        return c.readChannel;
    }

    private static void closeReadChannel(SpoolCursor c) {
        if (c.readChannel != null) {
            try {
                c.readChannel.close();
            } catch (IOException ignored) {
                // read-only channel: nothing to lose
            }
            c.readChannel = null;
            c.readChannelSegment = -1;
        }
    }

    void closeReader(SpoolCursor c) {
        c.readLock.lock();
        try {
            closeReadChannel(c);
        } finally {
            c.readLock.unlock();
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

    // ---- stats ---------------------------------------------------------------------------

    /** {@code c}'s acknowledged position (guarded by this spool's lock). */
    SpoolPosition acked(SpoolCursor c) {
        lock.lock();
        try {
            return c.ackPos;
        } finally {
            lock.unlock();
        }
    }

    CursorStats stats(SpoolCursor c) {
        SegmentFile at;
        long offset;
        long firstTime;
        long pendingRecords;
        long pendingBytes = 0;
        long dropped;
        long undelivered;
        lock.lock();
        try {
            SpoolPosition p = c.ackPos;
            pendingRecords = nextSeq - p.seq();
            at = null;
            offset = HEADER;
            firstTime = -1;
            for (SegmentFile s : segments) {
                long from = s.id == p.segment() ? p.offset() : s.id < p.segment() ? s.size : HEADER;
                pendingBytes += Math.max(0, s.size - from);
                if (at == null && s.size > from && s.records > 0) {
                    at = s;
                    offset = from;
                    firstTime = s.firstTime;
                }
            }
            dropped = c.ledger.total();
            undelivered = c.ledger.undelivered();
        } finally {
            lock.unlock();
        }
        // The oldest pending record's time: its segment's first, or one frame header read without the lock.
        long oldest = at == null || pendingRecords == 0 ? -1 : offset > HEADER ? timeAt(at, offset, firstTime) : firstTime;
        return new CursorStats(c.name(), pendingRecords, pendingBytes, oldest, dropped, undelivered);
    }

    /** Spool-wide figures; per-cursor ones are in {@link SpoolCursor#stats()}. */
    public SpoolStats stats() {
        lock.lock();
        try {
            return new SpoolStats(nextSeq, totalBytes, segments.size(), corruptTotal, forces);
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
            while (flushing || exclusive) {
                changed.awaitUninterruptibly();
            }
            try {
                if (failure == null && pending.position() > 0) {
                    current.fileSize += writeAll(current.channel, pending, current.fileSize);
                    current.channel.force(false);
                    forces++;
                    current.durableSize = current.fileSize;
                    durableSeq = nextSeq;
                }
            } finally {
                closed = true;
                changed.signalAll();
                arrived.signalAll();
                current.channel.close();
            }
        } finally {
            lock.unlock();
        }
        for (SpoolCursor c : cursors.values()) {
            closeReader(c);
            c.writeLock.lock();
            try {
                c.file.close();
            } finally {
                c.writeLock.unlock();
            }
        }
        dirLock.close();
    }
}
