package io.aegisquartz.output.prometheus;

/**
 * Prometheus' naming rules (prometheus.io, "Data model"): metric names match
 * {@code [a-zA-Z_:][a-zA-Z0-9_:]*}, label names {@code [a-zA-Z_][a-zA-Z0-9_]*}, and label names
 * starting with {@code __} are reserved. Anything else becomes {@code _}, as Prometheus' own
 * exporters and the OpenTelemetry translation do.
 */
final class PrometheusNames {

    private PrometheusNames() {
    }

    /** {@code metric}_{@code value} as a metric name; a counter (unit {@code c}) gets {@code _total}. */
    static String series(String metric, String value, boolean counter) {
        String name = sanitise(metric + "_" + value, true);
        return counter && !name.endsWith("_total") ? name + "_total" : name;
    }

    /** A label name: sanitised, and {@code tag} before one that would start with the reserved {@code __}. */
    static String label(String name) {
        String s = sanitise(name, false);
        return s.startsWith("__") ? "tag" + s : s;
    }

    static String sanitise(String name, boolean colonAllowed) {
        if (name.isEmpty()) {
            return "_";
        }
        StringBuilder b = null;
        for (int i = 0, n = name.length(); i < n; i++) {
            char c = name.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colonAllowed && c == ':')
                    || (i > 0 && c >= '0' && c <= '9');
            if (!ok && b == null) {
                b = new StringBuilder(n + 1).append(name, 0, i);
            }
            if (b != null) {
                if (ok) {
                    b.append(c);
                } else if (i == 0 && c >= '0' && c <= '9') {
                    b.append('_').append(c); // keep the digit: "5xx" is "_5xx", not "_xx"
                } else {
                    b.append('_');
                    if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(name.charAt(i + 1))) {
                        i++; // one character, one underscore
                    }
                }
            }
        }
        return b == null ? name : b.toString();
    }
}
