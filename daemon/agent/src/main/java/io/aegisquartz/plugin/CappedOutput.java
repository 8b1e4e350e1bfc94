package io.aegisquartz.plugin;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Passes on the first {@code max} bytes, then one line saying the rest was dropped, then nothing: for
 * the output of a child JVM that runs plugin code (the Groovy compiler, the plugin host), where a
 * plugin printing without end must not fill a disk or a pipe.
 */
public final class CappedOutput extends OutputStream {
    private final OutputStream out;
    private long left;
    private boolean noted;

    public CappedOutput(OutputStream out, long max) {
        this.out = out;
        this.left = max;
    }

    @Override
    public synchronized void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public synchronized void write(byte[] b, int off, int len) throws IOException {
        int n = (int) Math.min(len, left);
        if (n > 0) {
            out.write(b, off, n);
            left -= n;
        }
        if (n < len && !noted) {
            noted = true;
            out.write("\n[more output dropped]\n".getBytes(StandardCharsets.US_ASCII));
        }
    }

    @Override
    public synchronized void flush() throws IOException {
        out.flush();
    }
}
