package io.aegisquartz.output.file;

import io.aegisquartz.lock.ProcessLock;
import io.aegisquartz.output.Item;
import io.aegisquartz.output.Output;
import io.aegisquartz.output.SendResult;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Objects;

/**
 * Samples as JSON lines (docs/SAMPLES.md) in a size-rotated local file: samples.jsonl, then
 * samples.jsonl.1 (newest) ... samples.jsonl.N (oldest). The lines are the spool's records as they
 * are, one per sample.
 *
 * <p>A batch is written with one write call and made durable (fdatasync) before it counts as sent,
 * so the spool can forget it: a crash never leaves the file without a sample the spool let go. A
 * write that fails (disk full, directory gone) is retried by the worker with backoff, and nothing is
 * lost meanwhile: the samples wait in the spool, counted there if its limits drop them. A line cut
 * short by a failed write is ended before the next one, so a reader never sees two samples glued
 * together; a batch cut short is written again whole (the id tells a reader the repeated lines).
 *
 * <p>The agent's file outputs are {@linkplain #exclusive exclusive}: one writer per file among
 * agents. A file moved away or deleted (logrotate without copytruncate, an operator's rm) is created
 * again at its path by {@link #reopen}.
 */
public final class FileOutput implements Output<byte[]> {

    public static final String TYPE = "file";

    private final String name;
    private final Path file;
    private final long maxBytes;
    private final int maxFiles;
    /** Held while this output writes the file, so that no other agent writes it too; null if not taken. */
    private ProcessLock lock;
    private FileChannel channel;
    /** Device and inode of the file {@link #channel} writes, to notice when the path names another (or none). */
    private Object openedKey;
    private long size;

    public FileOutput(String name, Path file, long maxBytes, int maxFiles) {
        this.name = name;
        this.file = file;
        this.maxBytes = maxBytes;
        this.maxFiles = maxFiles;
    }

    /**
     * An output that is the only writer of {@code file} among agents: it holds {@code FILE.lock} (see
     * {@link ProcessLock}) until closed, so that two agents with different homes but the same file
     * cannot interleave their samples in it.
     *
     * @throws ProcessLock.Busy if another process writes the file
     */
    public static FileOutput exclusive(String name, Path file, long maxBytes, int maxFiles) throws IOException {
        FileOutput out = new FileOutput(name, file, maxBytes, maxFiles);
        out.lock = ProcessLock.acquire(lockFile(file), "samples file " + file);
        return out;
    }

    /** The lock file of {@code file}'s writer. */
    public static Path lockFile(Path file) {
        return file.resolveSibling(file.getFileName() + ".lock");
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String type() {
        return TYPE;
    }

    public Path file() {
        return file;
    }

    @Override
    public byte[] encode(List<Item> items) {
        int n = 0;
        for (Item i : items) {
            n += i.json().length + 1;
        }
        ByteBuffer b = ByteBuffer.allocate(n);
        for (Item i : items) {
            b.put(i.json()).put((byte) '\n');
        }
        return b.array();
    }

    @Override
    public synchronized SendResult send(byte[] lines) throws IOException {
        try {
            if (channel == null) {
                open();
            }
            if (size > 0 && size + lines.length > maxBytes) {
                rotate();
            }
            ByteBuffer buf = ByteBuffer.wrap(lines);
            while (buf.hasRemaining()) {
                size += channel.write(buf);
            }
            channel.force(false);
            return new SendResult.Accepted(0);
        } catch (IOException e) {
            closeChannel(); // reopened (and a cut line ended) at the next try
            throw new IOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    private void open() throws IOException {
        Files.createDirectories(file.getParent());
        channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
        openedKey = fileKey(file);
        size = channel.size();
        if (size > 0) {
            // End a line that a failed write (disk full) cut short, so the next sample starts clean.
            ByteBuffer last = ByteBuffer.allocate(1);
            try (FileChannel read = FileChannel.open(file, StandardOpenOption.READ)) {
                read.read(last, size - 1);
            }
            if (last.get(0) != '\n') {
                size += channel.write(ByteBuffer.wrap(new byte[] {'\n'}));
            }
        }
    }

    private void rotate() throws IOException {
        closeChannel();
        Files.deleteIfExists(numbered(maxFiles));
        for (int i = maxFiles - 1; i >= 1; i--) {
            if (Files.exists(numbered(i))) {
                Files.move(numbered(i), numbered(i + 1), StandardCopyOption.REPLACE_EXISTING);
            }
        }
        Files.move(file, numbered(1), StandardCopyOption.REPLACE_EXISTING);
        open();
    }

    /**
     * Reopens the file at its path, creating it again, when it was moved or deleted since it was
     * opened (logrotate, an operator), or always with {@code force}; before the first write there is
     * nothing to reopen. A failure is retried by the worker at the next write, as any write error.
     *
     * @return true if it reopened
     */
    public synchronized boolean reopen(boolean force) {
        if (channel == null || (!force && Objects.equals(openedKey, fileKey(file)))) {
            return false;
        }
        closeChannel();
        try {
            open();
        } catch (IOException e) {
            closeChannel(); // the next send opens it, or fails and is retried with backoff
        }
        return true;
    }

    private static Object fileKey(Path p) {
        try {
            return Files.readAttributes(p, java.nio.file.attribute.BasicFileAttributes.class).fileKey();
        } catch (IOException e) {
            return null;
        }
    }

    private Path numbered(int i) {
        return file.resolveSibling(file.getFileName() + "." + i);
    }

    private void closeChannel() {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // Closing after a failed write: the batch is still in the spool and is written again.
            }
            channel = null;
        }
    }

    @Override
    public synchronized void close() {
        closeChannel();
        if (lock != null) {
            try {
                lock.close();
            } catch (IOException e) {
                // The kernel drops the lock with the process anyway; nothing else to do.
            }
            lock = null;
        }
    }
}
