package io.aegisquartz.output;

import java.util.Arrays;

/**
 * A growable byte array that encoders write into: raw bytes, ASCII, UTF-8, and a mark to roll back
 * to when a sample turns out to be one the output refuses halfway through writing it. Not
 * thread-safe (one encoder, one thread); unlike ByteArrayOutputStream, no lock per write.
 */
public final class ByteArrayBuilder {

    private byte[] buf;
    private int size;

    public ByteArrayBuilder(int initialCapacity) {
        buf = new byte[Math.max(16, initialCapacity)];
    }

    public int size() {
        return size;
    }

    /** Forgets everything written after {@code mark} (a {@link #size()} taken earlier). */
    public void truncate(int mark) {
        size = mark;
    }

    /** Room for {@code n} more bytes. */
    public void ensure(int n) {
        if (size + n > buf.length) {
            long want = Math.max((long) buf.length * 2, (long) size + n);
            if (want > Integer.MAX_VALUE - 8) {
                throw new OutOfMemoryError("encoded batch over 2 GiB");
            }
            buf = Arrays.copyOf(buf, (int) want);
        }
    }

    public ByteArrayBuilder write(int b) {
        ensure(1);
        buf[size++] = (byte) b;
        return this;
    }

    public ByteArrayBuilder write(byte[] b) {
        return write(b, 0, b.length);
    }

    public ByteArrayBuilder write(byte[] b, int off, int len) {
        ensure(len);
        System.arraycopy(b, off, buf, size, len);
        size += len;
        return this;
    }

    /** Characters below 128 only (numbers, names we chose): one byte each. */
    public ByteArrayBuilder ascii(String s) {
        int n = s.length();
        ensure(n);
        for (int i = 0; i < n; i++) {
            buf[size++] = (byte) s.charAt(i);
        }
        return this;
    }

    /** {@code s} as UTF-8; callers have refused text with unpaired surrogates before. */
    public ByteArrayBuilder utf8(String s) {
        int n = s.length();
        ensure(n);
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                buf[size++] = (byte) c;
            } else {
                i = utf8Char(s, i);
            }
        }
        return this;
    }

    /** Writes the (non-ASCII) character at {@code i} as UTF-8; returns the index of its last char. */
    public int utf8Char(String s, int i) {
        char c = s.charAt(i);
        if (c < 0x80) {
            write(c);
            return i;
        }
        ensure(4);
        if (c < 0x800) {
            buf[size++] = (byte) (0xC0 | (c >> 6));
            buf[size++] = (byte) (0x80 | (c & 0x3F));
            return i;
        }
        if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
            int cp = Character.toCodePoint(c, s.charAt(i + 1));
            buf[size++] = (byte) (0xF0 | (cp >> 18));
            buf[size++] = (byte) (0x80 | ((cp >> 12) & 0x3F));
            buf[size++] = (byte) (0x80 | ((cp >> 6) & 0x3F));
            buf[size++] = (byte) (0x80 | (cp & 0x3F));
            return i + 1;
        }
        if (Character.isSurrogate(c)) {
            c = '\uFFFD'; // as String.getBytes does; callers refuse such text before it gets here
        }
        buf[size++] = (byte) (0xE0 | (c >> 12));
        buf[size++] = (byte) (0x80 | ((c >> 6) & 0x3F));
        buf[size++] = (byte) (0x80 | (c & 0x3F));
        return i;
    }

    /** The number of bytes {@code s} takes as UTF-8. */
    public static int utf8Length(String s) {
        int n = s.length();
        int len = n;
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (c >= 0x80) {
                if (c < 0x800) {
                    len += 1;
                } else if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
                    len += 2; // four bytes for two chars
                    i++;
                } else {
                    len += 2;
                }
            }
        }
        return len;
    }

    /** Moves everything from {@code from} to the end forward by {@code by} bytes, growing as needed (room for a length prefix). */
    public void shift(int from, int by) {
        ensure(by);
        System.arraycopy(buf, from, buf, from + by, size - from);
        size += by;
    }

    /** Overwrites the byte at {@code at}. */
    public void set(int at, int b) {
        buf[at] = (byte) b;
    }

    /** The bytes written, copied. */
    public byte[] toByteArray() {
        return Arrays.copyOf(buf, size);
    }

    /** The backing array (valid up to {@link #size()}); for a write to a stream without a copy. */
    public byte[] array() {
        return buf;
    }
}
