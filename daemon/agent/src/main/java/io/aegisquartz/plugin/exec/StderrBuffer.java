package io.aegisquartz.plugin.exec;

import java.nio.charset.StandardCharsets;

/**
 * Standard error of a run: its first and last few KiB, read up to a budget; past the budget the pipe
 * is closed, so a plugin writing gigabytes of stderr costs the agent a bounded, small amount of
 * reading instead of a copy of every byte (the plugin gets SIGPIPE when it writes again).
 */
final class StderrBuffer implements PipeReader.Sink {

    private final byte[] head;
    private final byte[] tail;
    private final long budget;
    private long total;

    StderrBuffer(int headBytes, int tailBytes, long budget) {
        this.head = new byte[headBytes];
        this.tail = new byte[tailBytes];
        this.budget = budget;
    }

    @Override
    public synchronized boolean accept(byte[] buf, int n) {
        int off = 0;
        if (total < head.length) {
            int h = (int) Math.min(n, head.length - total);
            System.arraycopy(buf, 0, head, (int) total, h);
            off = h;
        }
        // The tail is a ring indexed by the byte count past the head; only a chunk's last tail.length
        // bytes can survive, and they go in at most two copies.
        int from = Math.max(off, n - tail.length);
        long pos = total + from - head.length;
        while (from < n) {
            int at = (int) (pos % tail.length);
            int len = Math.min(n - from, tail.length - at);
            System.arraycopy(buf, from, tail, at, len);
            from += len;
            pos += len;
        }
        total += n;
        return total <= budget;
    }

    /** True if the budget was used up and the pipe closed. */
    synchronized boolean cut() {
        return total > budget;
    }

    /** The head, a line saying how much was left out, and the tail. */
    synchronized String text() {
        if (total <= head.length) {
            return new String(head, 0, (int) total, StandardCharsets.UTF_8);
        }
        long afterHead = total - head.length;
        int tailLen = (int) Math.min(afterHead, tail.length);
        byte[] t = new byte[tailLen];
        long first = afterHead - tailLen;
        for (int i = 0; i < tailLen; i++) {
            t[i] = tail[(int) ((first + i) % tail.length)];
        }
        String gap = first > 0 ? "\n[... " + first + " bytes of standard error not kept ...]\n" : "";
        return new String(head, StandardCharsets.UTF_8) + gap + new String(t, StandardCharsets.UTF_8);
    }
}
