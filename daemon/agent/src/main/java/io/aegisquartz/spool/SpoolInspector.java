package io.aegisquartz.spool;

import io.aegisquartz.lock.ProcessLock;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.zip.CRC32C;

/**
 * A read-only look at a spool directory (docs/SPOOL.md), for {@code aegis-quartz spool stat|verify}.
 *
 * <p>It applies the recovery rules of {@link Spool#open} without acting on them: it never takes the
 * directory lock and never creates, modifies, renames, truncates or deletes a file, so it can run
 * while the agent owns the spool. What it reports is what the agent's next open would find (a
 * torn tail the agent would truncate, a segment it would set aside, ...). Against a running agent
 * it is a snapshot: segments acknowledged or dropped during the scan are simply not counted, and
 * bytes at the end of the newest segment may be a write still in progress (reported as a note, not
 * a problem).
 */
public final class SpoolInspector {

    /** Samples the receiver rejected, written by the single-reader version (one JSON line each); kept, counted, never written now. */
    public static final String DEAD_LETTER_FILE = "dead-letter.jsonl";

    /** Samples output {@code name}'s backend rejected, one JSON line each (written by its worker). */
    public static String deadLetterFile(String name) {
        return "dead-letter-" + name + ".jsonl";
    }

    private static final int HEADER = SegmentFile.HEADER_BYTES;
    /** Segments above this cannot be read into one buffer; Spool's recovery has the same limit. */
    private static final long MAX_SEGMENT_READ = Integer.MAX_VALUE - 16;

    private SpoolInspector() {
    }

    /** A damaged byte range inside a segment: [offset, offset + length). */
    public record Region(long offset, long length, String reason) {
    }

    /**
     * One {@code seg-*.spool} file.
     *
     * @param size            file size when read
     * @param records         valid frames
     * @param validBytes      bytes of the valid frames (frame headers included, segment header not)
     * @param corrupt         damaged regions followed by a valid frame (each normally one record)
     * @param tornTailOffset  where a tail without any valid frame starts, or -1
     * @param tornTailBytes   its length (the agent truncates it at its next start)
     * @param headerProblem   why the header is unusable (the agent would set the file aside), or null
     * @param acknowledged    wholly before the checkpoint (the agent deletes it at its next start)
     * @param pendingRecords  records not yet acknowledged
     * @param pendingBytes    bytes from the acknowledged position to the end of the last valid frame
     * @param firstTimeMillis append time of the first valid record, -1 if none
     * @param lastTimeMillis  append time of the last valid record, -1 if none
     */
    public record Segment(long id, Path file, long size, long records, long validBytes, List<Region> corrupt,
                          long tornTailOffset, long tornTailBytes, String headerProblem, boolean acknowledged,
                          long pendingRecords, long pendingBytes, long firstTimeMillis, long lastTimeMillis) {

        public String name() {
            return file.getFileName().toString();
        }
    }

    /**
     * One output's cursor checkpoint ({@code NAME.cursor}) and what it has pending.
     *
     * @param problem                 why the checkpoint is unusable (the agent then delivers everything
     *                                in the segments to this output again), or null
     * @param segment                 its segment id, -1 unless valid
     * @param offset                  its byte offset, -1 unless valid
     * @param ackOffset               the record boundary the agent derives from it (-1 if its segment is gone)
     * @param pendingRecords          records this output has not had acknowledged
     * @param pendingBytes            their bytes, from its position to the end of the data
     * @param oldestPendingTimeMillis append time of the oldest of them, -1 if none
     * @param dropped                 records this output lost to drops since its cursor was created
     * @param dropsUndelivered        of those, records whose {@code dropped} report it has not yet delivered
     * @param deadLetters             lines in its {@code dead-letter-NAME.jsonl}, -1 if there is no such file
     */
    public record Cursor(String name, String problem, long segment, long offset, long ackOffset, long pendingRecords,
                         long pendingBytes, long oldestPendingTimeMillis, long dropped, long dropsUndelivered, long deadLetters) {
        public boolean valid() {
            return segment >= 0;
        }
    }

    /**
     * The checkpoint file of a spool written by the single-reader version ({@code checkpoint}); the
     * agent hands it to its {@code aegis} output at the next start (docs/SPOOL.md).
     *
     * @param present   the file exists
     * @param problem   why it would be ignored (then nothing counts as acknowledged), or null
     * @param segment   its segment id, -1 unless valid
     * @param offset    its byte offset, -1 unless valid
     * @param ackOffset the acknowledged position the agent derives from it in that segment (the end
     *                  of the last valid frame or corrupt region at or before {@code offset}); -1 if
     *                  the segment does not exist
     */
    public record CheckpointInfo(boolean present, String problem, long segment, long offset, long ackOffset) {
        public boolean valid() {
            return segment >= 0;
        }
    }

    /**
     * Whether a process owns the spool (holds the OS lock on {@code spool.lock}).
     *
     * @param pid  the owner's pid if known, else -1
     * @param how  how this was found out, for people
     */
    public record Owner(boolean owned, long pid, String how) {
    }

    /**
     * Something wrong on disk.
     *
     * @param file   the file's name within the spool directory (or the directory's name)
     * @param offset byte offset in that file, -1 if the problem is not at one place
     */
    public record Problem(String file, long offset, String kind, String message) {

        /** "FILE: offset N: message" */
        public String format() {
            return file + (offset >= 0 ? ": offset " + offset : "") + ": " + message;
        }
    }

    /**
     * Everything found.
     *
     * @param exists                  the directory exists (if not, everything else is empty)
     * @param checkpoint              the single-reader version's checkpoint, if the spool still has one
     * @param cursors                 the outputs' checkpoints, by name
     * @param segments                {@code seg-*.spool} files, ascending id
     * @param pendingRecords          records not yet acknowledged by the slowest reader (what the agent would still keep)
     * @param pendingBytes            bytes from the slowest reader's position to the end of the data
     * @param oldestPendingTimeMillis append time of the oldest record some reader has pending, -1 if none
     * @param setAside                {@code *.bad} segments (records in them are not delivered)
     * @param missingSegments         ids that should exist but exist neither as segment nor as .bad
     * @param tempFiles               {@code *.tmp} files (a write in progress, or left by a crash)
     * @param deadLetters             lines in the single-reader version's {@code dead-letter.jsonl}, -1 if there is no such file
     * @param incomingEvents          event files waiting in {@code incoming/}
     * @param incomingBad             files in {@code incoming/} set aside as unreadable
     * @param problems                damage, in file order (what {@code verify} fails on)
     * @param notes                   findings that are not damage
     */
    public record Report(Path dir, boolean exists, Owner owner, CheckpointInfo checkpoint, List<Cursor> cursors, List<Segment> segments,
                         long pendingRecords, long pendingBytes, long oldestPendingTimeMillis, List<Path> setAside,
                         List<Long> missingSegments, List<Path> tempFiles, long deadLetters, int incomingEvents,
                         int incomingBad, List<Problem> problems, List<String> notes) {

        public long records() {
            return segments.stream().mapToLong(Segment::records).sum();
        }

        public long bytes() {
            return segments.stream().mapToLong(Segment::size).sum();
        }
    }

    /** Scans {@code dir}; a directory that does not exist gives an empty report with {@code exists} false. */
    public static Report inspect(Path dir) throws IOException {
        Owner noOwner = new Owner(false, -1, "no spool directory");
        if (!Files.isDirectory(dir)) {
            return new Report(dir, false, noOwner, new CheckpointInfo(false, null, -1, -1, -1), List.of(), List.of(), 0, 0, -1,
                    List.of(), List.of(), List.of(), -1, 0, 0, List.of(), List.of());
        }
        Owner owner = owner(dir);
        List<Problem> problems = new ArrayList<>();
        List<String> notes = new ArrayList<>();

        TreeMap<Long, Path> files = new TreeMap<>();
        TreeSet<Long> seen = new TreeSet<>();
        List<Path> setAside = new ArrayList<>();
        List<Path> temps = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                String name = p.getFileName().toString();
                if (name.endsWith(".tmp")) {
                    temps.add(p);
                    continue;
                }
                if (!name.startsWith("seg-")) {
                    continue;
                }
                long id = SegmentFile.idOf(p);
                if (id >= 0) {
                    files.put(id, p);
                    seen.add(id);
                } else if (name.length() >= 24 && name.substring(4, 24).chars().allMatch(Character::isDigit)) {
                    seen.add(Long.parseLong(name.substring(4, 24)));
                    if (name.contains(".bad")) {
                        setAside.add(p);
                    }
                }
            }
        }
        setAside.sort(null);
        temps.sort(null);
        // The listing first, then the checkpoints: the agent writes checkpoints before it deletes
        // segments, so any segment missing from the listing because the agent deleted it is covered by
        // the checkpoints read afterwards and is not mistaken for a lost one. Segments are read after
        // the checkpoints, so they hold at least the data those refer to.
        boolean ckPresent = Files.exists(dir.resolve(Checkpoint.FILE));
        Checkpoint.Read ck = ckPresent ? Checkpoint.read(dir) : new Checkpoint.Read(-1, -1, null);
        Map<String, CursorFile.Read> cursorFiles = CursorFile.readAll(dir);
        if (ck.problem() != null) {
            problems.add(new Problem(Checkpoint.FILE, -1, "checkpoint", "unusable (" + ck.problem()
                    + "); the agent ignores it, so every record in the segments is delivered again"));
        }
        for (var e : cursorFiles.entrySet()) {
            if (!e.getValue().valid()) {
                problems.add(new Problem(e.getKey() + CursorFile.SUFFIX, -1, "checkpoint", "unusable (" + e.getValue().problem()
                        + "); the agent ignores it, so every record in the segments is delivered to output " + e.getKey() + " again"));
            }
        }
        for (Path p : setAside) {
            problems.add(new Problem(p.getFileName().toString(), -1, "set-aside",
                    "segment set aside earlier as unreadable; its records are not delivered (inspect it, then delete it)"));
        }

        // Readers: every cursor, and the old checkpoint while one is there. A reader without a usable
        // position reads from the oldest record; with none at all, everything is pending.
        Map<String, long[]> readers = new LinkedHashMap<>(); // name -> {segment, offset}, {-1, -1} for "from the oldest"
        if (ckPresent) {
            readers.put(LEGACY_READER, new long[] {ck.valid() ? ck.segment() : -1, ck.valid() ? ck.offset() : -1});
        }
        cursorFiles.forEach((name, read) -> readers.put(name,
                read.valid() ? new long[] {read.state().segment(), read.state().offset()} : new long[] {-1, -1}));
        long floor = readers.isEmpty() ? -1 : Long.MAX_VALUE;
        for (long[] pos : readers.values()) {
            floor = Math.min(floor, pos[0]);
        }

        long newest = files.isEmpty() ? -1 : files.lastKey();
        FrameCodec codec = new FrameCodec();
        List<Segment> segments = new ArrayList<>();
        List<Scanned> scans = new ArrayList<>();
        Map<String, Long> ackOffsets = new LinkedHashMap<>();
        for (var e : files.entrySet()) {
            long id = e.getKey();
            boolean acked = floor >= 0 && id < floor;
            List<String> here = new ArrayList<>();
            for (var r : readers.entrySet()) {
                if (r.getValue()[0] == id) {
                    here.add(r.getKey());
                }
            }
            long[] offsets = here.stream().mapToLong(n -> readers.get(n)[1]).toArray();
            Scanned s;
            try {
                s = scan(e.getValue(), id, offsets, codec);
            } catch (NoSuchFileException gone) {
                notes.add(e.getValue().getFileName() + " was deleted during the scan (acknowledged or dropped by the agent)");
                continue;
            } catch (IOException io) {
                problems.add(new Problem(e.getValue().getFileName().toString(), -1, "unreadable", "cannot read: " + io));
                continue;
            }
            s.id = id;
            String name = e.getValue().getFileName().toString();
            if (acked) {
                // Recovery deletes it unread; damage in it costs nothing, so it is only noted.
                notes.add(name + " lies wholly before every checkpoint; the agent deletes it at its next start"
                        + (s.headerProblem != null || !s.corrupt.isEmpty() || s.tornBytes > 0 ? " (it is damaged, which no longer matters)" : ""));
            } else if (s.headerProblem != null) {
                problems.add(new Problem(name, 0, "header", "unusable segment header (" + s.headerProblem
                        + "); the agent sets the file aside as " + name + ".bad at its next start and its records are lost"));
            } else {
                for (Region r : s.corrupt) {
                    problems.add(new Problem(name, r.offset(), "corrupt", "corrupt region of " + r.length() + " byte(s) (" + r.reason()
                            + "); the next valid record starts at offset " + (r.offset() + r.length())));
                }
                if (s.tornBytes > 0 && owner.owned() && id == newest) {
                    notes.add(name + ": offset " + s.tornOffset + ": " + s.tornBytes + " byte(s) after the last complete record ("
                            + s.tornReason + "); the spool is in use, so this may be a write in progress");
                } else if (s.tornBytes > 0) {
                    problems.add(new Problem(name, s.tornOffset, "torn-tail", "torn tail of " + s.tornBytes + " byte(s) after the last"
                            + " valid record (" + s.tornReason + "); the agent truncates it at its next start"));
                }
                long dataEnd = s.size - s.tornBytes;
                for (int i = 0; i < here.size(); i++) {
                    String reader = here.get(i);
                    long offset = offsets[i];
                    ackOffsets.put(reader, s.boundaries[i]);
                    String file = reader.equals(LEGACY_READER) ? Checkpoint.FILE : reader + CursorFile.SUFFIX;
                    if (offset > dataEnd) {
                        problems.add(new Problem(file, -1, "checkpoint", "points at offset " + offset + " of " + name
                                + ", beyond its last valid record (offset " + dataEnd + "); the agent takes offset " + s.boundaries[i]
                                + " as acknowledged"));
                    } else if (offset != s.boundaries[i]) {
                        problems.add(new Problem(file, -1, "checkpoint", "offset " + offset + " in " + name
                                + " is not at a record boundary; the agent takes offset " + s.boundaries[i] + " as acknowledged"));
                    }
                }
            }
            if (s.headerProblem != null) {
                segments.add(new Segment(id, e.getValue(), s.size, 0, 0, List.of(), -1, 0, s.headerProblem, acked, 0, 0, -1, -1));
                continue;
            }
            scans.add(s);
            long from = acked ? Long.MAX_VALUE : id == floor ? minBoundary(readers, ackOffsets, id) : HEADER;
            Pending p = pending(s, from);
            segments.add(new Segment(id, e.getValue(), s.size, s.frameOffsets.size(), s.validBytes, List.copyOf(s.corrupt),
                    s.tornBytes > 0 ? s.tornOffset : -1, s.tornBytes, null, acked, p.records, p.bytes,
                    s.frameTimes.isEmpty() ? -1 : s.frameTimes.get(0),
                    s.frameTimes.isEmpty() ? -1 : s.frameTimes.get(s.frameTimes.size() - 1)));
        }
        // (A running agent may have started and acknowledged into a newer segment since the listing.)
        if (ck.valid() && !files.isEmpty() && ck.segment() > files.lastKey() && !owner.owned()) {
            problems.add(new Problem(Checkpoint.FILE, -1, "checkpoint", "refers to segment " + ck.segment()
                    + ", newer than every segment file; the agent would treat all of them as acknowledged"));
        }

        // Per reader: what it has pending. The slowest one's is the spool's.
        List<Cursor> cursors = new ArrayList<>();
        Pending slowest = readers.isEmpty() ? pendingFrom(scans, -1, HEADER) : new Pending();
        for (var r : readers.entrySet()) {
            long[] pos = r.getValue();
            Pending p = pos[0] < 0 ? pendingFrom(scans, -1, HEADER) : pendingFrom(scans, pos[0], ackOffsets.getOrDefault(r.getKey(), (long) HEADER));
            if (p.records > slowest.records || (p.records == slowest.records && p.bytes > slowest.bytes)) {
                slowest = p;
            }
            if (!r.getKey().equals(LEGACY_READER)) {
                CursorFile.Read read = cursorFiles.get(r.getKey());
                DropLedger ledger = read.valid() ? read.state().ledger() : null;
                cursors.add(new Cursor(r.getKey(), read.problem(), pos[0], pos[1], ackOffsets.getOrDefault(r.getKey(), -1L),
                        p.records, p.bytes, p.oldest, ledger == null ? 0 : ledger.total(), ledger == null ? 0 : ledger.undelivered(),
                        countLines(dir.resolve(deadLetterFile(r.getKey())))));
            }
        }

        List<Long> missing = Spool.missingIds(floor >= 0 && floor != Long.MAX_VALUE ? seen.tailSet(floor, true) : seen,
                floor >= 0 && floor != Long.MAX_VALUE ? floor : -1);
        for (long id : missing) {
            problems.add(new Problem(SegmentFile.name(id), -1, "missing", "segment missing; its records are lost"));
        }
        for (Path t : temps) {
            notes.add(t.getFileName() + ": temporary file (a write in progress, or left by a crash; the agent deletes it at its next start)");
        }

        long deadLetters = countLines(dir.resolve(DEAD_LETTER_FILE));
        int[] incoming = countIncoming(dir.resolve(EventInbox.INCOMING));
        if (incoming[1] > 0) {
            notes.add(incoming[1] + " file(s) in " + EventInbox.INCOMING + "/ set aside as unreadable (*.bad)");
        }
        CheckpointInfo ckInfo = new CheckpointInfo(ckPresent, ck.problem(), ck.valid() ? ck.segment() : -1,
                ck.valid() ? ck.offset() : -1, ck.valid() ? ackOffsets.getOrDefault(LEGACY_READER, -1L) : -1);
        return new Report(dir, true, owner, ckInfo, List.copyOf(cursors), List.copyOf(segments), slowest.records, slowest.bytes,
                slowest.oldest, List.copyOf(setAside), List.copyOf(missing), List.copyOf(temps), deadLetters, incoming[0], incoming[1],
                List.copyOf(problems), List.copyOf(notes));
    }

    /** Stands for the old single checkpoint among the readers; not a valid cursor name. */
    private static final String LEGACY_READER = "(checkpoint)";

    private static long minBoundary(Map<String, long[]> readers, Map<String, Long> ackOffsets, long segment) {
        long min = Long.MAX_VALUE;
        for (var r : readers.entrySet()) {
            if (r.getValue()[0] == segment) {
                min = Math.min(min, ackOffsets.getOrDefault(r.getKey(), (long) HEADER));
            }
        }
        return min == Long.MAX_VALUE ? HEADER : min;
    }

    private static final class Pending {
        long records;
        long bytes;
        long oldest = -1;
    }

    /** What a segment holds from offset {@code from} on. */
    private static Pending pending(Scanned s, long from) {
        Pending p = new Pending();
        for (int i = 0; i < s.frameOffsets.size(); i++) {
            if (s.frameOffsets.get(i) >= from && p.records++ == 0) {
                p.oldest = s.frameTimes.get(i);
            }
        }
        if (from != Long.MAX_VALUE) {
            p.bytes = Math.max(0, s.size - s.tornBytes - from);
        }
        return p;
    }

    /** What a reader at (segment, offset) has pending over all readable segments; segment -1: from the oldest. */
    private static Pending pendingFrom(List<Scanned> scans, long segment, long offset) {
        Pending total = new Pending();
        for (Scanned s : scans) {
            if (s.id < segment) {
                continue;
            }
            Pending p = pending(s, s.id == segment ? offset : HEADER);
            total.records += p.records;
            total.bytes += p.bytes;
            if (total.oldest < 0) {
                total.oldest = p.oldest;
            }
        }
        return total;
    }

    private static final class Scanned {
        long id;
        long size;
        String headerProblem;
        final List<Long> frameOffsets = new ArrayList<>();
        final List<Long> frameTimes = new ArrayList<>();
        long validBytes;
        final List<Region> corrupt = new ArrayList<>();
        long tornOffset = -1;
        long tornBytes;
        String tornReason;
        /** Per checkpoint offset asked about, the record boundary at or before it. */
        long[] boundaries;
    }

    /** Reads the whole segment read-only and classifies every byte after the header, as recovery would. */
    private static Scanned scan(Path path, long id, long[] ackOffsets, FrameCodec codec) throws IOException {
        Scanned s = new Scanned();
        s.boundaries = new long[ackOffsets.length];
        java.util.Arrays.fill(s.boundaries, HEADER);
        ByteBuffer buf;
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long length = ch.size();
            if (length > MAX_SEGMENT_READ) {
                s.size = length;
                s.headerProblem = "too large (" + length + " bytes)";
                return s;
            }
            buf = ByteBuffer.allocate((int) length);
            while (buf.hasRemaining() && ch.read(buf, buf.position()) >= 0) {
                // keep reading; a file that shrank meanwhile ends the loop at EOF
            }
            buf.flip();
        }
        s.size = buf.limit();
        s.headerProblem = SegmentFile.headerProblem(buf, id);
        if (s.headerProblem != null) {
            return s;
        }
        int end = buf.limit();
        int off = HEADER;
        while (off < end) {
            int len = codec.validAt(buf, off, end);
            if (len > 0) {
                s.frameOffsets.add((long) off);
                s.frameTimes.add(FrameCodec.time(buf, off));
                s.validBytes += len;
                off += len;
                for (int i = 0; i < ackOffsets.length; i++) {
                    if (ackOffsets[i] >= off) {
                        s.boundaries[i] = off;
                    }
                }
                continue;
            }
            String reason = whyInvalid(buf, off, end);
            int next = codec.findNext(buf, off + 1, end);
            if (next < 0) {
                s.tornOffset = off;
                s.tornBytes = end - off;
                s.tornReason = reason;
                break;
            }
            s.corrupt.add(new Region(off, next - off, reason));
            for (int i = 0; i < ackOffsets.length; i++) {
                if (ackOffsets[i] >= next) {
                    s.boundaries[i] = next;
                }
            }
            off = next;
        }
        return s;
    }

    /** Which check the frame at {@code off} fails, in words. */
    static String whyInvalid(ByteBuffer buf, int off, int end) {
        if (end - off < FrameCodec.HEADER_BYTES) {
            return "only " + (end - off) + " byte(s), less than a frame header";
        }
        if (buf.getInt(off) != FrameCodec.MARKER) {
            return String.format("no frame marker (found %08X)", buf.getInt(off));
        }
        int len = buf.getInt(off + 8);
        if (len < 0 || len > FrameCodec.MAX_PAYLOAD_BYTES) {
            return "impossible payload length " + len;
        }
        if (len > end - off - FrameCodec.HEADER_BYTES) {
            return "payload length " + len + " runs past the end of the file";
        }
        CRC32C crc = new CRC32C();
        crc.update(buf.array(), buf.arrayOffset() + off + 8, 12 + len);
        return String.format("frame CRC mismatch: stored %08X, computed %08X", buf.getInt(off + 4), (int) crc.getValue());
    }

    /** Newline-terminated lines (plus an unterminated last one); -1 if the file does not exist. */
    static long countLines(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            byte[] b = new byte[64 << 10];
            long lines = 0;
            int last = '\n';
            for (int n; (n = in.read(b)) > 0; ) {
                for (int i = 0; i < n; i++) {
                    if (b[i] == '\n') {
                        lines++;
                    }
                }
                last = b[n - 1];
            }
            return last == '\n' ? lines : lines + 1;
        } catch (NoSuchFileException e) {
            return -1;
        }
    }

    /** {waiting event files, files set aside as .bad} in incoming/. */
    private static int[] countIncoming(Path incoming) throws IOException {
        int[] n = new int[2];
        if (!Files.isDirectory(incoming)) {
            return n;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(incoming)) {
            for (Path p : ds) {
                String name = p.getFileName().toString();
                if (EventInbox.isEventFile(name)) {
                    n[0]++;
                } else if (EventInbox.isSetAside(name)) {
                    n[1]++;
                }
            }
        }
        return n;
    }

    // ---- ownership -------------------------------------------------------------------------

    /**
     * Who owns the spool, without disturbing the owner.
     *
     * <p>On Linux the kernel's lock table ({@code /proc/locks}) answers without opening
     * {@code spool.lock} at all. That matters: POSIX locks belong to a process, and closing
     * <em>any</em> descriptor of the file drops all of that process's locks on it, so probing the
     * file from inside the JVM that owns the spool would silently unlock it. Only where the table
     * is unavailable or ambiguous does this open the file read-only and try a shared lock, released
     * at once (an agent starting in that instant would be refused).
     */
    public static Owner owner(Path dir) {
        Path file = dir.resolve(Spool.LOCK_FILE);
        if (!Files.exists(file)) {
            return new Owner(false, -1, "no " + Spool.LOCK_FILE + " (the agent never opened this spool)");
        }
        long self = ProcessHandle.current().pid();
        try {
            long dev = (Long) Files.getAttribute(file, "unix:dev");
            long ino = (Long) Files.getAttribute(file, "unix:ino");
            List<String> lines = Files.readAllLines(Path.of("/proc/locks"), StandardCharsets.US_ASCII);
            String devText = String.format("%02x:%02x", major(dev), minor(dev));
            boolean inodeSeen = false;
            boolean selfHolds = false;
            for (String line : lines) {
                String[] f = line.trim().split("\\s+");
                if (f.length < 6 || line.contains("->")) {
                    continue; // a blocked waiter, not a holder
                }
                String[] where = f[5].split(":");
                if (where.length != 3 || !where[2].equals(Long.toString(ino))) {
                    continue;
                }
                long pid = parsePid(f[4]);
                if ((where[0] + ":" + where[1]).equalsIgnoreCase(devText)) {
                    return new Owner(true, pid > 0 ? pid : pidInFile(file), "lock table");
                }
                inodeSeen = true;
                selfHolds |= pid == self;
            }
            if (selfHolds) {
                return new Owner(true, self, "lock table");
            }
            if (!inodeSeen) {
                return new Owner(false, -1, "lock table");
            }
        } catch (IOException | RuntimeException e) {
            // No /proc/locks (not Linux) or no unix attributes: fall back to probing the file.
        }
        return probe(file);
    }

    /** The fallback: a shared lock tried and released at once. Never call it in the JVM that owns the spool. */
    static Owner probe(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            FileLock lock;
            try {
                lock = ch.tryLock(0, Long.MAX_VALUE, true);
            } catch (OverlappingFileLockException e) {
                return new Owner(true, ProcessHandle.current().pid(), "held by this process");
            }
            if (lock != null) {
                lock.release();
                return new Owner(false, -1, "lock probe");
            }
            ByteBuffer b = ByteBuffer.allocate(1024);
            ch.read(b, 0);
            return new Owner(true, ProcessLock.Holder.parse(new String(b.array(), 0, b.position(), StandardCharsets.UTF_8)).pid(), "lock probe");
        } catch (NoSuchFileException e) {
            return new Owner(false, -1, "no " + Spool.LOCK_FILE);
        } catch (IOException e) {
            return new Owner(false, -1, "cannot check " + file + ": " + e.getMessage());
        }
    }

    private static long pidInFile(Path file) {
        try {
            return ProcessLock.Holder.parse(Files.readString(file, StandardCharsets.UTF_8)).pid();
        } catch (IOException e) {
            return -1;
        }
    }

    private static long parsePid(String s) {
        try {
            return Long.parseLong(s);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** glibc's dev_t encoding, as /proc/locks prints it. */
    private static long major(long dev) {
        return ((dev >>> 8) & 0xfffL) | ((dev >>> 32) & ~0xfffL);
    }

    private static long minor(long dev) {
        return (dev & 0xffL) | ((dev >>> 12) & ~0xffL);
    }
}
