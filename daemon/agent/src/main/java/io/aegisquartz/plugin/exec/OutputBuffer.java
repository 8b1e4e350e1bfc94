package io.aegisquartz.plugin.exec;

import java.io.ByteArrayOutputStream;

/** Standard output of a run: the first {@code max} bytes; more than that and the pipe is closed. */
final class OutputBuffer implements PipeReader.Sink {

    private final long max;
    private final ByteArrayOutputStream kept = new ByteArrayOutputStream(1024);
    private boolean truncated;

    OutputBuffer(long max) {
        this.max = max;
    }

    @Override
    public synchronized boolean accept(byte[] buf, int n) {
        int room = (int) Math.min(n, Math.max(0, max - kept.size()));
        kept.write(buf, 0, room);
        if (room < n) {
            truncated = true;
            return false;
        }
        return true;
    }

    synchronized byte[] bytes() {
        return kept.toByteArray();
    }

    /** True if the command wrote more than {@code max} bytes (and the pipe was closed on it). */
    synchronized boolean truncated() {
        return truncated;
    }
}
