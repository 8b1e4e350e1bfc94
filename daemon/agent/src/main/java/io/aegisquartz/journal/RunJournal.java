package io.aegisquartz.journal;

import io.aegisquartz.config.JobSpec;
import io.aegisquartz.plugin.FileStamp;
import io.aegisquartz.plugin.PluginKind;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * The journal of runs in progress, {@code STATE/runs.journal} (format: docs/JOURNAL.md): which job
 * each worker is running, written before a run starts and cleared once its samples are stored, so that
 * the next start can say which runs a dead agent interrupted, and name the one that killed it.
 *
 * <p>A fixed-size file the agent keeps open: a header slot and one slot per worker, each overwritten
 * in place with a CRC. A run costs two {@code write(2)} calls (the slot, then one byte to clear it), no
 * fsync and no allocation: what the page cache holds survives the death of the JVM, however it dies
 * (SIGKILL, {@code Runtime.halt}, an out-of-memory exit), which is all this journal is for. A crash of
 * the machine itself may lose the last seconds of it, which the checksums then show as unreadable
 * slots, never as runs that did not happen.
 *
 * <p>A shutdown hook marks the header when the JVM exits without the agent having asked (a plugin's
 * {@code System.exit}): it names the thread that called exit and the plugin code on its stack, and
 * the in-progress run that code belongs to.
 */
public final class RunJournal implements AutoCloseable {

    /** File name inside the state directory. */
    public static final String FILE = "runs.journal";
    /** "AQRJ" */
    static final int MAGIC = 0x4151524A;
    static final short VERSION = 1;
    static final int SLOT = 512;
    static final int CRC_AT = SLOT - 4;
    /** Bytes of a job name or plugin path kept in a slot (UTF-8, cut at a character boundary). */
    static final int TEXT_MAX = 200;
    static final int NAME_AT = 44;
    static final int PLUGIN_AT = NAME_AT + TEXT_MAX;
    static final int STAMP_AT = PLUGIN_AT + TEXT_MAX;
    static final int KEY_HASH_BYTES = 16;
    /** The header's culprit when the agent's own main thread called exit, with no plugin code on its stack. */
    public static final int AGENT_ITSELF = -2;

    /** How the previous agent's header says it ended. */
    public enum End {
        /** It stopped on request (a signal, its own restart) and marked the journal so. */
        STOPPED,
        /** Its shutdown hook ran without a stop request: someone called System.exit. */
        EXITED,
        /** Nothing was marked: SIGKILL, Runtime.halt, an out-of-memory exit, a crash of the JVM or the machine. */
        DIED,
        /** There was no journal: a first start, or one by an older version. */
        NONE,
        /** The header cannot be read (torn by a machine crash, or not a journal). */
        UNREADABLE
    }

    /**
     * A run that was in progress in the previous agent.
     *
     * @param kind        GROOVY or JAR (inside the agent's JVM), EXEC, or null if unknown
     * @param keyHash     hex of the first 16 bytes of SHA-256 of the job's key (its identity, which may hold secrets)
     * @param startMillis when the run started
     * @param stamp       the plugin file's stamp when the run started, null if unknown
     */
    public record Run(int slot, long runId, PluginKind kind, String job, String plugin, String keyHash, long startMillis, FileStamp stamp) {

        /** True for runs of code inside the agent's JVM, the only ones that can end it. */
        public boolean inJvm() {
            return kind == PluginKind.GROOVY || kind == PluginKind.JAR;
        }
    }

    /**
     * What the previous agent left.
     *
     * @param end         how it ended
     * @param pid         its process id (0 if unknown)
     * @param startMillis when it started (0 if unknown)
     * @param endMillis   when the header was last written (0 if unknown)
     * @param culprit     for EXITED: the slot whose plugin called exit, else -1
     * @param note        for EXITED: who called exit (thread and plugin code), else ""
     * @param runs        the runs in progress
     * @param unreadable  slots that hold something but fail their checksum
     */
    public record Previous(End end, long pid, long startMillis, long endMillis, int culprit, String note, List<Run> runs,
                           int unreadable) {
    }

    private final Path file;
    private final RandomAccessFile raf;
    private final int slots;
    private final long pid;
    private final long startMillis;
    /** Per slot: its bytes (written whole at begin), and what the exit hook needs to know about its run. */
    private final byte[][] slotBytes;
    private final ByteBuffer[] slotBuffers;
    private final MessageDigest[] digests;
    private final byte[][] digestBytes;
    private final CRC32C crc = new CRC32C();
    private final boolean[] busy;
    private final String[] jobOf;
    /** The plugin path of each slot's run and its kind: how the exit hook recognises its code on a stack. */
    private final String[] pluginOf;
    private final PluginKind[] kindOf;
    private final Thread hook;
    private final Previous previous;
    private long nextRunId;
    private boolean closed;
    private boolean hooked;
    private int overflow;

    private RunJournal(Path file, RandomAccessFile raf, int slots, Previous previous) {
        this.file = file;
        this.raf = raf;
        this.slots = slots;
        this.previous = previous;
        this.pid = ProcessHandle.current().pid();
        this.startMillis = System.currentTimeMillis();
        this.slotBytes = new byte[slots][SLOT];
        this.slotBuffers = new ByteBuffer[slots];
        for (int i = 0; i < slots; i++) {
            slotBuffers[i] = ByteBuffer.wrap(slotBytes[i]);
        }
        this.digests = new MessageDigest[slots];
        this.digestBytes = new byte[slots][32];
        for (int i = 0; i < slots; i++) {
            digests[i] = sha256();
        }
        this.busy = new boolean[slots];
        this.jobOf = new String[slots];
        this.pluginOf = new String[slots];
        this.kindOf = new PluginKind[slots];
        this.hook = new Thread(this::exiting, "aegis-journal-exit");
    }

    /**
     * Reads what the previous agent left in {@code stateDir/runs.journal}, then starts a fresh journal
     * there with {@code slots} run slots. The previous runs stay on disk until {@link #reset()}, so that
     * a crash before they are reported loses nothing.
     */
    public static RunJournal open(Path stateDir, int slots) throws IOException {
        Files.createDirectories(stateDir);
        Path file = stateDir.resolve(FILE);
        Previous previous = read(file);
        RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw");
        return new RunJournal(file, raf, slots, previous);
    }

    /** What the previous agent left (read at {@link #open}). */
    public Previous previous() {
        return previous;
    }

    public Path file() {
        return file;
    }

    /**
     * Forgets the previous agent's runs (once they are reported) and marks this agent as running: the
     * file is rewritten with a fresh header and free slots, at its final size.
     */
    public synchronized void reset() throws IOException {
        raf.setLength(0);
        raf.setLength((long) SLOT * (slots + 1));
        writeHeader(End.DIED, -1, "");
        if (!hooked) {
            // Only now: before, the file still held the previous agent's runs, which the hook must not relabel.
            Runtime.getRuntime().addShutdownHook(hook);
            hooked = true;
        }
    }

    /**
     * Records that {@code job} starts a run of a {@code kind} plugin now, and returns the slot to pass
     * to {@link #end}; -1 if every slot is taken (cannot happen with one slot per worker) or the journal
     * cannot be written, in which case the run simply goes unrecorded.
     */
    public int begin(JobSpec job, PluginKind kind, FileStamp stamp) {
        synchronized (this) {
            if (closed || !hooked) {
                return -1;
            }
            int slot = -1;
            for (int i = 0; i < slots; i++) {
                if (!busy[i]) {
                    slot = i;
                    break;
                }
            }
            if (slot < 0) {
                overflow++;
                return -1;
            }
            busy[slot] = true;
            jobOf[slot] = job.name();
            pluginOf[slot] = job.pluginRef();
            kindOf[slot] = kind;
            byte[] b = slotBytes[slot];
            ByteBuffer buf = slotBuffers[slot];
            java.util.Arrays.fill(b, (byte) 0);
            buf.put(0, (byte) 1);
            buf.put(1, (byte) kindCode(kind));
            buf.putLong(8, ++nextRunId);
            buf.putLong(16, System.currentTimeMillis());
            keyHash(digests[slot], digestBytes[slot], job.key(), b, 24);
            int n = Utf8.put(job.name(), b, NAME_AT, TEXT_MAX);
            buf.putShort(2, (short) n);
            int m = Utf8.put(job.pluginRef(), b, PLUGIN_AT, TEXT_MAX);
            buf.putShort(4, (short) m);
            if (stamp != null) {
                buf.put(6, (byte) 1);
                buf.putLong(STAMP_AT, stamp.modifiedNanos());
                buf.putLong(STAMP_AT + 8, stamp.changedNanos());
                buf.putLong(STAMP_AT + 16, stamp.size());
                buf.putLong(STAMP_AT + 24, stamp.device());
                buf.putLong(STAMP_AT + 32, stamp.inode());
            }
            crc.reset();
            crc.update(b, 1, CRC_AT - 1);
            buf.putInt(CRC_AT, (int) crc.getValue());
            try {
                raf.seek((long) SLOT * (slot + 1));
                raf.write(b, 0, SLOT);
            } catch (IOException e) {
                busy[slot] = false;
                return -1;
            }
            return slot;
        }
    }

    /** The run in {@code slot} has ended and its samples are stored. */
    public synchronized void end(int slot) {
        if (slot < 0) {
            return;
        }
        busy[slot] = false;
        jobOf[slot] = null;
        pluginOf[slot] = null;
        kindOf[slot] = null;
        if (closed) {
            return;
        }
        try {
            raf.seek((long) SLOT * (slot + 1));
            raf.write(0);
        } catch (IOException e) {
            // The slot stays marked: the next start reports a run that did end. Better than the reverse.
        }
    }

    /** Runs that found every slot taken (none expected). */
    public synchronized int overflow() {
        return overflow;
    }

    /**
     * The agent stops on request: marks the journal so (runs still recorded are reported at the next
     * start as interrupted by a stop) and closes it.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        try {
            if (hooked) { // else the file still holds the previous agent's runs, not reported yet: leave them
                writeHeader(End.STOPPED, -1, "");
            }
        } catch (IOException e) {
            // The next start then reports the runs still recorded as interrupted by an unknown end.
        }
        closed = true;
        try {
            raf.close();
        } catch (IOException ignored) {
            // Nothing more to write.
        }
        try {
            if (hooked) {
                Runtime.getRuntime().removeShutdownHook(hook);
            }
        } catch (IllegalStateException alreadyShuttingDown) {
            // The hook sees 'closed' and does nothing.
        }
    }

    /**
     * The shutdown hook: the JVM is exiting and the agent did not ask for it (it would have closed the
     * journal first). Finds the thread blocked in {@code Shutdown.exit}, the plugin code on its stack,
     * and the run in progress that code belongs to.
     */
    private void exiting() {
        String note = "";
        int culprit = -1;
        for (java.util.Map.Entry<Thread, StackTraceElement[]> e : Thread.getAllStackTraces().entrySet()) {
            StackTraceElement[] stack = e.getValue();
            if (!callsExit(stack)) {
                continue;
            }
            List<String> code = pluginCode(stack);
            String thread = e.getKey().getName();
            note = "thread '" + thread + "'" + (code.isEmpty() ? "" : " in " + String.join(", ", code));
            synchronized (this) {
                culprit = code.isEmpty() && isMainThread(e.getKey()) ? AGENT_ITSELF : culprit(thread, code);
            }
            break;
        }
        synchronized (this) {
            if (closed) {
                return;
            }
            try {
                writeHeader(End.EXITED, culprit, note);
            } catch (IOException ignored) {
                // Exiting anyway; the next start reports the runs as interrupted by an unknown end.
            }
        }
    }

    /** The JVM's main thread, the one the agent's Main exits from: an exit there with no plugin code on the stack is the agent's own. */
    private static boolean isMainThread(Thread t) {
        return t.getName().equals("main") && t.getThreadGroup() != null && t.getThreadGroup().getName().equals("main");
    }

    private static boolean callsExit(StackTraceElement[] stack) {
        for (StackTraceElement f : stack) {
            if (f.getClassName().equals("java.lang.Shutdown") && f.getMethodName().equals("exit")) {
                return true;
            }
        }
        return false;
    }

    /** The plugin code on a stack, innermost first: Groovy script files and JAR plugins, as a slot names its plugin. */
    static List<String> pluginCode(StackTraceElement[] stack) {
        List<String> out = new ArrayList<>();
        for (StackTraceElement f : stack) {
            String name = null;
            if (f.getClassLoaderName() != null && f.getClassLoaderName().startsWith("plugin ")) {
                name = f.getClassLoaderName().substring(7);
            } else if (f.getFileName() != null && f.getFileName().endsWith(".groovy")) {
                name = f.getFileName();
            }
            if (name != null && !out.contains(name)) {
                out.add(name);
            }
        }
        return out;
    }

    /** The one slot in progress whose thread or plugin code called exit, or -1. Caller holds the lock. */
    private int culprit(String thread, List<String> code) {
        int found = -1;
        for (int i = 0; i < slots; i++) {
            if (!busy[i]) {
                continue;
            }
            String codeName = codeName(pluginOf[i], kindOf[i]);
            boolean mine = thread.equals("plugin " + jobOf[i]) || (codeName != null && code.contains(codeName));
            if (mine) {
                if (found >= 0) {
                    return -1;
                }
                found = i;
            }
        }
        return found;
    }

    /** How a plugin's code shows on a stack: the script's file name, or the JAR's (its class loader's name). */
    private static String codeName(String pluginRef, PluginKind kind) {
        if (kind != PluginKind.GROOVY && kind != PluginKind.JAR) {
            return null;
        }
        int slash = pluginRef.lastIndexOf('/');
        return slash < 0 ? pluginRef : pluginRef.substring(slash + 1);
    }

    private void writeHeader(End end, int culprit, String note) throws IOException {
        byte[] b = new byte[SLOT];
        ByteBuffer buf = ByteBuffer.wrap(b);
        buf.putInt(0, MAGIC);
        buf.putShort(4, VERSION);
        buf.putShort(6, (short) SLOT);
        buf.putInt(8, slots);
        buf.put(12, (byte) endCode(end));
        buf.putLong(16, pid);
        buf.putLong(24, startMillis);
        buf.putLong(32, System.currentTimeMillis());
        buf.putInt(40, culprit);
        int n = Utf8.put(note, b, 46, 400);
        buf.putShort(44, (short) n);
        crc.reset();
        crc.update(b, 0, CRC_AT);
        buf.putInt(CRC_AT, (int) crc.getValue());
        raf.seek(0);
        raf.write(b, 0, SLOT);
    }

    /** Reads a journal file; a missing one is {@link End#NONE}. */
    static Previous read(Path file) throws IOException {
        byte[] all;
        try {
            all = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            return new Previous(End.NONE, 0, 0, 0, -1, "", List.of(), 0);
        }
        End end = End.UNREADABLE;
        long pid = 0;
        long start = 0;
        long at = 0;
        int culprit = -1;
        String note = "";
        int slotCount = all.length / SLOT - 1;
        if (all.length >= SLOT) {
            ByteBuffer h = ByteBuffer.wrap(all, 0, SLOT);
            CRC32C c = new CRC32C();
            c.update(all, 0, CRC_AT);
            if (h.getInt(0) == MAGIC && h.getShort(4) == VERSION && h.getShort(6) == SLOT && h.getInt(CRC_AT) == (int) c.getValue()) {
                end = switch (h.get(12)) {
                    case 2 -> End.STOPPED;
                    case 3 -> End.EXITED;
                    default -> End.DIED;
                };
                pid = h.getLong(16);
                start = h.getLong(24);
                at = h.getLong(32);
                culprit = h.getInt(40);
                note = Utf8.get(all, 46, Math.min(400, Short.toUnsignedInt(h.getShort(44))));
            }
        }
        List<Run> runs = new ArrayList<>();
        int unreadable = 0;
        for (int i = 0; i < slotCount; i++) {
            int off = SLOT * (i + 1);
            if (all[off] == 0) {
                continue;
            }
            ByteBuffer s = ByteBuffer.wrap(all, off, SLOT).slice();
            CRC32C c = new CRC32C();
            c.update(all, off + 1, CRC_AT - 1);
            int nameLen = Short.toUnsignedInt(s.getShort(2));
            int pluginLen = Short.toUnsignedInt(s.getShort(4));
            if (all[off] != 1 || s.getInt(CRC_AT) != (int) c.getValue() || nameLen > TEXT_MAX || pluginLen > TEXT_MAX) {
                unreadable++;
                continue;
            }
            FileStamp stamp = s.get(6) != 1 ? null : new FileStamp(s.getLong(STAMP_AT), s.getLong(STAMP_AT + 8), s.getLong(STAMP_AT + 16),
                    s.getLong(STAMP_AT + 24), s.getLong(STAMP_AT + 32));
            runs.add(new Run(i, s.getLong(8), kindOf(s.get(1)), Utf8.get(all, off + NAME_AT, nameLen), Utf8.get(all, off + PLUGIN_AT, pluginLen),
                    hex(all, off + 24, KEY_HASH_BYTES), s.getLong(16), stamp));
        }
        return new Previous(end, pid, start, at, culprit, note, List.copyOf(runs), unreadable);
    }

    /** Hex of the first 16 bytes of SHA-256 over {@code key}: how records name a job without its arguments. */
    public static String keyHash(String key) {
        byte[] b = new byte[KEY_HASH_BYTES];
        keyHash(sha256(), new byte[32], key, b, 0);
        return hex(b, 0, KEY_HASH_BYTES);
    }

    /** Writes the first 16 bytes of SHA-256 over {@code key}'s UTF-16 code units into {@code out}, without allocating. */
    private static void keyHash(MessageDigest md, byte[] scratch, String key, byte[] out, int at) {
        md.reset();
        for (int i = 0; i < key.length(); i++) {
            char ch = key.charAt(i);
            md.update((byte) (ch >> 8));
            md.update((byte) ch);
        }
        try {
            md.digest(scratch, 0, scratch.length);
        } catch (java.security.DigestException e) {
            throw new IllegalStateException("a SHA-256 digest is 32 bytes", e);
        }
        System.arraycopy(scratch, 0, out, at, KEY_HASH_BYTES);
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every Java runtime", e);
        }
    }

    private static String hex(byte[] b, int off, int len) {
        StringBuilder sb = new StringBuilder(len * 2);
        for (int i = off; i < off + len; i++) {
            sb.append(Character.forDigit((b[i] >> 4) & 15, 16)).append(Character.forDigit(b[i] & 15, 16));
        }
        return sb.toString();
    }

    private static int kindCode(PluginKind k) {
        return k == null ? 0 : switch (k) {
            case GROOVY -> 1;
            case JAR -> 2;
            case EXEC -> 3;
        };
    }

    private static PluginKind kindOf(byte b) {
        return switch (b) {
            case 1 -> PluginKind.GROOVY;
            case 2 -> PluginKind.JAR;
            case 3 -> PluginKind.EXEC;
            default -> null;
        };
    }

    private static int endCode(End e) {
        return switch (e) {
            case STOPPED -> 2;
            case EXITED -> 3;
            default -> 1;
        };
    }

    /** UTF-8 into and out of a byte array, without allocating on the way in. */
    static final class Utf8 {
        private Utf8() {
        }

        /** Writes as much of {@code s} as fits in {@code max} bytes, whole characters only; returns the bytes written. */
        static int put(String s, byte[] b, int at, int max) {
            int n = 0;
            for (int i = 0; i < s.length(); i++) {
                int cp = s.codePointAt(i);
                int len = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
                if (n + len > max) {
                    break;
                }
                if (Character.isSurrogate(s.charAt(i)) && cp < 0x10000) {
                    cp = '?'; // an unpaired surrogate has no UTF-8 form
                    len = 1;
                }
                int p = at + n;
                switch (len) {
                    case 1 -> b[p] = (byte) cp;
                    case 2 -> {
                        b[p] = (byte) (0xC0 | (cp >> 6));
                        b[p + 1] = (byte) (0x80 | (cp & 0x3F));
                    }
                    case 3 -> {
                        b[p] = (byte) (0xE0 | (cp >> 12));
                        b[p + 1] = (byte) (0x80 | ((cp >> 6) & 0x3F));
                        b[p + 2] = (byte) (0x80 | (cp & 0x3F));
                    }
                    default -> {
                        b[p] = (byte) (0xF0 | (cp >> 18));
                        b[p + 1] = (byte) (0x80 | ((cp >> 12) & 0x3F));
                        b[p + 2] = (byte) (0x80 | ((cp >> 6) & 0x3F));
                        b[p + 3] = (byte) (0x80 | (cp & 0x3F));
                    }
                }
                n += len;
                if (cp >= 0x10000) {
                    i++;
                }
            }
            return n;
        }

        static String get(byte[] b, int at, int len) {
            return new String(b, at, len, StandardCharsets.UTF_8);
        }
    }
}
