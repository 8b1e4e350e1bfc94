package io.aegisquartz.config;

import java.time.Duration;
import java.util.List;
import java.util.Locale;

/**
 * One key of aegis_config.ini: its type, default, allowed values and meaning.
 *
 * <p>The list in {@link Settings} is the single source of truth: the parser checks against it,
 * {@code aegis-quartz config-reference} prints it, and a test keeps README.md in step with it.
 */
public record Setting(String section, String key, Kind kind, String defaultValue, long min, long max,
                      List<String> choices, String description) {

    /** Value types, each with its own syntax. */
    public enum Kind { STRING, PATH, DURATION, BYTES, INT, BOOL, CHOICE }

    /** "section.key", as used in lookups and messages. */
    public String id() {
        return section + "." + key;
    }

    /** Human description of what values are allowed, used in error messages and the reference. */
    public String allowed() {
        return switch (kind) {
            case STRING -> "any text";
            case PATH -> "a file or directory path; relative paths are taken from the agent's home directory";
            case DURATION -> Units.DURATION_FORMS + (min > 0 || max < Long.MAX_VALUE ? ", from "
                    + Units.format(Duration.ofMillis(min)) + " to " + Units.format(Duration.ofMillis(max)) : "");
            case BYTES -> Units.SIZE_FORMS + ", from " + Units.formatBytes(min) + " to " + Units.formatBytes(max);
            case INT -> "a whole number from " + min + " to " + max;
            case BOOL -> "true or false";
            case CHOICE -> "one of " + String.join(", ", choices);
        };
    }

    /** The allowed values in a few words, for the reference table (which explains the forms once). */
    public String allowedShort() {
        return switch (kind) {
            case STRING -> "text";
            case PATH -> "path";
            case DURATION -> "duration, " + Units.format(Duration.ofMillis(min)) + " to " + Units.format(Duration.ofMillis(max));
            case BYTES -> "size, " + Units.formatBytes(min) + " to " + Units.formatBytes(max);
            case INT -> min + " to " + max;
            case BOOL -> "true, false";
            case CHOICE -> String.join(", ", choices);
        };
    }

    /**
     * Converts text to this setting's type.
     *
     * @return a String, Duration, Long, Integer or Boolean
     * @throws IllegalArgumentException with a message that says what is allowed
     */
    public Object convert(String text) {
        String t = text.strip();
        switch (kind) {
            case STRING, PATH:
                return t;
            case DURATION: {
                Duration d = Units.parseDuration(t);
                if (d == null) {
                    throw new IllegalArgumentException("'" + t + "' is not a duration; allowed: " + allowed());
                }
                if (d.toMillis() < min || d.toMillis() > max) {
                    throw new IllegalArgumentException(Units.format(d) + " is out of range; allowed: from "
                            + Units.format(Duration.ofMillis(min)) + " to " + Units.format(Duration.ofMillis(max)));
                }
                return d;
            }
            case BYTES: {
                long b = Units.parseBytes(t);
                if (b < 0) {
                    throw new IllegalArgumentException("'" + t + "' is not a size; allowed: " + allowed());
                }
                if (b < min || b > max) {
                    throw new IllegalArgumentException(Units.formatBytes(b) + " is out of range; allowed: from "
                            + Units.formatBytes(min) + " to " + Units.formatBytes(max));
                }
                return b;
            }
            case INT: {
                long n;
                try {
                    n = Long.parseLong(t);
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("'" + t + "' is not a whole number; allowed: " + allowed());
                }
                if (n < min || n > max) {
                    throw new IllegalArgumentException(n + " is out of range; allowed: " + allowed());
                }
                return (int) n;
            }
            case BOOL: {
                return switch (t.toLowerCase(Locale.ROOT)) {
                    case "true", "yes", "on" -> Boolean.TRUE;
                    case "false", "no", "off" -> Boolean.FALSE;
                    default -> throw new IllegalArgumentException("'" + t + "' is not a boolean; allowed: " + allowed());
                };
            }
            default: {
                String lower = t.toLowerCase(Locale.ROOT);
                if (!choices.contains(lower)) {
                    throw new IllegalArgumentException("'" + t + "' is not allowed; allowed: " + allowed());
                }
                return lower;
            }
        }
    }
}
