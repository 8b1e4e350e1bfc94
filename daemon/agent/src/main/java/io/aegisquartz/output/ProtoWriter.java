package io.aegisquartz.output;

/**
 * Writes Protocol Buffers wire format (protobuf.dev, "Encoding"): the few field types the
 * Prometheus remote-write and OTLP messages use, straight into a {@link ByteArrayBuilder}, without
 * protobuf-java's generated classes (about 2 MB of classes and a message object per field). The tests
 * decode what it writes with protobuf-java and the official OTLP classes.
 *
 * <p>A nested message is written in place: {@link #begin} reserves one byte for its length and
 * {@link #end} fills it in, moving the message's bytes when the length needs more than one byte.
 */
public final class ProtoWriter {

    private static final int VARINT = 0;
    private static final int I64 = 1;
    private static final int LEN = 2;

    private final ByteArrayBuilder out;

    public ProtoWriter(ByteArrayBuilder out) {
        this.out = out;
    }

    public ByteArrayBuilder out() {
        return out;
    }

    private void tag(int field, int wireType) {
        varint(((long) field << 3) | wireType);
    }

    /** An unsigned varint: seven bits a byte, low bits first. */
    public void varint(long v) {
        out.ensure(10);
        while ((v & ~0x7FL) != 0) {
            out.write((int) ((v & 0x7F) | 0x80));
            v >>>= 7;
        }
        out.write((int) v);
    }

    /** int64, int32, uint64, enum and bool fields: a varint (negative numbers take ten bytes, as the format says). */
    public void int64(int field, long v) {
        tag(field, VARINT);
        varint(v);
    }

    public void bool(int field, boolean v) {
        tag(field, VARINT);
        out.write(v ? 1 : 0);
    }

    /** double fields: eight bytes, little-endian IEEE 754. */
    public void double64(int field, double v) {
        fixed64(field, Double.doubleToRawLongBits(v));
    }

    /** fixed64 fields: eight bytes, little-endian. */
    public void fixed64(int field, long v) {
        tag(field, I64);
        out.ensure(8);
        for (int i = 0; i < 8; i++) {
            out.write((int) (v >>> (8 * i)));
        }
    }

    /** string fields: the length in bytes, then UTF-8. */
    public void string(int field, String s) {
        tag(field, LEN);
        varint(ByteArrayBuilder.utf8Length(s));
        out.utf8(s);
    }

    public void bytes(int field, byte[] b) {
        tag(field, LEN);
        varint(b.length);
        out.write(b);
    }

    /** Starts a nested message in {@code field}; returns the mark to give {@link #end}. */
    public int begin(int field) {
        tag(field, LEN);
        int mark = out.size();
        out.write(0); // the length, one byte for now
        return mark;
    }

    /** Ends the nested message begun at {@code mark}: writes its length before it. */
    public void end(int mark) {
        int len = out.size() - mark - 1;
        if (len < 0x80) {
            out.set(mark, len);
            return;
        }
        int bytes = varintSize(len);
        out.shift(mark + 1, bytes - 1);
        int at = mark;
        long v = len;
        while ((v & ~0x7FL) != 0) {
            out.set(at++, (int) ((v & 0x7F) | 0x80));
            v >>>= 7;
        }
        out.set(at, (int) v);
    }

    static int varintSize(long v) {
        int n = 1;
        while ((v & ~0x7FL) != 0) {
            n++;
            v >>>= 7;
        }
        return n;
    }
}
