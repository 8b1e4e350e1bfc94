package io.aegisquartz.output;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.UnknownFieldSet;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Our protobuf writer, read back with protobuf-java. */
class ProtoWriterTest {

    @Test
    void nestedMessagesOfEveryLengthClassReadBack() throws Exception {
        // Lengths around each varint size boundary: 127/128, 16383/16384, 2^21.
        for (int len : new int[] {0, 1, 126, 127, 128, 129, 16_382, 16_383, 16_384, 16_385, 2_097_151, 2_097_152, 2_100_000}) {
            ProtoWriter w = new ProtoWriter(new ByteArrayBuilder(16));
            int outer = w.begin(1);
            w.int64(1, 42);
            int inner = w.begin(2);
            w.string(1, "x".repeat(len));
            w.end(inner);
            w.double64(3, -2.5);
            w.end(outer);
            w.fixed64(2, 1_795_000_000_123_000_000L);
            w.bool(3, true);

            UnknownFieldSet top = UnknownFieldSet.parseFrom(w.out().toByteArray());
            UnknownFieldSet o = UnknownFieldSet.parseFrom(top.getField(1).getLengthDelimitedList().get(0));
            assertEquals(List.of(42L), o.getField(1).getVarintList());
            UnknownFieldSet in = UnknownFieldSet.parseFrom(o.getField(2).getLengthDelimitedList().get(0));
            assertEquals(len, in.getField(1).getLengthDelimitedList().get(0).size());
            assertEquals(-2.5, Double.longBitsToDouble(o.getField(3).getFixed64List().get(0)));
            assertEquals(List.of(1_795_000_000_123_000_000L), top.getField(2).getFixed64List());
            assertEquals(List.of(1L), top.getField(3).getVarintList());
        }
    }

    @Test
    void stringsAreUtf8AndIntegersAreVarints() throws Exception {
        ProtoWriter w = new ProtoWriter(new ByteArrayBuilder(16));
        String text = "ünï \u20ac \ud83d\ude00 \"quoted\"\n";
        w.string(1, text);
        w.int64(2, -1);
        w.int64(3, Long.MAX_VALUE);
        w.int64(300, 7); // a field number that needs a two-byte tag
        CodedInputStream in = CodedInputStream.newInstance(w.out().toByteArray());
        assertEquals((1 << 3) | 2, in.readTag());
        assertEquals(text, in.readStringRequireUtf8());
        assertEquals((2 << 3), in.readTag());
        assertEquals(-1L, in.readInt64());
        assertEquals((3 << 3), in.readTag());
        assertEquals(Long.MAX_VALUE, in.readInt64());
        assertEquals((300 << 3), in.readTag());
        assertEquals(7L, in.readInt64());
        assertEquals(0, in.readTag());
        assertEquals(text.getBytes(StandardCharsets.UTF_8).length, ByteArrayBuilder.utf8Length(text));
    }
}
