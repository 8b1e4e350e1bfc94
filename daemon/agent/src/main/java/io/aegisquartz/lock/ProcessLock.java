package io.aegisquartz.lock;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One process at a time for a resource (an agent home's state directory, a spool, a samples file):
 * an OS lock on a lock file, held until {@link #close()} or the process's end. The kernel drops it
 * when the process dies, {@code kill -9} included, so a crash leaves nothing to clean up: the lock,
 * not the file's existence, is what counts, and the file is never deleted.
 *
 * <p>The holder writes who it is into the file (pid on the first line, then its start time and
 * command line), so that a refused process can say which process holds the resource.
 */
public final class ProcessLock implements Closeable {

    /** Longest command line recorded: a JVM's can be kilobytes of class path. */
    private static final int COMMAND_MAX = 400;

    /**
     * Lock files this JVM holds. Checked before the file is even opened: POSIX drops every lock a
     * process holds on a file when any of its descriptors for that file is closed, so a second
     * open-and-close here would silently unlock the first holder.
     */
    private static final Set<Path> HELD = ConcurrentHashMap.newKeySet();

    private final FileChannel channel;
    private final FileLock lock;
    private final Path key;

    private ProcessLock(FileChannel channel, FileLock lock, Path key) {
        this.channel = channel;
        this.lock = lock;
        this.key = key;
    }

    /** The resource is held by another process (or, earlier, by this one); the message says which. */
    public static final class Busy extends IOException {
        private final Holder holder;

        Busy(String message, Holder holder) {
            super(message);
            this.holder = holder;
        }

        /** Who holds it, as far as its lock file says. */
        public Holder holder() {
            return holder;
        }
    }

    /**
     * The holder as recorded in its lock file.
     *
     * @param pid     its process id, or -1 if not recorded (yet)
     * @param started when it started, or null
     * @param command its command line (shortened), or null
     */
    public record Holder(long pid, Instant started, String command) {

        /** "pid 1234, started 2026-12-05 06:53:46, command java ...". */
        public String describe() {
            if (pid < 0) {
                return "a process that has not recorded its pid yet";
            }
            StringBuilder sb = new StringBuilder("pid ").append(pid);
            if (started != null) {
                sb.append(", started ").append(DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss").withZone(ZoneId.systemDefault())
                        .format(started));
            }
            if (command != null && !command.isEmpty()) {
                sb.append(", command ").append(command);
            }
            return sb.toString();
        }

        /** Parses a lock file's text; missing or malformed parts are left out. */
        public static Holder parse(String text) {
            String[] lines = text.split("\n", -1);
            long pid = -1;
            Instant started = null;
            String command = null;
            if (lines[0].strip().matches("\\d{1,18}")) {
                pid = Long.parseLong(lines[0].strip());
            }
            for (int i = 1; i < lines.length; i++) {
                String l = lines[i];
                if (l.startsWith("started ")) {
                    try {
                        started = Instant.parse(l.substring(8).strip());
                    } catch (RuntimeException ignored) {
                        // Written by a newer or older agent in another form: leave it out.
                    }
                } else if (l.startsWith("command ")) {
                    command = l.substring(8).strip();
                }
            }
            return new Holder(pid, started, command);
        }
    }

    /**
     * Takes the lock in {@code lockFile} (created if missing, its directory too), or fails at once.
     *
     * @param what the resource in words, for the refusal: "spool directory /var/lib/x/spool"
     * @throws Busy if another process (or this one) holds it
     * @throws IOException if the lock file cannot be created or locked
     */
    public static ProcessLock acquire(Path lockFile, String what) throws IOException {
        Files.createDirectories(lockFile.getParent());
        Path key = lockFile.getParent().toRealPath().resolve(lockFile.getFileName());
        if (!HELD.add(key)) {
            throw new Busy(what + " is in use by this process (pid " + ProcessHandle.current().pid() + ")", self());
        }
        try {
            return lock(lockFile, what, key);
        } catch (IOException | RuntimeException e) {
            HELD.remove(key);
            throw e;
        }
    }

    private static ProcessLock lock(Path lockFile, String what, Path key) throws IOException {
        FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = ch.tryLock();
        } catch (OverlappingFileLockException e) {
            lock = null; // held by this very JVM
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw new IOException("cannot lock " + lockFile + ": " + e.getMessage(), e);
        }
        if (lock == null) {
            Holder holder = read(ch);
            ch.close();
            throw new Busy(what + " is in use by another process: " + holder.describe() + " (lock " + lockFile + ")", holder);
        }
        try {
            byte[] record = record(self()).getBytes(StandardCharsets.UTF_8);
            ch.truncate(0);
            ch.write(ByteBuffer.wrap(record), 0);
            ch.force(false);
        } catch (IOException e) {
            lock.release();
            ch.close();
            throw e;
        }
        return new ProcessLock(ch, lock, key);
    }

    /** This process, as a holder. */
    static Holder self() {
        ProcessHandle.Info info = ProcessHandle.current().info();
        String command = info.commandLine().orElse(info.command().orElse(null));
        if (command != null) {
            // One line, and short: a JVM's class path alone can be kilobytes.
            command = command.replaceAll("[\\r\\n\\t]", " ");
            if (command.length() > COMMAND_MAX) {
                command = command.substring(0, COMMAND_MAX - 3) + "...";
            }
        }
        return new Holder(ProcessHandle.current().pid(), info.startInstant().orElse(null), command);
    }

    static String record(Holder h) {
        return h.pid() + "\n" + (h.started() == null ? "" : "started " + h.started() + "\n")
                + (h.command() == null ? "" : "command " + h.command() + "\n");
    }

    private static Holder read(FileChannel ch) {
        try {
            ByteBuffer buf = ByteBuffer.allocate(1024);
            ch.read(buf, 0);
            return Holder.parse(new String(buf.array(), 0, buf.position(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            return new Holder(-1, null, null);
        }
    }

    @Override
    public void close() throws IOException {
        try {
            lock.release();
        } finally {
            channel.close();
            HELD.remove(key);
        }
    }
}
