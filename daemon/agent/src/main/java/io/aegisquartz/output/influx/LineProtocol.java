package io.aegisquartz.output.influx;

import io.aegisquartz.output.ByteArrayBuilder;
import io.aegisquartz.output.EncodeReport;

/**
 * The tokens of InfluxDB line protocol and their escaping, as the line-protocol reference says:
 * in a measurement, commas and spaces take a backslash; in tag keys, tag values and field keys,
 * commas, equals signs and spaces; in a string field value, double quotes and backslashes. Whether a
 * backslash itself can be written depends on the server ({@link InfluxFlavour}); a token that cannot
 * be written so that the server stores exactly what the sample says is refused with the reason.
 */
final class LineProtocol {

    enum Kind {
        MEASUREMENT("measurement"), TAG_KEY("tag key"), TAG_VALUE("tag value"), FIELD_KEY("field key");

        final String what;

        Kind(String what) {
            this.what = what;
        }

        boolean special(char c) {
            return c == ',' || c == ' ' || (c == '=' && this != MEASUREMENT);
        }
    }

    /** 2^53: every whole double below it is exact and is written without a fraction. */
    private static final double MAX_EXACT = 9_007_199_254_740_992.0;

    private LineProtocol() {
    }

    /** Why {@code s} cannot be written as a {@code kind} for {@code flavour}, or null. */
    static String problem(String s, Kind kind, InfluxFlavour flavour) {
        if (s.isEmpty()) {
            return "an empty " + kind.what;
        }
        if (kind == Kind.MEASUREMENT && s.charAt(0) == '#') {
            return "measurement " + EncodeReport.quote(s) + " starts with '#', which line protocol reads as a comment";
        }
        if (kind == Kind.MEASUREMENT && (s.charAt(0) == '\t' || s.charAt(0) == '\0')) {
            return "measurement " + EncodeReport.quote(s) + " starts with a character the server strips";
        }
        if (kind == Kind.FIELD_KEY && !flavour.keepsQuotesInFieldKeys() && s.indexOf('"') >= 0) {
            return "field key " + EncodeReport.quote(s) + " holds a double quote, which VictoriaMetrics reads as the start of a string";
        }
        for (int i = 0, n = s.length(); i < n; i++) {
            char c = s.charAt(i);
            if (c == '\n' || c == '\r') {
                return kind.what + " " + EncodeReport.quote(s) + " holds a line break, which line protocol cannot carry";
            }
            if (c == '\\' && !flavour.escapesBackslash()) {
                // Written as it is, a backslash escapes what follows; InfluxDB keeps it only where what
                // follows is an ordinary character (so "C:\dir" is fine, "a\ b" and "end\" are not).
                char next = i + 1 < n ? s.charAt(i + 1) : 0;
                if (i + 1 == n || next == '\\' || next == '"' || next == ',' || next == '=' || next == ' ') {
                    return kind.what + " " + EncodeReport.quote(s) + " has a backslash "
                            + (i + 1 == n ? "at its end" : "before '" + next + "'")
                            + ", which InfluxDB cannot store as written";
                }
            }
        }
        return null;
    }

    /** {@code s} as a {@code kind} token: specials escaped, and backslashes too where the flavour reads {@code \\}. */
    static void write(ByteArrayBuilder out, String s, Kind kind, InfluxFlavour flavour) {
        boolean escapeBackslash = flavour.escapesBackslash();
        for (int i = 0, n = s.length(); i < n; i++) {
            char c = s.charAt(i);
            if (c >= 0x80) {
                i = out.utf8Char(s, i);
                continue;
            }
            if (kind.special(c) || (c == '\\' && escapeBackslash)) {
                out.write('\\');
            }
            out.write(c);
        }
    }

    /** A string field value: in double quotes, with {@code "} and {@code \} escaped (every flavour reads both). */
    static void writeString(ByteArrayBuilder out, String s) {
        out.write('"');
        for (int i = 0, n = s.length(); i < n; i++) {
            char c = s.charAt(i);
            if (c >= 0x80) {
                i = out.utf8Char(s, i);
                continue;
            }
            if (c == '"' || c == '\\') {
                out.write('\\');
            }
            out.write(c);
        }
        out.write('"');
    }

    /**
     * A float field value (never an integer: a field written once as an integer and once as a float is
     * a type conflict the server refuses). Whole numbers without a fraction, others in Java's shortest
     * round-trip form, exponent included (1.0E-5), which every flavour parses.
     */
    static void writeDouble(ByteArrayBuilder out, double v) {
        if (v == Math.rint(v) && Math.abs(v) < MAX_EXACT) {
            out.ascii(Long.toString((long) v));
        } else {
            out.ascii(Double.toString(v));
        }
    }
}
