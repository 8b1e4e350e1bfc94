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
     * VictoriaMetrics {@code /write}: a backslash escapes any character, {@code \\} included, so every
     * name can be written; string fields are stored as the number 0, so none is sent.
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

    /** Whether a string field (the run-status message) is stored as text. */
    boolean keepsStrings() {
        return this != VICTORIAMETRICS;
    }
}
