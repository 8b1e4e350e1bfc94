package io.aegisquartz.plugin.exec;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

/**
 * Reads one output pipe of a run, on a pool thread, until end of file, until its sink has had
 * enough, or until the run closes it.
 *
 * <p>The pipe is read through a {@link FileChannel}, not the JDK's process stream, because closing a
 * FileChannel wakes a thread blocked reading it (the stream's read cannot be woken): a pipe still held
 * by a process that escaped the run is closed on the agent's side, and its reader is free again at
 * once. Closing the agent's end, the only read end, is also what makes a writer get SIGPIPE.
 */
final class PipeReader implements Runnable {

    /** Takes what was read; false when it wants no more (the pipe is then closed). */
    interface Sink {
        boolean accept(byte[] buf, int n);
    }

    private final FileChannel channel;
    private final Sink sink;
    private volatile boolean full;

    PipeReader(FileChannel channel, Sink sink) {
        this.channel = channel;
        this.sink = sink;
    }

    @Override
    public void run() {
        ByteBuffer buf = ByteBuffer.allocate(16 * 1024);
        try {
            while (channel.read(buf) >= 0) {
                if (!sink.accept(buf.array(), buf.position())) {
                    full = true;
                    break;
                }
                buf.clear();
            }
        } catch (IOException e) {
            // Closed by the run (AsynchronousCloseException), or the pipe failed: the run is over either way.
        } finally {
            close();
        }
    }

    /** Closes the agent's end; a blocked read returns at once. */
    void close() {
        try {
            channel.close();
        } catch (IOException e) {
            // Nothing left to release.
        }
    }

    /** True if the sink had enough and the pipe was closed early. */
    boolean full() {
        return full;
    }
}
