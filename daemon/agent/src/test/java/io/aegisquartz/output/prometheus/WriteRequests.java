package io.aegisquartz.output.prometheus;

import com.google.protobuf.DescriptorProtos.DescriptorProto;
import com.google.protobuf.DescriptorProtos.FieldDescriptorProto;
import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.Descriptors;
import com.google.protobuf.DynamicMessage;
import org.xerial.snappy.Snappy;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads a remote-write body back with the reference libraries: snappy-java decompresses it and
 * protobuf-java parses it against {@code prometheus.WriteRequest} as types.proto and remote.proto in
 * the Prometheus repository define it (built here as a descriptor, since Prometheus publishes no Java
 * classes).
 */
final class WriteRequests {

    /** One decoded series: labels in the order sent, then (time, value) pairs. */
    record Series(Map<String, String> labels, List<Long> times, List<Double> values) {
    }

    private static final Descriptors.Descriptor WRITE_REQUEST = descriptor();

    private WriteRequests() {
    }

    private static FieldDescriptorProto field(String name, int number, FieldDescriptorProto.Type type, String typeName,
                                              boolean repeated) {
        FieldDescriptorProto.Builder b = FieldDescriptorProto.newBuilder().setName(name).setNumber(number).setType(type)
                .setLabel(repeated ? FieldDescriptorProto.Label.LABEL_REPEATED : FieldDescriptorProto.Label.LABEL_OPTIONAL);
        if (typeName != null) {
            b.setTypeName(typeName);
        }
        return b.build();
    }

    private static Descriptors.Descriptor descriptor() {
        FileDescriptorProto file = FileDescriptorProto.newBuilder().setName("remote.proto").setPackage("prometheus").setSyntax("proto3")
                .addMessageType(DescriptorProto.newBuilder().setName("WriteRequest")
                        .addField(field("timeseries", 1, FieldDescriptorProto.Type.TYPE_MESSAGE, ".prometheus.TimeSeries", true)))
                .addMessageType(DescriptorProto.newBuilder().setName("TimeSeries")
                        .addField(field("labels", 1, FieldDescriptorProto.Type.TYPE_MESSAGE, ".prometheus.Label", true))
                        .addField(field("samples", 2, FieldDescriptorProto.Type.TYPE_MESSAGE, ".prometheus.Sample", true)))
                .addMessageType(DescriptorProto.newBuilder().setName("Label")
                        .addField(field("name", 1, FieldDescriptorProto.Type.TYPE_STRING, null, false))
                        .addField(field("value", 2, FieldDescriptorProto.Type.TYPE_STRING, null, false)))
                .addMessageType(DescriptorProto.newBuilder().setName("Sample")
                        .addField(field("value", 1, FieldDescriptorProto.Type.TYPE_DOUBLE, null, false))
                        .addField(field("timestamp", 2, FieldDescriptorProto.Type.TYPE_INT64, null, false)))
                .build();
        try {
            return Descriptors.FileDescriptor.buildFrom(file, new Descriptors.FileDescriptor[0]).findMessageTypeByName("WriteRequest");
        } catch (Descriptors.DescriptorValidationException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The series of a snappy-compressed WriteRequest. */
    static List<Series> decode(byte[] body) throws Exception {
        DynamicMessage req = DynamicMessage.parseFrom(WRITE_REQUEST, Snappy.uncompress(body));
        assert req.getUnknownFields().asMap().isEmpty();
        List<Series> out = new ArrayList<>();
        Descriptors.FieldDescriptor ts = WRITE_REQUEST.findFieldByName("timeseries");
        for (int i = 0; i < req.getRepeatedFieldCount(ts); i++) {
            DynamicMessage s = (DynamicMessage) req.getRepeatedField(ts, i);
            Descriptors.Descriptor sd = s.getDescriptorForType();
            Map<String, String> labels = new LinkedHashMap<>();
            for (Object o : (List<?>) s.getField(sd.findFieldByName("labels"))) {
                DynamicMessage l = (DynamicMessage) o;
                labels.put((String) l.getField(l.getDescriptorForType().findFieldByName("name")),
                        (String) l.getField(l.getDescriptorForType().findFieldByName("value")));
            }
            List<Long> times = new ArrayList<>();
            List<Double> values = new ArrayList<>();
            for (Object o : (List<?>) s.getField(sd.findFieldByName("samples"))) {
                DynamicMessage p = (DynamicMessage) o;
                values.add((Double) p.getField(p.getDescriptorForType().findFieldByName("value")));
                times.add((Long) p.getField(p.getDescriptorForType().findFieldByName("timestamp")));
            }
            out.add(new Series(labels, times, values));
        }
        return out;
    }
}
