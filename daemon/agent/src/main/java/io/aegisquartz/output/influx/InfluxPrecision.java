package io.aegisquartz.output.influx;

import java.util.Locale;

/**
 * The unit of the timestamps written (the {@code precision} query parameter). Samples carry
 * milliseconds: {@code ms} (the default) writes them exactly in the fewest digits; {@code s} cuts
 * them to the second, so two samples of one series in one second keep only the later.
 */
public enum InfluxPrecision {
    NS, US, MS, S;

    /** The config form: ns, us, ms, s. */
    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The query parameter value the server expects: 1.x says n and u where 2.x and VictoriaMetrics say ns and us. */
    public String parameter(InfluxFlavour flavour) {
        if (flavour == InfluxFlavour.INFLUXDB1) {
            return switch (this) {
                case NS -> "n";
                case US -> "u";
                case MS -> "ms";
                case S -> "s";
            };
        }
        return configName();
    }

    /** {@code epochMillis} in this unit. */
    public long convert(long epochMillis) {
        return switch (this) {
            case NS -> epochMillis * 1_000_000L;
            case US -> epochMillis * 1_000L;
            case MS -> epochMillis;
            case S -> Math.floorDiv(epochMillis, 1000L);
        };
    }
}
