package io.aegisquartz.output.influx;

import java.util.Locale;

/**
 * Which server reads the line protocol: their parsers differ in what a backslash means, and in
 * whether a string field is kept (docs/OUTPUTS.md).
 */
public enum InfluxFlavour {
    /**
     * InfluxDB 1.x {@code /write}: a backslash escapes only the character a token would otherwise
     * end at, and is otherwise kept as written; the keys {@code time} are refused by the server.
     */
    INFLUXDB1,
    /** InfluxDB 2.x {@code /api/v2/write}: the same parser lineage and rules as 1.x. */
    INFLUXDB2,
    /**
     * VictoriaMetrics {@code /write}: a backslash escapes a space, comma, equals sign or backslash, so
     * every tag can be written; a double quote in a field key starts a string there, and string fields
     * are stored as the number 0, so neither is sent. Values keep 12 significant digits.
     */
    VICTORIAMETRICS;

    /** The config form: influxdb1, influxdb2, victoriametrics. */
    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Whether {@code \\} stands for one backslash (else backslashes are literal and some cannot be written). */
    boolean escapesBackslash() {
        return this == VICTORIAMETRICS;
    }

    /** Whether the server refuses a tag or field key named {@code time} (InfluxDB: "invalid tag key"). */
    boolean reservesTime() {
        return this != VICTORIAMETRICS;
    }

    /** Whether a double quote in a field key is kept as a character (VictoriaMetrics takes it for a string's start). */
    boolean keepsQuotesInFieldKeys() {
        return this != VICTORIAMETRICS;
    }

    /** Whether a string field (the run-status message) is stored as text. */
    boolean keepsStrings() {
        return this != VICTORIAMETRICS;
    }
}
