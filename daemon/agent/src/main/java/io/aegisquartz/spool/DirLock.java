package io.aegisquartz.spool;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * One owner per spool directory: an OS lock on {@code spool.lock}, which holds the owner's pid so
 * the refusal can say who has it. The file is never deleted; the lock, not the file's existence,
 * is what counts, so a crashed owner leaves nothing to clean up.
 */
final class DirLock implements Closeable {

    static final String FILE = "spool.lock";

    /**
     * Directories this JVM has locked. Checked before the lock file is even opened: POSIX drops every
     * lock a process holds on a file when any of its descriptors for that file is closed, so a second
     * open-and-close here would silently unlock the first owner.
     */
    private static final java.util.Set<Path> HELD = java.util.concurrent.ConcurrentHashMap.newKeySet();

    private final FileChannel channel;
    private final FileLock lock;
    private final Path key;

    private DirLock(FileChannel channel, FileLock lock, Path key) {
        this.channel = channel;
        this.lock = lock;
        this.key = key;
    }

    static DirLock acquire(Path dir) throws IOException {
        Path key = dir.toRealPath();
        if (!HELD.add(key)) {
            throw new IOException("spool directory " + dir + " is in use by another process (pid "
                    + ProcessHandle.current().pid() + ", this one)");
        }
        try {
            return acquireFile(dir, key);
        } catch (IOException | RuntimeException e) {
            HELD.remove(key);
            throw e;
        }
    }

    private static DirLock acquireFile(Path dir, Path key) throws IOException {
        FileChannel ch = FileChannel.open(dir.resolve(FILE), StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = ch.tryLock();
        } catch (OverlappingFileLockException e) {
            lock = null; // held by this very JVM
        } catch (IOException e) {
            ch.close();
            throw e;
        }
        if (lock == null) {
            String owner = owner(ch);
            ch.close();
            throw new IOException("spool directory " + dir + " is in use by another process"
                    + (owner.isEmpty() ? "" : " (pid " + owner + ")"));
        }
        byte[] pid = (ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII);
        ch.truncate(0);
        ch.write(ByteBuffer.wrap(pid), 0);
        ch.force(false);
        return new DirLock(ch, lock, key);
    }

    private static String owner(FileChannel ch) {
        try {
            ByteBuffer buf = ByteBuffer.allocate(32);
            ch.read(buf, 0);
            String s = new String(buf.array(), 0, buf.position(), StandardCharsets.US_ASCII).trim();
            return s.matches("\\d+") ? s : "";
        } catch (IOException e) {
            return "";
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
