package io.aegisquartz.output.file;

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
 */
public final class FileOutput implements Output<byte[]> {

    public static final String TYPE = "file";

    private final String name;
    private final Path file;
    private final long maxBytes;
    private final int maxFiles;
    private FileChannel channel;
    private long size;

    public FileOutput(String name, Path file, long maxBytes, int maxFiles) {
        this.name = name;
        this.file = file;
        this.maxBytes = maxBytes;
        this.maxFiles = maxFiles;
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
    }
}
