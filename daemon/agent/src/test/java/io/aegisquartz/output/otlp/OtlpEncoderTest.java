package io.aegisquartz.output.otlp;

import com.google.protobuf.util.JsonFormat;
import io.aegisquartz.Version;
import io.aegisquartz.output.TestSamples;
import io.aegisquartz.sample.Status;
import io.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest;
import io.opentelemetry.proto.common.v1.KeyValue;
import io.opentelemetry.proto.metrics.v1.AggregationTemporality;
import io.opentelemetry.proto.metrics.v1.Metric;
import io.opentelemetry.proto.metrics.v1.NumberDataPoint;
import io.opentelemetry.proto.metrics.v1.ResourceMetrics;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** OTLP bodies from the otlp encoder, decoded with the official opentelemetry-proto classes. */
class OtlpEncoderTest {

    private static final long T = 1_795_000_000_123L;

    private static List<byte[]> samples() {
        return List.of(
                TestSamples.of("memory").value("used_bytes", 376_446_976, "B").value("used_pct", 1.4864480851868378, "%").at(T).json(),
                TestSamples.of("net_snmp").value("InSegs", 1234, "c").tag("group", "tcp").tag("host", "peer")
                        .status(Status.WARNING, "w").at(T + 1).json(),
                TestSamples.of("check_disk").job("disk_root").status(Status.TIMEOUT, "slow").at(T + 2).json(),
                TestSamples.of("memory").value("used_bytes", 376_446_977, "B").host("web2").at(T + 3).json());
    }

    private static Map<String, String> attributes(List<KeyValue> kvs) {
        Map<String, String> out = new LinkedHashMap<>();
        for (KeyValue kv : kvs) {
            out.put(kv.getKey(), kv.getValue().getStringValue());
        }
        return out;
    }

    private static Metric metric(ResourceMetrics rm, String name) {
        return rm.getScopeMetrics(0).getMetricsList().stream().filter(m -> m.getName().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no metric " + name));
    }

    private static void check(ExportMetricsServiceRequest req) {
        assertEquals(2, req.getResourceMetricsCount(), "one per host");
        ResourceMetrics web1 = req.getResourceMetrics(0);
        assertEquals(Map.of("host.id", TestSamples.HOST_UUID, "host.name", "web1", "service.name", "aegis-quartz",
                "service.version", Version.get()), attributes(web1.getResource().getAttributesList()));
        assertEquals("io.aegisquartz", web1.getScopeMetrics(0).getScope().getName());

        Metric used = metric(web1, "memory.used_bytes");
        assertEquals("By", used.getUnit());
        assertTrue(used.hasGauge());
        NumberDataPoint p = used.getGauge().getDataPoints(0);
        assertEquals(T * 1_000_000L, p.getTimeUnixNano());
        assertEquals(376_446_976.0, p.getAsDouble());
        assertEquals(Map.of("job", "default/sampler.groovy", "status", "ok"), attributes(p.getAttributesList()));
        assertEquals(1.4864480851868378, metric(web1, "memory.used_pct").getGauge().getDataPoints(0).getAsDouble());
        assertEquals("%", metric(web1, "memory.used_pct").getUnit());

        // A counter (unit c) is a monotonic cumulative sum; a tag named like one of ours is renamed.
        Metric in = metric(web1, "net_snmp.InSegs");
        assertTrue(in.hasSum());
        assertTrue(in.getSum().getIsMonotonic());
        assertEquals(AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE, in.getSum().getAggregationTemporality());
        assertEquals(Map.of("job", "default/sampler.groovy", "status", "warning", "group", "tcp", "tag_host", "peer"),
                attributes(in.getSum().getDataPoints(0).getAttributesList()));

        NumberDataPoint run = metric(web1, "aegis_run_status").getGauge().getDataPoints(0);
        assertEquals(1.0, run.getAsDouble());
        assertEquals(Map.of("job", "disk_root", "metric", "check_disk", "status", "timeout"), attributes(run.getAttributesList()));
        assertEquals((T + 2) * 1_000_000L, run.getTimeUnixNano());

        assertEquals("web2", attributes(req.getResourceMetrics(1).getResource().getAttributesList()).get("host.name"));
    }

    @Test
    void protobufBodiesDecodeWithTheOfficialClasses() throws Exception {
        OtlpBody body = new OtlpEncoder(OtlpEncoder.Encoding.PROTOBUF).encode(samples());
        assertEquals("application/x-protobuf", body.contentType());
        assertEquals(5, body.points());
        ExportMetricsServiceRequest req = ExportMetricsServiceRequest.parseFrom(body.bytes());
        assertTrue(req.getUnknownFields().asMap().isEmpty());
        check(req);
    }

    @Test
    void jsonBodiesDecodeWithTheOfficialClassesToTheSameRequest() throws Exception {
        OtlpBody json = new OtlpEncoder(OtlpEncoder.Encoding.JSON).encode(samples());
        assertEquals("application/json", json.contentType());
        ExportMetricsServiceRequest.Builder b = ExportMetricsServiceRequest.newBuilder();
        JsonFormat.parser().merge(new String(json.bytes(), StandardCharsets.UTF_8), b);
        check(b.build());
        assertEquals(ExportMetricsServiceRequest.parseFrom(new OtlpEncoder(OtlpEncoder.Encoding.PROTOBUF).encode(samples()).bytes()),
                b.build(), "both forms carry the same request");
        // 64-bit integers are strings in OTLP/JSON, field names lowerCamelCase.
        String text = new String(json.bytes(), StandardCharsets.UTF_8);
        assertTrue(text.contains("\"timeUnixNano\":\"" + T * 1_000_000L + "\""), text);
        assertFalse(text.contains("time_unix_nano"));
    }

    @Test
    void namesAndAttributesOfAnyTextAreSentAsTheyAre() throws Exception {
        String hostile = "é\"\\\n😀 " + "x".repeat(1024);
        OtlpBody body = new OtlpEncoder(OtlpEncoder.Encoding.PROTOBUF).encode(List.of(
                TestSamples.of("m").value("C:\\ Used Space", 5).tag(hostile, hostile).json()));
        ResourceMetrics rm = ExportMetricsServiceRequest.parseFrom(body.bytes()).getResourceMetrics(0);
        Metric m = metric(rm, "m.C:\\ Used Space");
        assertEquals(hostile, attributes(m.getGauge().getDataPoints(0).getAttributesList()).get(hostile));
        OtlpBody json = new OtlpEncoder(OtlpEncoder.Encoding.JSON).encode(List.of(
                TestSamples.of("m").value("C:\\ Used Space", 5).tag(hostile, hostile).json()));
        ExportMetricsServiceRequest.Builder b = ExportMetricsServiceRequest.newBuilder();
        JsonFormat.parser().merge(new String(json.bytes(), StandardCharsets.UTF_8), b);
        assertEquals(ExportMetricsServiceRequest.parseFrom(body.bytes()), b.build());
    }

    @Test
    void whatCannotBeSentIsRefusedOrLeftOutAndCounted() throws Exception {
        String nonFinite = "{\"id\":\"x\",\"time\":\"2026-11-22T01:32:30.236Z\",\"host_uuid\":\"u\",\"hostname\":\"h\",\"job\":\"j\","
                + "\"plugin\":\"p\",\"metric\":\"m\",\"status\":\"ok\",\"values\":{\"a\":1e999,\"b\":1},\"tags\":{}}";
        String halfSurrogate = nonFinite.replace("\"tags\":{}", "\"tags\":{\"k\":\"\\ud800\"}");
        OtlpBody body = new OtlpEncoder(OtlpEncoder.Encoding.PROTOBUF).encode(List.of(
                nonFinite.getBytes(StandardCharsets.UTF_8), halfSurrogate.getBytes(StandardCharsets.UTF_8),
                "not json".getBytes(StandardCharsets.UTF_8),
                TestSamples.of("m").value("v", 1).tag("job", "a").tag("tag_job", "b").json()));
        assertEquals(1, body.report().skippedTotal());
        assertEquals(List.of(1, 2, 3), body.report().refused().stream().map(r -> r.index()).toList());
        assertEquals(1, body.points());
        ExportMetricsServiceRequest.parseFrom(body.bytes());
    }
}
