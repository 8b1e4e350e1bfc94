package io.aegisquartz.plugin;

import io.aegisquartz.api.SampleBuilder;
import io.aegisquartz.config.Units;
import io.aegisquartz.log.LogText;
import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Status;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Collects what one run emits, checking every measurement against docs/SAMPLES.md ("Limits") and
 * enforcing the per-run caps on samples and their size.
 *
 * <p>An invalid measurement (bad metric name, NaN value, too many values) is dropped and counted
 * rather than failing the run, so one bad line does not cost the good ones; the run then carries an
 * {@code error} measurement saying how many were dropped and why. Once {@link #seal()}ed, for example
 * because the run hit its limit, further emissions from a plugin thread that is still going are
 * ignored. Each emission also checks the run's budget ({@link RunBudget#checkAtSample()}): for a JAR
 * sampler that is where its allocation is looked at.
 */
public final class MeasurementCollector {

    private static final Pattern METRIC = Pattern.compile("[A-Za-z_][A-Za-z0-9_.:-]{0,199}");
    private static final Pattern UNIT = Pattern.compile("[A-Za-z0-9_%/.^-]{1,32}");
    private static final int MAX_NAME = 200;
    private static final int MAX_TEXT = 1024;
    /** Longest message a sample may carry; the agent's own messages are cut to it. */
    public static final int MAX_MESSAGE = 4 * MAX_TEXT;
    /** Values one sample may hold; units follow values. */
    public static final int MAX_VALUES = 1000;
    /** Tags one sample may hold. */
    public static final int MAX_TAGS = 100;
    /** What a value costs in a run's size besides its name (docs/SAMPLES.md, "Limits"). */
    static final int VALUE_SIZE = 8;

    private final int maxSamples;
    private final long maxSize;
    private final List<Measurement> out = new ArrayList<>();
    private long size;
    private int dropped;
    private int droppedForSize;
    private int invalid;
    private String firstInvalid;
    private boolean sealed;
    private boolean outputCut;

    /** A collector with the default cap on the size of a run's samples. */
    public MeasurementCollector(int maxSamples) {
        this(maxSamples, io.aegisquartz.config.JobOptions.defaultMaxBytes());
    }

    /**
     * @param maxSamples samples kept per run
     * @param maxSize    size of the samples kept per run, as {@link #size(Measurement)} counts it
     */
    public MeasurementCollector(int maxSamples, long maxSize) {
        this.maxSamples = maxSamples;
        this.maxSize = maxSize;
    }

    /** Adds a measurement if it is valid and there is room. */
    public void add(Measurement m) {
        RunBudget.checkAtSample();
        addChecked(m);
    }

    private synchronized void addChecked(Measurement m) {
        if (sealed) {
            return;
        }
        String problem = problem(m);
        if (problem != null) {
            invalid(problem);
            return;
        }
        if (out.size() >= maxSamples) {
            dropped++;
            return;
        }
        long s = size(m);
        if (size + s > maxSize) {
            droppedForSize++;
            return;
        }
        size += s;
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
        return dropped > 0 || droppedForSize > 0 || outputCut;
    }

    /** Seals and returns what was collected, plus an error measurement if some were invalid. */
    public synchronized List<Measurement> finish(String defaultMetric) {
        sealed = true;
        List<Measurement> result = new ArrayList<>(out);
        if (invalid > 0) {
            result.add(Measurement.status(System.currentTimeMillis(), defaultMetric, Status.ERROR,
                    invalid + " invalid sample(s) dropped; first: " + firstInvalid));
        }
        if (droppedForSize > 0) {
            result.add(Measurement.status(System.currentTimeMillis(), defaultMetric, Status.ERROR,
                    droppedForSize + " sample(s) dropped: the run's samples reached max_bytes=" + Units.formatBytes(maxSize)
                            + " (counted as docs/SAMPLES.md says; " + out.size() + " sample(s) of " + Units.formatBytesRounded(size) + " kept)"));
        }
        return result;
    }

    /**
     * What {@code m} counts toward a run's {@code max_bytes}: the characters of its metric name,
     * message, value names, units, tag names and tag values, plus {@value #VALUE_SIZE} per value.
     */
    static long size(Measurement m) {
        long n = m.metric().length() + (m.message() == null ? 0 : m.message().length());
        for (String k : m.values().keySet()) {
            n += k.length() + VALUE_SIZE;
        }
        for (Map.Entry<String, String> e : m.units().entrySet()) {
            n += e.getKey().length() + e.getValue().length();
        }
        for (Map.Entry<String, String> e : m.tags().entrySet()) {
            n += e.getKey().length() + e.getValue().length();
        }
        return n;
    }

    /** Why {@code m} is not acceptable, or null. */
    static String problem(Measurement m) {
        if (m.metric() == null || !METRIC.matcher(m.metric()).matches()) {
            return "metric name '" + abbreviate(m.metric()) + "' must start with a letter or '_' and hold only letters, "
                    + "digits, '_', '.', ':' or '-' (at most 200)";
        }
        if (m.values().size() > MAX_VALUES) {
            return "metric " + m.metric() + ": " + m.values().size() + " values; at most " + MAX_VALUES + " per sample";
        }
        if (m.tags().size() > MAX_TAGS) {
            return "metric " + m.metric() + ": " + m.tags().size() + " tags; at most " + MAX_TAGS + " per sample";
        }
        for (Map.Entry<String, Double> e : m.values().entrySet()) {
            String p = valueProblem(e.getKey(), e.getValue());
            if (p != null) {
                return "metric " + m.metric() + ": " + p;
            }
        }
        for (Map.Entry<String, String> e : m.units().entrySet()) {
            if (!m.values().containsKey(e.getKey())) {
                return "metric " + m.metric() + ": unit for '" + abbreviate(e.getKey()) + "', which is not one of its values";
            }
            if (e.getValue() == null || !UNIT.matcher(e.getValue()).matches()) {
                return "metric " + m.metric() + ": unit '" + abbreviate(e.getValue()) + "' of " + abbreviate(e.getKey())
                        + " must be 1-32 letters, digits or _ % / . ^ -";
            }
        }
        for (Map.Entry<String, String> e : m.tags().entrySet()) {
            if (e.getKey() == null || !METRIC.matcher(e.getKey()).matches()) {
                return "metric " + m.metric() + ": tag name '" + abbreviate(e.getKey()) + "' must start with a letter or '_' and hold "
                        + "only letters, digits, '_', '.', ':' or '-' (at most 200)";
            }
            if (e.getValue() == null || e.getValue().length() > MAX_TEXT || !cleanText(e.getValue())) {
                return "metric " + m.metric() + ": tag " + e.getKey() + ": value '" + abbreviate(e.getValue())
                        + "' must be at most 1024 characters, without control characters or unpaired surrogates";
            }
        }
        if (m.message() != null && m.message().length() > MAX_MESSAGE) {
            return "metric " + m.metric() + ": message of " + m.message().length() + " characters; at most " + MAX_MESSAGE;
        }
        if (m.message() != null && !wellFormed(m.message())) {
            return "metric " + m.metric() + ": message has an unpaired surrogate (not valid Unicode)";
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
        return s != null && !s.isEmpty() && s.length() <= MAX_NAME && cleanText(s);
    }

    /** No control characters (C0, DEL, C1) and no unpaired surrogates. */
    private static boolean cleanText(String s) {
        for (int i = 0; i < s.length(); i++) {
            if (Character.isISOControl(s.charAt(i))) {
                return false;
            }
        }
        return wellFormed(s);
    }

    /** No unpaired surrogates: the text can be written as UTF-8. */
    private static boolean wellFormed(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c)) {
                if (i + 1 >= s.length() || !Character.isLowSurrogate(s.charAt(i + 1))) {
                    return false;
                }
                i++;
            } else if (Character.isLowSurrogate(c)) {
                return false;
            }
        }
        return true;
    }

    /** A name or value as a message quotes it: at most 40 characters, escaped. */
    private static String abbreviate(String s) {
        return LogText.escape(s, 40);
    }

    private final class Builder implements SampleBuilder {
        private final String metric;
        private final Map<String, Double> values = new LinkedHashMap<>();
        private final Map<String, String> units = new LinkedHashMap<>();
        private final Map<String, String> tags = new LinkedHashMap<>();
        private Status status = Status.OK;
        private String message;
        private boolean emitted;
        /** Values and tags past the cap: counted, not kept, so that a loop of value() calls cannot fill the heap. */
        private int valuesOver;
        private int tagsOver;

        Builder(String metric) {
            this.metric = metric;
        }

        @Override
        public SampleBuilder value(String name, double value) {
            if (values.size() < MAX_VALUES || values.containsKey(name)) {
                values.put(name, value);
            } else {
                valuesOver++;
            }
            return this;
        }

        @Override
        public SampleBuilder value(String name, double value, String unit) {
            int before = valuesOver;
            value(name, value);
            if (valuesOver == before && unit != null && !unit.isEmpty()) {
                units.put(name, unit);
            }
            return this;
        }

        @Override
        public SampleBuilder tag(String name, String value) {
            if (tags.size() < MAX_TAGS || tags.containsKey(name)) {
                tags.put(name, value);
            } else {
                tagsOver++;
            }
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
            if (valuesOver > 0 || tagsOver > 0) {
                RunBudget.checkAtSample();
                invalid("metric " + abbreviate(metric) + ": more than " + (valuesOver > 0 ? MAX_VALUES + " values" : "")
                        + (valuesOver > 0 && tagsOver > 0 ? " and more than " : "") + (tagsOver > 0 ? MAX_TAGS + " tags" : "")
                        + "; at most " + MAX_VALUES + " values and " + MAX_TAGS + " tags per sample; sample dropped");
                return;
            }
            add(new Measurement(System.currentTimeMillis(), metric, status, message, values, units, tags));
        }
    }
}
