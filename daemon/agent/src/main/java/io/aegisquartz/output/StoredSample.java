package io.aegisquartz.output;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;

import java.io.IOException;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Arrays;

/**
 * One sample read back from its JSON as stored (docs/SAMPLES.md), for the outputs that turn samples
 * into another format. Reads with Jackson's streaming parser into plain arrays: no tree, no maps, one
 * pass (measured in bench/output-encode).
 *
 * <p>Fields a reader does not know are skipped, as the format requires. A JSON that is not a sample
 * (not an object, a required field missing or of the wrong type) is refused with the reason, so an
 * output can dead-letter it rather than fail its whole batch.
 */
public final class StoredSample {

    /** What {@link #parse} throws: the JSON is not a sample an output can send. */
    public static final class NotASample extends Exception {
        public NotASample(String why) {
            super(why, null, false, false);
        }
    }

    private static final JsonFactory JSON = JsonFactory.builder()
            // The agent writes values within double range; a larger literal is still a number, not an error.
            .streamReadConstraints(StreamReadConstraints.builder().maxNumberLength(1000).build())
            .build();
    private static final String[] NONE = new String[0];
    private static final double[] NO_VALUES = new double[0];

    private String id;
    private long timeMillis;
    private String hostUuid;
    private String hostname;
    private String job;
    private String plugin;
    private String metric;
    private String status;
    private String message;
    private String[] valueNames = NONE;
    private double[] values = NO_VALUES;
    private String[] unitNames = NONE;
    private String[] units = NONE;
    private String[] tagKeys = NONE;
    private String[] tagValues = NONE;
    private boolean truncated;

    private StoredSample() {
    }

    /** Reads one sample; throws {@link NotASample} saying why it cannot be one. */
    public static StoredSample parse(byte[] json) throws NotASample {
        StoredSample s = new StoredSample();
        String time = null;
        try (JsonParser p = JSON.createParser(json)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new NotASample("not a JSON object");
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken t = p.nextToken();
                switch (field) {
                    case "id" -> s.id = text(p, t, field);
                    case "time" -> time = text(p, t, field);
                    case "host_uuid" -> s.hostUuid = text(p, t, field);
                    case "hostname" -> s.hostname = text(p, t, field);
                    case "job" -> s.job = text(p, t, field);
                    case "plugin" -> s.plugin = text(p, t, field);
                    case "metric" -> s.metric = text(p, t, field);
                    case "status" -> s.status = text(p, t, field);
                    case "message" -> s.message = t == JsonToken.VALUE_NULL ? null : text(p, t, field);
                    case "values" -> s.readValues(p, t);
                    case "units" -> s.readUnits(p, t);
                    case "tags" -> s.readTags(p, t);
                    case "truncated" -> s.truncated = t == JsonToken.VALUE_TRUE;
                    default -> p.skipChildren();
                }
            }
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new NotASample("not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new NotASample("not valid JSON: " + e.getMessage());
        }
        for (String[] required : new String[][] {{"id", s.id}, {"time", time}, {"host_uuid", s.hostUuid},
                {"hostname", s.hostname}, {"job", s.job}, {"metric", s.metric}, {"status", s.status}}) {
            if (required[1] == null) {
                throw new NotASample("no '" + required[0] + "'");
            }
        }
        if (s.plugin == null) {
            s.plugin = "";
        }
        s.timeMillis = epochMillis(time);
        return s;
    }

    private static String text(JsonParser p, JsonToken t, String field) throws IOException, NotASample {
        if (t != JsonToken.VALUE_STRING) {
            throw new NotASample("'" + field + "' is not a string");
        }
        return p.getText();
    }

    private void readValues(JsonParser p, JsonToken t) throws IOException, NotASample {
        if (t != JsonToken.START_OBJECT) {
            throw new NotASample("'values' is not an object");
        }
        String[] names = new String[8];
        double[] v = new double[8];
        int n = 0;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            JsonToken vt = p.nextToken();
            if (vt != JsonToken.VALUE_NUMBER_INT && vt != JsonToken.VALUE_NUMBER_FLOAT) {
                throw new NotASample("value '" + name + "' is not a number");
            }
            if (n == names.length) {
                names = Arrays.copyOf(names, n * 2);
                v = Arrays.copyOf(v, n * 2);
            }
            names[n] = name;
            v[n++] = p.getDoubleValue();
        }
        valueNames = Arrays.copyOf(names, n);
        values = Arrays.copyOf(v, n);
    }

    private void readUnits(JsonParser p, JsonToken t) throws IOException, NotASample {
        String[][] kv = stringMap(p, t, "units");
        unitNames = kv[0];
        units = kv[1];
    }

    private void readTags(JsonParser p, JsonToken t) throws IOException, NotASample {
        String[][] kv = stringMap(p, t, "tags");
        tagKeys = kv[0];
        tagValues = kv[1];
    }

    private static String[][] stringMap(JsonParser p, JsonToken t, String field) throws IOException, NotASample {
        if (t != JsonToken.START_OBJECT) {
            throw new NotASample("'" + field + "' is not an object");
        }
        String[] keys = new String[4];
        String[] vals = new String[4];
        int n = 0;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String k = p.currentName();
            if (p.nextToken() != JsonToken.VALUE_STRING) {
                throw new NotASample("'" + field + "' entry '" + k + "' is not a string");
            }
            if (n == keys.length) {
                keys = Arrays.copyOf(keys, n * 2);
                vals = Arrays.copyOf(vals, n * 2);
            }
            keys[n] = k;
            vals[n++] = p.getText();
        }
        return new String[][] {Arrays.copyOf(keys, n), Arrays.copyOf(vals, n)};
    }

    /** The documented form 2026-11-22T01:32:30.236Z, by hand (this runs for every sample); else ISO-8601. */
    static long epochMillis(String time) throws NotASample {
        if (time.length() == 24 && time.charAt(4) == '-' && time.charAt(7) == '-' && time.charAt(10) == 'T'
                && time.charAt(13) == ':' && time.charAt(16) == ':' && time.charAt(19) == '.' && time.charAt(23) == 'Z') {
            int year = digits(time, 0, 4);
            int month = digits(time, 5, 2);
            int day = digits(time, 8, 2);
            int hour = digits(time, 11, 2);
            int minute = digits(time, 14, 2);
            int second = digits(time, 17, 2);
            int milli = digits(time, 20, 3);
            if (year >= 0 && month >= 1 && month <= 12 && day >= 1 && day <= 31 && hour >= 0 && hour < 24
                    && minute >= 0 && minute < 60 && second >= 0 && second < 60 && milli >= 0) {
                try {
                    long epochDay = java.time.LocalDate.of(year, month, day).toEpochDay();
                    return ((epochDay * 24 + hour) * 60 + minute) * 60_000L + second * 1000L + milli;
                } catch (java.time.DateTimeException e) {
                    throw new NotASample("'time' " + time + " is not a date");
                }
            }
        }
        try {
            return Instant.parse(time).toEpochMilli();
        } catch (DateTimeParseException | ArithmeticException e) {
            throw new NotASample("'time' is not an ISO-8601 UTC time");
        }
    }

    /** The decimal number at {@code from}, or -1 if a character is not a digit. */
    private static int digits(String s, int from, int n) {
        int v = 0;
        for (int i = from; i < from + n; i++) {
            char c = s.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            v = v * 10 + (c - '0');
        }
        return v;
    }

    public String id() {
        return id;
    }

    /** When the value was taken, epoch ms. */
    public long timeMillis() {
        return timeMillis;
    }

    public String hostUuid() {
        return hostUuid;
    }

    public String hostname() {
        return hostname;
    }

    public String job() {
        return job;
    }

    public String plugin() {
        return plugin;
    }

    public String metric() {
        return metric;
    }

    /** The status as written: ok, warning, ..., or one a later version adds. */
    public String status() {
        return status;
    }

    /** The message, or null. */
    public String message() {
        return message;
    }

    public int valueCount() {
        return values.length;
    }

    public String valueName(int i) {
        return valueNames[i];
    }

    public double value(int i) {
        return values[i];
    }

    /** The unit of the value named {@code name}, or null. */
    public String unit(String name) {
        for (int i = 0; i < unitNames.length; i++) {
            if (unitNames[i].equals(name)) {
                return units[i];
            }
        }
        return null;
    }

    /**
     * Whether the value named {@code name} is a counter: its unit is {@code c}, the Nagios
     * performance-data unit for a continuous counter (docs/SAMPLES.md), a total that only grows.
     */
    public boolean isCounter(String name) {
        return "c".equals(unit(name));
    }

    public int tagCount() {
        return tagKeys.length;
    }

    public String tagKey(int i) {
        return tagKeys[i];
    }

    public String tagValue(int i) {
        return tagValues[i];
    }

    public boolean truncated() {
        return truncated;
    }

    /**
     * Whether this sample gets a point in the run-status series ({@code aegis_run_status}): when it
     * has no value, or its status says the run failed or did not happen (anything but the plugin
     * statuses ok, warning, critical and unknown: error, timeout, cpu_limit, killed, skipped, dropped
     * and any a later version adds). So a missing value shows in the backend as a reason, not a gap.
     */
    public boolean hasRunStatusPoint() {
        return values.length == 0 || !isPluginStatus(status);
    }

    private static boolean isPluginStatus(String s) {
        return s.equals("ok") || s.equals("warning") || s.equals("critical") || s.equals("unknown");
    }

    /**
     * Where this sample holds text that is not valid Unicode (half of a surrogate pair, which JSON can
     * carry as an escape but UTF-8 cannot): "a tag", "its message" and the like, never the text
     * itself; null if none. Backends refuse a whole request for such text, so outputs refuse the
     * sample instead.
     */
    public String invalidUnicode() {
        if (broken(metric) || broken(job) || broken(hostname) || broken(hostUuid) || broken(status)) {
            return "its metric, job, host name or status";
        }
        if (broken(message)) {
            return "its message";
        }
        for (String n : valueNames) {
            if (broken(n)) {
                return "a value name";
            }
        }
        for (int i = 0; i < tagKeys.length; i++) {
            if (broken(tagKeys[i]) || broken(tagValues[i])) {
                return "a tag";
            }
        }
        for (String u : units) {
            if (broken(u)) {
                return "a unit";
            }
        }
        return null;
    }

    /** Whether {@code s} is valid Unicode: no half of a surrogate pair on its own. */
    public static boolean validUnicode(String s) {
        return !broken(s);
    }

    private static boolean broken(String s) {
        if (s == null) {
            return false;
        }
        for (int i = 0, n = s.length(); i < n; i++) {
            char c = s.charAt(i);
            if (Character.isSurrogate(c)) {
                if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
                    i++;
                } else {
                    return true;
                }
            }
        }
        return false;
    }
}
