package io.aegisquartz.config;

import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parses and prints the duration and byte-size values used in config files. */
public final class Units {

    /** What a duration may look like, for error messages. */
    public static final String DURATION_FORMS = "a number with a unit: ms, s, m, h or d (e.g. 500ms, 30s, 5m); a bare number means seconds";
    /** What a size may look like, for error messages. */
    public static final String SIZE_FORMS = "a number with a unit: B, KiB, MiB, GiB, TiB (or KB, MB, GB, TB = powers of 1000), e.g. 64KiB; a bare number means bytes";

    private static final Pattern DURATION = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*(ms|s|m|h|d)?");
    private static final Pattern SIZE = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*(b|kib|mib|gib|tib|kb|mb|gb|tb|k|m|g|t)?");

    private Units() {
    }

    /** Parses "30s", "500ms", "1.5m"; null if the text is not a duration. */
    public static Duration parseDuration(String text) {
        Matcher m = DURATION.matcher(text.strip());
        if (!m.matches()) {
            return null;
        }
        double n = Double.parseDouble(m.group(1));
        String unit = m.group(2) == null ? "s" : m.group(2);
        double millis = switch (unit) {
            case "ms" -> n;
            case "s" -> n * 1_000;
            case "m" -> n * 60_000;
            case "h" -> n * 3_600_000;
            default -> n * 86_400_000;
        };
        if (millis > Long.MAX_VALUE / 2) {
            return null;
        }
        return Duration.ofMillis(Math.round(millis));
    }

    /** Parses "64KiB", "1MiB", "500KB", "1024"; -1 if the text is not a size. */
    public static long parseBytes(String text) {
        Matcher m = SIZE.matcher(text.strip().toLowerCase(Locale.ROOT));
        if (!m.matches()) {
            return -1;
        }
        double n = Double.parseDouble(m.group(1));
        String unit = m.group(2) == null ? "b" : m.group(2);
        double bytes = switch (unit) {
            case "b" -> n;
            case "kib", "k" -> n * 1024;
            case "mib", "m" -> n * 1024 * 1024;
            case "gib", "g" -> n * 1024 * 1024 * 1024;
            // The largest documented sizes ([spool] max_size, 1TiB) are printed with TiB, so they can be written with it.
            case "tib", "t" -> n * 1024 * 1024 * 1024 * 1024;
            case "kb" -> n * 1_000;
            case "mb" -> n * 1_000_000;
            case "gb" -> n * 1_000_000_000;
            default -> n * 1_000_000_000_000L;
        };
        if (bytes > Long.MAX_VALUE / 2) {
            return -1;
        }
        return Math.round(bytes);
    }

    /** Prints a duration the way a person would write it: 1.5s, 250ms, 5m, 2h30m. */
    public static String format(Duration d) {
        long ms = d.toMillis();
        if (ms < 1_000) {
            return ms + "ms";
        }
        if (ms < 60_000) {
            return ms % 1_000 == 0 ? ms / 1_000 + "s" : trim(ms / 1_000.0) + "s";
        }
        long s = ms / 1_000;
        StringBuilder sb = new StringBuilder();
        if (s >= 86_400) {
            sb.append(s / 86_400).append('d');
            s %= 86_400;
        }
        if (s >= 3_600) {
            sb.append(s / 3_600).append('h');
            s %= 3_600;
        }
        if (s >= 60) {
            sb.append(s / 60).append('m');
            s %= 60;
        }
        if (s > 0) {
            sb.append(s).append('s');
        }
        return sb.toString();
    }

    /** Prints a size in the largest binary unit that keeps it whole: 1MiB, 64KiB, 1000B. */
    public static String formatBytes(long bytes) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
        int i = 0;
        long v = bytes;
        while (i < units.length - 1 && v >= 1024 && v % 1024 == 0) {
            v /= 1024;
            i++;
        }
        return v + units[i];
    }

    /** A size to three significant digits in the largest binary unit below it: 512 B, 4.72 MiB, 64.2 MiB. */
    public static String formatBytesRounded(long bytes) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
        double v = bytes;
        int i = 0;
        while (i < units.length - 1 && Math.abs(v) >= 1024) {
            v /= 1024;
            i++;
        }
        String n = i == 0 ? Long.toString(bytes) : String.format(Locale.ROOT, Math.abs(v) >= 100 ? "%.0f" : Math.abs(v) >= 10 ? "%.1f" : "%.2f", v);
        return n + " " + units[i];
    }

    private static String trim(double v) {
        String s = String.format(Locale.ROOT, "%.3f", v);
        s = s.replaceAll("0+$", "");
        return s.endsWith(".") ? s.substring(0, s.length() - 1) : s;
    }
}
