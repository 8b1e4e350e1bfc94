package io.aegisquartz.plugin.exec;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.aegisquartz.plugin.MeasurementCollector;
import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Status;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Turns what an executable printed into measurements: JSON lines if the first non-blank line starts
 * with '{', Nagios plugin output otherwise. See plugins-user/README.md for both formats.
 */
public final class PluginOutput {

    /**
     * Built on the first JSON-lines output, not with the class: an ObjectMapper loads about 280 classes,
     * which an agent running only Groovy and Nagios plugins never needs.
     */
    private static final class Json {
        // One object per line: anything after it (a second object, garbage) makes the line invalid
        // rather than being silently ignored.
        static final ObjectMapper MAPPER = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    }

    private PluginOutput() {
    }

    /** True if {@code stdout} is in the JSON-lines format. */
    public static boolean isJsonLines(String stdout) {
        for (int i = 0; i < stdout.length(); i++) {
            char c = stdout.charAt(i);
            if (!Character.isWhitespace(c)) {
                return c == '{';
            }
        }
        return false;
    }

    /**
     * Parses JSON lines into {@code out}. A sample without its own status takes {@code fallback}
     * (from the exit code). Returns how many lines were read.
     */
    public static int jsonLines(String stdout, String defaultMetric, Status fallback, MeasurementCollector out) {
        int lineNo = 0;
        int count = 0;
        for (String line : stdout.split("\n")) {
            lineNo++;
            String t = line.strip();
            if (t.isEmpty()) {
                continue;
            }
            count++;
            JsonNode node;
            try {
                node = Json.MAPPER.readTree(t);
            } catch (JsonProcessingException e) {
                out.invalid("output line " + lineNo + " is not JSON: " + e.getOriginalMessage());
                continue;
            }
            if (node == null || !node.isObject()) {
                out.invalid("output line " + lineNo + " is not a JSON object");
                continue;
            }
            String problem = measurement(node, defaultMetric, fallback, out);
            if (problem != null) {
                out.invalid("output line " + lineNo + ": " + problem);
            }
        }
        return count;
    }

    /** Fields a JSON line may have. */
    static final java.util.Set<String> FIELDS = java.util.Set.of("metric", "values", "tags", "units", "status", "message");

    private static String measurement(JsonNode node, String defaultMetric, Status fallback, MeasurementCollector out) {
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!FIELDS.contains(f)) {
                // A typo ("value", "unit") would otherwise lose data without a word.
                return "unknown field '" + f + "'; allowed: metric, values, tags, units, status, message";
            }
        }
        String metric = node.hasNonNull("metric") ? node.get("metric").asText() : defaultMetric;
        Status status = fallback;
        if (node.hasNonNull("status")) {
            status = Status.pluginStatus(node.get("status").asText());
            if (status == null) {
                return "status '" + node.get("status").asText() + "' is not one of ok, warning, critical, unknown";
            }
        }
        Map<String, Double> values = new LinkedHashMap<>();
        JsonNode v = node.get("values");
        if (v != null && !v.isNull()) {
            if (!v.isObject()) {
                return "'values' must be an object of numbers";
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = v.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (!e.getValue().isNumber()) {
                    return "value '" + e.getKey() + "' is not a number";
                }
                values.put(e.getKey(), e.getValue().asDouble());
            }
        }
        Map<String, String> tags = strings(node.get("tags"));
        Map<String, String> units = strings(node.get("units"));
        if (tags == null || units == null) {
            return "'tags' and 'units' must be objects of strings";
        }
        String message = node.hasNonNull("message") ? node.get("message").asText() : null;
        out.add(new Measurement(System.currentTimeMillis(), metric, status, message, values, units, tags));
        return null;
    }

    private static Map<String, String> strings(JsonNode n) {
        Map<String, String> out = new LinkedHashMap<>();
        if (n == null || n.isNull()) {
            return out;
        }
        if (!n.isObject()) {
            return null;
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getValue().isNull()) {
                continue; // a null tag is an absent tag, not the text "null"
            }
            if (!e.getValue().isValueNode()) {
                return null;
            }
            out.put(e.getKey(), e.getValue().asText());
        }
        return out;
    }

    /**
     * Parses Nagios plugin output: the first line is "TEXT | PERFDATA", later lines are long text,
     * and from the first '|' in them on, more perfdata.
     */
    public static void nagios(String stdout, String metric, Status status, MeasurementCollector out) {
        String[] lines = stdout.split("\n", -1);
        String first = lines.length > 0 ? lines[0] : "";
        StringBuilder perf = new StringBuilder();
        int bar = first.indexOf('|');
        String message = (bar < 0 ? first : first.substring(0, bar)).strip();
        if (bar >= 0) {
            perf.append(first.substring(bar + 1)).append(' ');
        }
        boolean inPerf = false;
        for (int i = 1; i < lines.length; i++) {
            String l = lines[i];
            if (inPerf) {
                perf.append(l).append(' ');
                continue;
            }
            int b = l.indexOf('|');
            if (b >= 0) {
                inPerf = true;
                perf.append(l.substring(b + 1)).append(' ');
            }
        }
        Map<String, Double> values = new LinkedHashMap<>();
        Map<String, String> units = new LinkedHashMap<>();
        Perfdata.Parsed parsed = Perfdata.parse(perf.toString());
        for (Perfdata.Item item : parsed.items()) {
            if (putIfValid(values, metric, item.label(), item.value(), out) && !item.unit().isEmpty()) {
                units.put(item.label(), item.unit());
            }
            putIfValid(values, metric, item.label() + ".warn", Perfdata.Item.plain(item.warn()), out);
            putIfValid(values, metric, item.label() + ".crit", Perfdata.Item.plain(item.crit()), out);
            putIfValid(values, metric, item.label() + ".min", item.min(), out);
            putIfValid(values, metric, item.label() + ".max", item.max(), out);
        }
        for (String p : parsed.problems()) {
            out.invalid(p);
        }
        out.add(new Measurement(System.currentTimeMillis(), metric, status, message.isEmpty() ? null : message,
                values, units, Map.of()));
    }

    /**
     * Puts a perfdata value if there is one and the agent can send it; one it cannot (label too long,
     * number out of range) is reported like a garbage item, so it does not cost the plugin's status.
     */
    private static boolean putIfValid(Map<String, Double> values, String metric, String key, Double v,
                                      MeasurementCollector out) {
        if (v == null) {
            return false;
        }
        String problem = MeasurementCollector.valueProblem(key, v);
        if (problem != null) {
            out.invalid("metric " + metric + ": perfdata " + problem);
            return false;
        }
        values.put(key, v);
        return true;
    }
}
