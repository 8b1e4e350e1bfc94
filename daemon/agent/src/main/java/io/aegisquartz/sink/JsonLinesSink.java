package io.aegisquartz.sink;

import io.aegisquartz.lock.ProcessLock;
import io.aegisquartz.sample.Sample;
import io.aegisquartz.sample.SampleJson;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.List;

/**
 * Samples as JSON lines (docs/SAMPLES.md) in a size-rotated file: samples.jsonl, then
 * samples.jsonl.1 (newest) ... samples.jsonl.N (oldest).
 *
 * <p>Our own rather than a logging framework's appender because a logging appender drops events
 * quietly when the disk fills up; here every sample that cannot be written is counted, and the
 * log says exactly how many were lost and when writing recovered. A run's samples are written with
 * one write call, and a line cut short by a failed write is terminated before the next one, so a
 * reader never sees two samples glued together.
 */
public final class JsonLinesSink implements SampleSink {

    private static final Logger LOG = LoggerFactory.getLogger("sink");
    /** While failing, repeat the loss report at most this often. */
    private static final long REPORT_EVERY_MS = 60_000;

    private final Path file;
    private final long maxBytes;
    private final int maxFiles;
    /** Held while this sink writes the file, so that no other agent writes it too; null if not taken. */
    private ProcessLock lock;
    private FileChannel channel;
    /** Device and inode of the file {@link #channel} writes, to notice when the path names another (or none). */
    private Object openedKey;
    private long size;
    private long lostTotal;
    private long lostSinceReport;
    private long lostThisEpisode;
    private long failingSince;
    private long lastReport;
    private long written;
    private long failedWrites;
    private long lastWrite;
    private String lastError;

    public JsonLinesSink(Path file, long maxBytes, int maxFiles) {
        this.file = file;
        this.maxBytes = maxBytes;
        this.maxFiles = maxFiles;
    }

    /**
     * A sink that is the only writer of {@code file} among agents: it holds {@code FILE.lock} (see
     * {@link ProcessLock}) until closed, so that two agents with different homes but the same
     * samples file cannot interleave their samples in it.
     *
     * @throws ProcessLock.Busy if another process writes the file
     */
    public static JsonLinesSink exclusive(Path file, long maxBytes, int maxFiles) throws IOException {
        JsonLinesSink sink = new JsonLinesSink(file, maxBytes, maxFiles);
        sink.lock = ProcessLock.acquire(lockFile(file), "samples file " + file);
        return sink;
    }

    /** The lock file of {@code file}'s writer. */
    public static Path lockFile(Path file) {
        return file.resolveSibling(file.getFileName() + ".lock");
    }

    public Path file() {
        return file;
    }

    /** Samples lost to write errors since start. */
    public synchronized long lost() {
        return lostTotal;
    }

    /** This file as an output: never anything pending, since a write either lands or is lost (and counted). */
    public synchronized OutputStatus status() {
        return new OutputStatus("file", file.toString(), 0, -1, lastWrite, failingSince, lastError, written, failedWrites);
    }

    @Override
    public synchronized boolean write(List<Sample> samples) {
        if (samples.isEmpty()) {
            return true;
        }
        StringBuilder sb = new StringBuilder(samples.size() * 320);
        for (Sample s : samples) {
            sb.append(SampleJson.toJson(s)).append('\n');
        }
        byte[] bytes = sb.toString().getBytes(StandardCharsets.UTF_8);
        try {
            if (channel == null) {
                open();
            }
            if (size > 0 && size + bytes.length > maxBytes) {
                rotate();
            }
            ByteBuffer buf = ByteBuffer.wrap(bytes);
            while (buf.hasRemaining()) {
                size += channel.write(buf);
            }
            recovered();
            written += samples.size();
            lastWrite = System.currentTimeMillis();
            return true;
        } catch (IOException e) {
            failed(samples.size(), e);
            return false;
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
     * nothing to reopen. A failure is counted at the next write, as any write error.
     *
     * @return true if it reopened
     */
    public synchronized boolean reopen(boolean force) {
        if (channel == null || (!force && java.util.Objects.equals(openedKey, fileKey(file)))) {
            return false;
        }
        closeChannel();
        try {
            open();
        } catch (IOException e) {
            closeChannel();
            LOG.warn("cannot reopen {}: {}; trying again at the next write", file, e.getMessage());
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

    private void failed(int count, IOException e) {
        closeChannel();
        long now = System.currentTimeMillis();
        failedWrites++;
        lastError = "cannot write " + file + ": " + e;
        lostTotal += count;
        lostSinceReport += count;
        lostThisEpisode += count;
        if (failingSince == 0) {
            failingSince = now;
            lastReport = now;
            lostSinceReport = 0;
            LOG.error("{} sample(s) lost: cannot write {}: {}", count, file, e.toString());
        } else if (now - lastReport >= REPORT_EVERY_MS) {
            LOG.error("{} more sample(s) lost in the last {} s: still cannot write {}: {} ({} lost since start)",
                    lostSinceReport, (now - lastReport) / 1000, file, e.toString(), lostTotal);
            lastReport = now;
            lostSinceReport = 0;
        }
    }

    private void recovered() {
        if (failingSince != 0) {
            LOG.warn("writing samples to {} works again after {} s; {} sample(s) were lost meanwhile ({} since start)",
                    file, (System.currentTimeMillis() - failingSince) / 1000, lostThisEpisode, lostTotal);
            failingSince = 0;
            lostSinceReport = 0;
            lostThisEpisode = 0;
        }
    }

    private void closeChannel() {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // Closing after a failed write: the data it held is already counted as lost.
            }
            channel = null;
        }
    }

    @Override
    public synchronized void close() {
        if (failingSince != 0 && lostSinceReport > 0) {
            LOG.error("{} more sample(s) lost since the last report: still cannot write {} ({} lost since start)",
                    lostSinceReport, file, lostTotal);
        }
        closeChannel();
        if (lock != null) {
            try {
                lock.close();
            } catch (IOException e) {
                LOG.warn("cannot release {}: {}", lockFile(file), e.getMessage());
            }
            lock = null;
        }
    }
}
