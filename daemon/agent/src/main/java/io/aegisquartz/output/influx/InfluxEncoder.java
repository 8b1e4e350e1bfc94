package io.aegisquartz.output.influx;

import io.aegisquartz.output.ByteArrayBuilder;
import io.aegisquartz.output.EncodeReport;
import io.aegisquartz.output.EncodeReport.Refused;
import io.aegisquartz.output.PointLabels;
import io.aegisquartz.output.StoredSample;
import io.aegisquartz.output.influx.LineProtocol.Kind;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.zip.Deflater;
import java.util.zip.GZIPOutputStream;

/**
 * Turns samples (their JSON as stored) into InfluxDB line protocol (docs/OUTPUTS.md, "influx"):
 * <ul>
 * <li>a sample's values are one point: measurement = the metric, tags = host, host_uuid, job, status
 *     and the sample's tags ({@link PointLabels}), one float field per value, the sample's time;</li>
 * <li>a sample without values, or whose status says the run failed or did not happen, also gets a
 *     run-status point: measurement {@code aegis}, field {@code run_status=1} (VictoriaMetrics names
 *     it {@code aegis_run_status}), tags as above plus {@code metric}, and the message as the string
 *     field {@code message} where the server keeps strings.</li>
 * </ul>
 * A value that is not a finite number (InfluxDB cannot store NaN or infinity) is left out of its
 * point and counted; a sample with a name or tag the server would not store as written is refused
 * whole, with the reason, before anything is sent.
 */
public final class InfluxEncoder {

    /** The measurement and field of run-status points. */
    public static final String RUN_MEASUREMENT = "aegis";
    public static final String RUN_FIELD = "run_status";
    /** What a tag or field key named {@code time} becomes where the server reserves that name. */
    public static final String TIME_RENAMED = "time_";
    /** InfluxDB's limit on a series key (measurement, tags and field key). */
    private static final int MAX_KEY = 65_535;

    private final InfluxFlavour flavour;
    private final InfluxPrecision precision;
    private final boolean gzip;

    public InfluxEncoder(InfluxFlavour flavour, InfluxPrecision precision, boolean gzip) {
        this.flavour = flavour;
        this.precision = precision;
        this.gzip = gzip;
    }

    /** The batch as one request body; samples that cannot be written are in the report instead. */
    public InfluxBody encode(List<byte[]> samples) {
        ByteArrayBuilder out = new ByteArrayBuilder(samples.size() * 256);
        EncodeReport report = new EncodeReport();
        int lines = 0;
        for (int i = 0; i < samples.size(); i++) {
            int mark = out.size();
            try {
                lines += write(StoredSample.parse(samples.get(i)), out, report);
            } catch (StoredSample.NotASample e) {
                out.truncate(mark);
                report.refuse(i, "not a sample: " + e.getMessage());
            } catch (Refused e) {
                out.truncate(mark);
                report.refuse(i, e.getMessage());
            }
        }
        return new InfluxBody(gzip ? gzip(out) : out.toByteArray(), gzip, lines, report);
    }


    private int write(StoredSample s, ByteArrayBuilder out, EncodeReport report) throws Refused {
        String badText = s.invalidUnicode();
        if (badText != null) {
            throw new Refused(badText + " is not valid Unicode");
        }
        long ts = precision.convert(s.timeMillis());
        int lines = 0;
        if (s.valueCount() > 0) {
            lines += valuePoint(s, out, report, ts);
        }
        if (s.hasRunStatusPoint()) {
            runStatusPoint(s, out, ts);
            lines++;
        }
        return lines;
    }

    private int valuePoint(StoredSample s, ByteArrayBuilder out, EncodeReport report, long ts) throws Refused {
        int start = out.size();
        check(s.metric(), Kind.MEASUREMENT);
        LineProtocol.write(out, s.metric(), Kind.MEASUREMENT, flavour);
        tags(PointLabels.of(s, true, false), out);
        int keyEnd = out.size();
        out.write(' ');
        int fields = 0;
        String[] keys = new String[s.valueCount()];
        for (int i = 0; i < s.valueCount(); i++) {
            double v = s.value(i);
            if (!Double.isFinite(v)) {
                report.skip("value is not a finite number (InfluxDB stores no NaN or infinity)");
                continue;
            }
            String key = key(s.valueName(i));
            check(key, Kind.FIELD_KEY);
            for (int j = 0; j < fields; j++) {
                if (keys[j].equals(key)) {
                    throw new Refused("two values are written as field " + EncodeReport.quote(key));
                }
            }
            if (keyEnd - start + 4 + key.length() * 3 > MAX_KEY) {
                throw new Refused("metric, tags and value name " + EncodeReport.quote(key) + " make a series key over 64 KiB");
            }
            keys[fields] = key;
            if (fields++ > 0) {
                out.write(',');
            }
            LineProtocol.write(out, key, Kind.FIELD_KEY, flavour);
            out.write('=');
            LineProtocol.writeDouble(out, v);
        }
        if (fields == 0) {
            out.truncate(start);
            return 0;
        }
        out.write(' ');
        out.ascii(Long.toString(ts));
        out.write('\n');
        return 1;
    }

    private void runStatusPoint(StoredSample s, ByteArrayBuilder out, long ts) throws Refused {
        int start = out.size();
        out.ascii(RUN_MEASUREMENT);
        tags(PointLabels.of(s, true, true), out);
        if (out.size() - start + 4 + RUN_FIELD.length() > MAX_KEY) {
            throw new Refused("metric and tags make a series key over 64 KiB");
        }
        out.write(' ').ascii(RUN_FIELD).ascii("=1");
        if (s.message() != null && flavour.keepsStrings()) {
            out.ascii(",message=");
            LineProtocol.writeString(out, s.message());
        }
        out.write(' ');
        out.ascii(Long.toString(ts));
        out.write('\n');
    }

    private void tags(PointLabels labels, ByteArrayBuilder out) throws Refused {
        String clash = labels.clash(this::key);
        if (clash != null) {
            throw new Refused("two tags are written as " + EncodeReport.quote(clash));
        }
        for (int i = 0; i < labels.size(); i++) {
            String key = key(labels.key(i));
            check(key, Kind.TAG_KEY);
            check(labels.value(i), Kind.TAG_VALUE);
            out.write(',');
            LineProtocol.write(out, key, Kind.TAG_KEY, flavour);
            out.write('=');
            LineProtocol.write(out, labels.value(i), Kind.TAG_VALUE, flavour);
        }
    }

    /** A tag or field key as written: {@code time} renamed where the server refuses it. */
    private String key(String name) {
        return flavour.reservesTime() && name.equals("time") ? TIME_RENAMED : name;
    }

    private void check(String token, Kind kind) throws Refused {
        String problem = LineProtocol.problem(token, kind, flavour);
        if (problem != null) {
            throw new Refused(problem);
        }
    }

    /**
     * Gzip at the fastest level: line protocol repeats itself so much that level 1 already shrinks it
     * ninefold, for about 15% more CPU than no gzip (bench/output-encode).
     */
    private static byte[] gzip(ByteArrayBuilder body) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(body.size() / 8 + 64);
        try (GZIPOutputStream z = new GZIPOutputStream(out, 8192) {
            {
                def.setLevel(Deflater.BEST_SPEED);
            }
        }) {
            z.write(body.array(), 0, body.size());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot happen writing to memory", e);
        }
        return out.toByteArray();
    }
}
