package io.aegisquartz.plugin.host;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * One message of the plugin host protocol (docs/PLUGIN-HOST.md): a type and a payload of big-endian
 * fields, built with the writing methods or taken apart with the reading ones.
 *
 * <p>On the wire: u32 length (of what follows), u8 type, payload. Reading checks everything a
 * sender could get wrong on purpose: the length against the receiver's cap before anything is
 * allocated, each string's and blob's length against its own cap and against what is left, UTF-8
 * validity, and that nothing is left over. Any of these is a {@link ProtocolException}.
 */
final class Frame {

    private final int type;
    private byte[] buf;
    private int size;
    private int pos;

    /** A new frame to write. */
    Frame(int type) {
        this.type = type;
        this.buf = new byte[64];
    }

    private Frame(int type, byte[] payload) {
        this.type = type;
        this.buf = payload;
        this.size = payload.length;
    }

    int type() {
        return type;
    }

    /** Payload bytes, for tests and caps. */
    int payloadSize() {
        return size;
    }

    // ---------------------------------------------------------------- writing

    private void room(int n) {
        if (size + n > buf.length) {
            buf = Arrays.copyOf(buf, Math.max(buf.length * 2, size + n));
        }
    }

    Frame u8(int v) {
        room(1);
        buf[size++] = (byte) v;
        return this;
    }

    Frame bool(boolean v) {
        return u8(v ? 1 : 0);
    }

    Frame u16(int v) {
        return u8(v >>> 8).u8(v);
    }

    Frame u32(long v) {
        return i32((int) v);
    }

    Frame i32(int v) {
        room(4);
        buf[size++] = (byte) (v >>> 24);
        buf[size++] = (byte) (v >>> 16);
        buf[size++] = (byte) (v >>> 8);
        buf[size++] = (byte) v;
        return this;
    }

    Frame i64(long v) {
        return i32((int) (v >>> 32)).i32((int) v);
    }

    Frame f64(double v) {
        return i64(Double.doubleToRawLongBits(v));
    }

    Frame str(String s) {
        return bytes(s.getBytes(StandardCharsets.UTF_8));
    }

    /** A bool, then the string if it is not null. */
    Frame optStr(String s) {
        bool(s != null);
        return s == null ? this : str(s);
    }

    Frame bytes(byte[] b) {
        i32(b.length);
        room(b.length);
        System.arraycopy(b, 0, buf, size, b.length);
        size += b.length;
        return this;
    }

    /** Writes length, type and payload, and flushes. The caller serialises writers. */
    void writeTo(OutputStream out) throws IOException {
        writeTo(out, true);
    }

    /** Writes length, type and payload; flushes if {@code flush} (else the caller does, after more frames). */
    void writeTo(OutputStream out, boolean flush) throws IOException {
        int len = size + 1;
        out.write(new byte[] {(byte) (len >>> 24), (byte) (len >>> 16), (byte) (len >>> 8), (byte) len, (byte) type});
        out.write(buf, 0, size);
        if (flush) {
            out.flush();
        }
    }

    // ---------------------------------------------------------------- reading

    /**
     * The next frame from {@code in}.
     *
     * @param cap largest length accepted (type and payload)
     * @return null at a clean end of stream (between frames)
     * @throws ProtocolException for a length of 0 or over the cap, or a stream that ends inside a frame
     */
    static Frame read(InputStream in, int cap) throws IOException {
        int b0 = in.read();
        if (b0 < 0) {
            return null;
        }
        long len = ((long) b0 << 24) | ((long) readByte(in) << 16) | ((long) readByte(in) << 8) | readByte(in);
        if (len < 1 || len > cap) {
            throw new ProtocolException("a message of " + len + " bytes (at most " + cap + " allowed)");
        }
        int type = readByte(in);
        byte[] payload = in.readNBytes((int) len - 1);
        if (payload.length != len - 1) {
            throw new ProtocolException("the stream ended inside a message");
        }
        return new Frame(type, payload);
    }

    private static int readByte(InputStream in) throws IOException {
        int b = in.read();
        if (b < 0) {
            throw new ProtocolException("the stream ended inside a message", new EOFException());
        }
        return b;
    }

    private void need(long n) throws ProtocolException {
        if (n < 0 || n > size - pos) {
            throw new ProtocolException("message type " + type + " is shorter than its fields say");
        }
    }

    int u8() throws ProtocolException {
        need(1);
        return buf[pos++] & 0xFF;
    }

    boolean bool() throws ProtocolException {
        int v = u8();
        if (v > 1) {
            throw new ProtocolException("a boolean of " + v);
        }
        return v == 1;
    }

    int u16() throws ProtocolException {
        return (u8() << 8) | u8();
    }

    int i32() throws ProtocolException {
        need(4);
        int v = ((buf[pos] & 0xFF) << 24) | ((buf[pos + 1] & 0xFF) << 16) | ((buf[pos + 2] & 0xFF) << 8) | (buf[pos + 3] & 0xFF);
        pos += 4;
        return v;
    }

    long u32() throws ProtocolException {
        return i32() & 0xFFFF_FFFFL;
    }

    long i64() throws ProtocolException {
        return ((long) i32() << 32) | (i32() & 0xFFFF_FFFFL);
    }

    double f64() throws ProtocolException {
        return Double.longBitsToDouble(i64());
    }

    /** A count of items that follow, at most {@code max}. */
    int count(int max, String what) throws ProtocolException {
        long n = u32();
        if (n > max) {
            throw new ProtocolException(n + " " + what + " (at most " + max + ")");
        }
        return (int) n;
    }

    /** A non-negative i64 (a duration or a size). */
    long nonNegative(String what) throws ProtocolException {
        long v = i64();
        if (v < 0) {
            throw new ProtocolException(what + " is negative");
        }
        return v;
    }

    String str(int maxBytes, String what) throws ProtocolException {
        long n = u32();
        if (n > maxBytes) {
            throw new ProtocolException(what + " of " + n + " bytes (at most " + maxBytes + ")");
        }
        need(n);
        try {
            CharBuffer chars = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(buf, pos, (int) n));
            pos += (int) n;
            return chars.toString();
        } catch (CharacterCodingException e) {
            throw new ProtocolException(what + " is not valid UTF-8");
        }
    }

    String optStr(int maxBytes, String what) throws ProtocolException {
        return bool() ? str(maxBytes, what) : null;
    }

    byte[] bytes(int maxBytes, String what) throws ProtocolException {
        long n = u32();
        if (n > maxBytes) {
            throw new ProtocolException(what + " of " + n + " bytes (at most " + maxBytes + ")");
        }
        need(n);
        byte[] b = Arrays.copyOfRange(buf, pos, pos + (int) n);
        pos += (int) n;
        return b;
    }

    /** Checks that every byte of the payload was read. */
    void end() throws ProtocolException {
        if (pos != size) {
            throw new ProtocolException("message type " + type + " has " + (size - pos) + " bytes more than its fields");
        }
    }
}
