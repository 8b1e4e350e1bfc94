package io.aegisquartz.output.otlp;

import io.aegisquartz.output.EncodeReport;
import io.aegisquartz.output.PointLabels;
import io.aegisquartz.output.StoredSample;

import java.util.List;

/**
 * Turns samples (their JSON as stored) into an OTLP/HTTP metrics export request, in protobuf (the
 * default) or JSON (docs/OUTPUTS.md, "otlp"):
 * <ul>
 * <li>one ResourceMetrics per host, with the resource attributes {@code host.id} (the host uuid),
 *     {@code host.name}, {@code service.name=aegis-quartz} and {@code service.version};</li>
 * <li>each value is a data point of the metric {@code METRIC.VALUE}: a Gauge, or, for a counter (unit
 *     {@code c}), a monotonic cumulative Sum; its unit in UCUM where the sample's unit has a UCUM form;
 *     attributes job, status and the sample's tags ({@link PointLabels});</li>
 * <li>a sample without values, or whose status says the run failed or did not happen, also gets a
 *     point of the gauge {@code aegis_run_status} (value 1, attribute {@code metric} added).</li>
 * </ul>
 * Names and attribute values are sent as they are (OTLP takes any UTF-8). A value that is not a
 * finite number is left out and counted.
 */
public final class OtlpEncoder {

    /** The two wire forms of OTLP/HTTP. */
    public enum Encoding {
        PROTOBUF("application/x-protobuf"), JSON("application/json");

        public final String contentType;

        Encoding(String contentType) {
            this.contentType = contentType;
        }
    }

    static final String HOST_ID = "host.id";
    static final String HOST_NAME = "host.name";
    static final String SERVICE_NAME = "service.name";
    static final String SERVICE_VERSION = "service.version";
    static final String SERVICE = "aegis-quartz";
    /** The instrumentation scope of every metric. */
    static final String SCOPE = "io.aegisquartz";

    private final Encoding encoding;

    public OtlpEncoder(Encoding encoding) {
        this.encoding = encoding;
    }

    /** Encodes a batch; samples that cannot be sent are in the report instead. */
    public OtlpBody encode(List<byte[]> samples) {
        EncodeReport report = new EncodeReport();
        OtlpBatch batch = new OtlpBatch();
        int bytes = 0;
        for (int i = 0; i < samples.size(); i++) {
            byte[] json = samples.get(i);
            bytes += json.length;
            StoredSample s;
            try {
                s = StoredSample.parse(json);
            } catch (StoredSample.NotASample e) {
                report.refuse(i, "not a sample: " + e.getMessage());
                continue;
            }
            String problem = problem(s);
            if (problem != null) {
                report.refuse(i, problem);
                continue;
            }
            add(s, batch, report);
        }
        byte[] body = encoding == Encoding.PROTOBUF ? OtlpProtobuf.write(batch, bytes + 256) : OtlpJson.write(batch, bytes * 2 + 256);
        return new OtlpBody(body, encoding.contentType, batch.points, report);
    }

    /** Why {@code s} cannot be sent at all, or null. */
    private static String problem(StoredSample s) {
        String badText = s.invalidUnicode();
        if (badText != null) {
            return badText + " is not valid Unicode";
        }
        String clash = PointLabels.of(s, false, s.hasRunStatusPoint()).clash(k -> k);
        if (clash != null) {
            return "two tags are both attribute " + EncodeReport.quote(clash);
        }
        return null;
    }

    private static void add(StoredSample s, OtlpBatch batch, EncodeReport report) {
        OtlpBatch.Resource r = batch.resource(s.hostUuid(), s.hostname());
        if (s.valueCount() > 0) {
            PointLabels attributes = PointLabels.of(s, false, false);
            for (int i = 0; i < s.valueCount(); i++) {
                double v = s.value(i);
                if (!Double.isFinite(v)) {
                    report.skip("value is not a finite number");
                    continue;
                }
                String name = s.valueName(i);
                boolean counter = s.isCounter(name);
                r.metric(s.metric() + "." + name, counter ? "1" : ucum(s.unit(name)), counter).points
                        .add(new OtlpBatch.Point(attributes, s.timeMillis(), v));
                batch.points++;
            }
        }
        if (s.hasRunStatusPoint()) {
            r.metric(PointLabels.RUN_STATUS, "1", false).points
                    .add(new OtlpBatch.Point(PointLabels.of(s, false, true), s.timeMillis(), 1.0));
            batch.points++;
        }
    }

    /**
     * A sample unit in UCUM, as OpenTelemetry's semantic conventions write units: bytes are
     * {@code By}, per second is {@code /s}. Units without a UCUM form here are sent as written.
     */
    static String ucum(String unit) {
        if (unit == null) {
            return "";
        }
        return switch (unit) {
            case "B" -> "By";
            case "KB" -> "kBy";
            case "MB" -> "MBy";
            case "GB" -> "GBy";
            case "TB" -> "TBy";
            case "KiB" -> "KiBy";
            case "MiB" -> "MiBy";
            case "GiB" -> "GiBy";
            case "TiB" -> "TiBy";
            case "B/s" -> "By/s";
            case "c" -> "1";
            default -> unit;
        };
    }
}
