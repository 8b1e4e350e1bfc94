package io.aegisquartz.plugin;

import io.aegisquartz.api.SampleBuilder;
import io.aegisquartz.log.LogText;
import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Status;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Collects what one run emits, checking every measurement and enforcing the per-run sample cap.
 *
 * <p>An invalid measurement (bad metric name, NaN value) is dropped and counted rather than failing the
 * run, so one bad line does not cost the good ones; the run then carries an {@code error} measurement
 * saying how many were dropped and why. Once {@link #seal()}ed, for example because the run hit its
 * limit, further emissions from a plugin thread that is still going are ignored.
 */
public final class MeasurementCollector {

    private static final Pattern METRIC = Pattern.compile("[A-Za-z_][A-Za-z0-9_.:-]{0,199}");
    private static final int MAX_NAME = 200;
    private static final int MAX_TEXT = 1024;
    /** Longest message a sample may carry; the agent's own messages are cut to it. */
    public static final int MAX_MESSAGE = 4 * MAX_TEXT;

    private final int maxSamples;
    private final List<Measurement> out = new ArrayList<>();
    private int dropped;
    private int invalid;
    private String firstInvalid;
    private boolean sealed;
    private boolean outputCut;

    public MeasurementCollector(int maxSamples) {
        this.maxSamples = maxSamples;
    }

    /** Adds a measurement if it is valid and there is room. */
    public synchronized void add(Measurement m) {
        if (sealed) {
            return;
        }
        String problem = problem(m);
        if (problem != null) {
            invalid++;
            if (firstInvalid == null) {
                firstInvalid = problem;
            }
            return;
        }
        if (out.size() >= maxSamples) {
            dropped++;
            return;
        }
        out.add(m);
    }

    /** Records a problem found before a measurement could even be built (a garbled output line). */
    public synchronized void invalid(String problem) {
        if (sealed) {
            return;
        }
        invalid++;
        if (firstInvalid == null) {
            // It quotes the plugin's output: cut so that the error sample stays within MAX_MESSAGE.
            firstInvalid = LogText.escape(problem, MAX_TEXT);
        }
    }

    /** A builder whose {@code emit()} adds to this collector. */
    public SampleBuilder builder(String metric) {
        return new Builder(metric);
    }

    /** Stops accepting measurements. */
    public synchronized void seal() {
        sealed = true;
    }

    /** Records that some output was cut (a command run by the plugin hit the output cap). */
    public synchronized void markTruncated() {
        outputCut = true;
    }

    /** True if some measurements were dropped at the cap, or some output was cut. */
    public synchronized boolean truncated() {
        return dropped > 0 || outputCut;
    }

    /** Seals and returns what was collected, plus an error measurement if some were invalid. */
    public synchronized List<Measurement> finish(String defaultMetric) {
        sealed = true;
        List<Measurement> result = new ArrayList<>(out);
        if (invalid > 0) {
            result.add(Measurement.status(System.currentTimeMillis(), defaultMetric, Status.ERROR,
                    invalid + " invalid sample(s) dropped; first: " + firstInvalid));
        }
        return result;
    }

    /** Why {@code m} is not acceptable, or null. */
    static String problem(Measurement m) {
        if (m.metric() == null || !METRIC.matcher(m.metric()).matches()) {
            return "metric name '" + abbreviate(m.metric()) + "' must start with a letter or '_' and hold only letters, "
                    + "digits, '_', '.', ':' or '-' (at most 200)";
        }
        for (Map.Entry<String, Double> e : m.values().entrySet()) {
            String p = valueProblem(e.getKey(), e.getValue());
            if (p != null) {
                return "metric " + m.metric() + ": " + p;
            }
        }
        for (Map.Entry<String, String> e : m.tags().entrySet()) {
            if (!validName(e.getKey()) || e.getValue() == null || e.getValue().length() > MAX_TEXT) {
                return "metric " + m.metric() + ": tag '" + abbreviate(e.getKey()) + "' has a bad name or a value over 1024 characters";
            }
        }
        if (m.message() != null && m.message().length() > 4 * MAX_TEXT) {
            return "metric " + m.metric() + ": message longer than 4096 characters";
        }
        return null;
    }

    /** Why a value named {@code name} cannot be sent, or null. */
    public static String valueProblem(String name, double v) {
        if (!validName(name)) {
            return "value name '" + abbreviate(name) + "' is empty, too long or has control characters";
        }
        if (Double.isNaN(v) || Double.isInfinite(v)) {
            return "value " + name + " is " + v + "; only finite numbers can be sent";
        }
        return null;
    }

    private static boolean validName(String s) {
        if (s == null || s.isEmpty() || s.length() > MAX_NAME) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            if (Character.isISOControl(s.charAt(i))) {
                return false;
            }
        }
        return true;
    }

    private static String abbreviate(String s) {
        if (s == null) {
            return "null";
        }
        return s.length() > 40 ? s.substring(0, 40) + "..." : s;
    }

    private final class Builder implements SampleBuilder {
        private final String metric;
        private final Map<String, Double> values = new LinkedHashMap<>();
        private final Map<String, String> units = new LinkedHashMap<>();
        private final Map<String, String> tags = new LinkedHashMap<>();
        private Status status = Status.OK;
        private String message;
        private boolean emitted;

        Builder(String metric) {
            this.metric = metric;
        }

        @Override
        public SampleBuilder value(String name, double value) {
            values.put(name, value);
            return this;
        }

        @Override
        public SampleBuilder value(String name, double value, String unit) {
            values.put(name, value);
            if (unit != null && !unit.isEmpty()) {
                units.put(name, unit);
            }
            return this;
        }

        @Override
        public SampleBuilder tag(String name, String value) {
            tags.put(name, value);
            return this;
        }

        @Override
        public SampleBuilder status(io.aegisquartz.api.Status s) {
            status = Status.of(s);
            return this;
        }

        @Override
        public SampleBuilder message(String m) {
            message = m;
            return this;
        }

        @Override
        public void emit() {
            if (emitted) {
                throw new IllegalStateException("sample " + metric + " was already emitted; start a new one with sample()");
            }
            emitted = true;
            add(new Measurement(System.currentTimeMillis(), metric, status, message, values, units, tags));
        }
    }
}
