package io.aegisquartz.output.prometheus;

import io.aegisquartz.output.ByteArrayBuilder;
import io.aegisquartz.output.EncodeReport;
import io.aegisquartz.output.EncodeReport.Refused;
import io.aegisquartz.output.PointLabels;
import io.aegisquartz.output.ProtoWriter;
import io.aegisquartz.output.StoredSample;

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
        for (int i = 0; i < samples.size(); i++) {
            try {
                add(StoredSample.parse(samples.get(i)), series, report);
            } catch (StoredSample.NotASample e) {
                report.refuse(i, "not a sample: " + e.getMessage());
            } catch (Refused e) {
                report.refuse(i, e.getMessage());
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


    /** Adds the points of {@code s}, or none if it cannot be sent (everything is checked first). */
    private static void add(StoredSample s, Map<String, Series> series, EncodeReport report) throws Refused {
        String badText = s.invalidUnicode();
        if (badText != null) {
            throw new Refused(badText + " is not valid Unicode");
        }
        String[][] labels = null;
        String[] names = null;
        if (s.valueCount() > 0) {
            labels = labels(PointLabels.of(s, true, false));
            names = new String[s.valueCount()];
            for (int i = 0; i < names.length; i++) {
                String name = PrometheusNames.series(s.metric(), s.valueName(i), s.isCounter(s.valueName(i)));
                for (int j = 0; j < i; j++) {
                    if (name.equals(names[j])) {
                        throw new Refused("values " + EncodeReport.quote(s.valueName(j)) + " and "
                                + EncodeReport.quote(s.valueName(i)) + " are both series " + name);
                    }
                }
                names[i] = name;
            }
        }
        String[][] runLabels = s.hasRunStatusPoint() ? labels(PointLabels.of(s, true, true)) : null;
        long t = s.timeMillis();
        if (names != null) {
            String labelsKey = key(labels);
            for (int i = 0; i < names.length; i++) {
                double v = s.value(i);
                if (!Double.isFinite(v)) {
                    // Prometheus could store NaN and infinities, but the agent never sends them elsewhere either.
                    report.skip("value is not a finite number");
                    continue;
                }
                series(series, names[i], labels, labelsKey).add(t, v);
            }
        }
        if (runLabels != null) {
            series(series, PointLabels.RUN_STATUS, runLabels, key(runLabels)).add(t, 1.0);
        }
    }

    /** The series {@code name} with {@code labels}, made on first use. */
    private static Series series(Map<String, Series> all, String name, String[][] labels, String labelsKey) {
        String key = name + '\0' + labelsKey;
        Series s = all.get(key);
        if (s == null) {
            s = withName(name, labels);
            all.put(key, s);
        }
        return s;
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

    /** A series with {@code __name__} in its sorted place among the labels (after upper-case names, which sort before '_'). */
    private static Series withName(String name, String[][] sortedLabels) {
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
        return new Series(names, values);
    }

    /** The labels' identity: every label name, then its value prefixed by its length, so no two label sets share a key. */
    private static String key(String[][] labels) {
        StringBuilder b = new StringBuilder(128);
        for (int i = 0; i < labels[0].length; i++) {
            b.append(labels[0][i]).append('\0').append(labels[1][i].length()).append('\0').append(labels[1][i]);
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
