package io.aegisquartz.output.prometheus;

import io.aegisquartz.output.ByteArrayBuilder;
import io.aegisquartz.output.EncodeReport;
import io.aegisquartz.output.PointLabels;
import io.aegisquartz.output.ProtoWriter;
import io.aegisquartz.output.StoredSample;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns samples (their JSON as stored) into a Prometheus remote-write 1.0 request: a protobuf
 * {@code prometheus.WriteRequest}, snappy-compressed (docs/OUTPUTS.md, "prometheus").
 * <ul>
 * <li>each value is a series named {@code METRIC_VALUE} (sanitised; a counter, unit {@code c}, gets
 *     {@code _total}) with the labels host, host_uuid, job, status and the sample's tags, sanitised
 *     ({@link PointLabels}), at the sample's time in ms;</li>
 * <li>a sample without values, or whose status says the run failed or did not happen, also gets the
 *     point {@code aegis_run_status{...,metric="..."} 1}.</li>
 * </ul>
 * Each series' samples are in time order, as Prometheus requires. Two points of one series at one
 * millisecond: the same value is sent once; a different one is left out and counted (Prometheus would
 * refuse the whole request as a duplicate sample). A sample whose tags or values collide once
 * sanitised ({@code a.b} and {@code a_b}) is refused whole, with the reason.
 */
public final class RemoteWriteEncoder {

    /** One series being built: its sorted labels, then its points. */
    private static final class Series {
        final String[] names;
        final String[] values;
        long[] times = new long[2];
        double[] points = new double[2];
        int n;

        Series(String[] names, String[] values) {
            this.names = names;
            this.values = values;
        }

        void add(long t, double v) {
            if (n == times.length) {
                times = Arrays.copyOf(times, n * 2);
                points = Arrays.copyOf(points, n * 2);
            }
            times[n] = t;
            points[n++] = v;
        }
    }

    /** Encodes a batch; samples that cannot be sent are in the report instead. */
    public RemoteWriteBody encode(List<byte[]> samples) {
        EncodeReport report = new EncodeReport();
        Map<String, Series> series = new LinkedHashMap<>();
        List<Point> pending = new ArrayList<>();
        for (int i = 0; i < samples.size(); i++) {
            pending.clear();
            try {
                collect(StoredSample.parse(samples.get(i)), pending, report);
            } catch (StoredSample.NotASample e) {
                report.refuse(i, "not a sample: " + e.getMessage());
                continue;
            } catch (Refused e) {
                report.refuse(i, e.getMessage());
                continue;
            }
            // Only once the whole sample is known to be sendable do its points join the batch.
            for (Point p : pending) {
                series.computeIfAbsent(key(p.names, p.values), k -> new Series(p.names, p.values)).add(p.time, p.value);
            }
        }
        ByteArrayBuilder out = new ByteArrayBuilder(samples.size() * 200 + 64);
        ProtoWriter w = new ProtoWriter(out);
        int points = 0;
        for (Series s : series.values()) {
            points += write(s, w, report);
        }
        return new RemoteWriteBody(SnappyBlock.compress(out.array(), out.size()), series.size(), points, report);
    }

    /** One point of a sample: its series' labels ({@code __name__} included, sorted), time and value. */
    private record Point(String[] names, String[] values, long time, double value) {
    }

    private static final class Refused extends Exception {
        Refused(String why) {
            super(why, null, false, false);
        }
    }

    private static void collect(StoredSample s, List<Point> out, EncodeReport report) throws Refused {
        String badText = s.invalidUnicode();
        if (badText != null) {
            throw new Refused(badText + " is not valid Unicode");
        }
        long t = s.timeMillis();
        if (s.valueCount() > 0) {
            String[][] labels = labels(PointLabels.of(s, true, false));
            String[] names = new String[s.valueCount()];
            for (int i = 0; i < s.valueCount(); i++) {
                String name = PrometheusNames.series(s.metric(), s.valueName(i), s.isCounter(s.valueName(i)));
                for (int j = 0; j < i; j++) {
                    if (name.equals(names[j])) {
                        throw new Refused("values " + EncodeReport.quote(s.valueName(j)) + " and "
                                + EncodeReport.quote(s.valueName(i)) + " are both series " + name);
                    }
                }
                names[i] = name;
                double v = s.value(i);
                if (!Double.isFinite(v)) {
                    // Prometheus could store NaN and infinities, but the agent never sends them elsewhere either.
                    report.skip("value is not a finite number");
                    continue;
                }
                out.add(point(name, labels, t, v));
            }
        }
        if (s.hasRunStatusPoint()) {
            String[][] labels = labels(PointLabels.of(s, true, true));
            out.add(point(PointLabels.RUN_STATUS, labels, t, 1.0));
        }
    }

    /** The labels sanitised and sorted by name (remote write requires the order). */
    private static String[][] labels(PointLabels l) throws Refused {
        String clash = l.clash(PrometheusNames::label);
        if (clash != null) {
            throw new Refused("two tags are both label " + clash + " once made Prometheus names");
        }
        int n = l.size();
        Integer[] order = new Integer[n];
        String[] names = new String[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
            names[i] = PrometheusNames.label(l.key(i));
        }
        Arrays.sort(order, (a, b) -> names[a].compareTo(names[b]));
        String[] sortedNames = new String[n];
        String[] sortedValues = new String[n];
        for (int i = 0; i < n; i++) {
            sortedNames[i] = names[order[i]];
            sortedValues[i] = l.value(order[i]);
        }
        return new String[][] {sortedNames, sortedValues};
    }

    /** The point with {@code __name__} in its sorted place (after upper-case names, which sort before '_'). */
    private static Point point(String name, String[][] sortedLabels, long t, double v) {
        String[] from = sortedLabels[0];
        int n = from.length;
        int at = 0;
        while (at < n && from[at].compareTo("__name__") < 0) {
            at++;
        }
        String[] names = new String[n + 1];
        String[] values = new String[n + 1];
        System.arraycopy(from, 0, names, 0, at);
        System.arraycopy(sortedLabels[1], 0, values, 0, at);
        names[at] = "__name__";
        values[at] = name;
        System.arraycopy(from, at, names, at + 1, n - at);
        System.arraycopy(sortedLabels[1], at, values, at + 1, n - at);
        return new Point(names, values, t, v);
    }

    /** The series' identity: every label name, then its value prefixed by its length, so no two label sets share a key. */
    private static String key(String[] names, String[] values) {
        StringBuilder b = new StringBuilder(128);
        for (int i = 0; i < names.length; i++) {
            b.append(names[i]).append('\0').append(values[i].length()).append('\0').append(values[i]);
        }
        return b.toString();
    }

    /** One TimeSeries: labels (field 1: name 1, value 2), then samples (field 2: value 1, timestamp 2) in time order. */
    private static int write(Series s, ProtoWriter w, EncodeReport report) {
        sortByTime(s);
        int series = w.begin(1);
        for (int i = 0; i < s.names.length; i++) {
            int label = w.begin(1);
            w.string(1, s.names[i]);
            w.string(2, s.values[i]);
            w.end(label);
        }
        int written = 0;
        for (int i = 0; i < s.n; i++) {
            if (written > 0 && s.times[i] == s.times[i - 1]) {
                // The one sent at this time is the first; sortByTime keeps equal times in batch order.
                int first = i - 1;
                while (first > 0 && s.times[first - 1] == s.times[i]) {
                    first--;
                }
                if (Double.doubleToLongBits(s.points[i]) != Double.doubleToLongBits(s.points[first])) {
                    report.skip("a second point of one series at the same millisecond with another value");
                }
                continue;
            }
            int sample = w.begin(2);
            w.double64(1, s.points[i]);
            w.int64(2, s.times[i]);
            w.end(sample);
            written++;
        }
        w.end(series);
        return written;
    }

    /** Stable insertion sort: points arrive nearly in order, and equal times keep the first first. */
    private static void sortByTime(Series s) {
        for (int i = 1; i < s.n; i++) {
            long t = s.times[i];
            double v = s.points[i];
            int j = i - 1;
            while (j >= 0 && s.times[j] > t) {
                s.times[j + 1] = s.times[j];
                s.points[j + 1] = s.points[j];
                j--;
            }
            s.times[j + 1] = t;
            s.points[j + 1] = v;
        }
    }
}
