package io.aegisquartz.config;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * When a job notifies: the channels ({@code notify=}), the consecutive non-ok runs that make a problem
 * hard ({@code after=}) and how often a lasting problem is told again ({@code repeat=}, zero: once).
 *
 * @param channels channel names from aegis_notify.ini, in the order written; empty: the job never notifies
 * @param after    consecutive non-ok runs before the problem is notified (Nagios' max_check_attempts)
 * @param repeat   re-notification interval while the problem lasts; zero for none
 */
public record AlertRule(List<String> channels, int after, Duration repeat) {

    /** A channel's name: what follows {@code [channel.} in aegis_notify.ini. */
    public static final Pattern CHANNEL_NAME = Pattern.compile("[A-Za-z0-9_-]{1,64}");

    /** A job that notifies nobody. */
    public static final AlertRule NONE = new AlertRule(List.of(), 1, Duration.ZERO);

    public AlertRule {
        channels = List.copyOf(channels);
    }

    public boolean notifies() {
        return !channels.isEmpty();
    }

    public AlertRule withChannels(List<String> c) {
        return new AlertRule(c, after, repeat);
    }

    public AlertRule withAfter(int n) {
        return new AlertRule(channels, n, repeat);
    }

    public AlertRule withRepeat(Duration d) {
        return new AlertRule(channels, after, d);
    }

    /**
     * Parses "a,b" into channel names; an empty text is no channel.
     *
     * @throws IllegalArgumentException naming the first bad name
     */
    public static List<String> parseChannels(String text) {
        List<String> out = new ArrayList<>();
        if (text.isBlank()) {
            return out;
        }
        for (String part : text.split(",", -1)) {
            String name = part.strip();
            if (!CHANNEL_NAME.matcher(name).matches()) {
                throw new IllegalArgumentException("'" + name + "' is not a channel name (1-64 letters, digits, _ or -)");
            }
            if (!out.contains(name)) {
                out.add(name);
            }
        }
        return out;
    }

    /** "notify=a,b after=3 repeat=1h" as a cron line would say it. */
    public String describe() {
        return "notify=" + String.join(",", channels) + " after=" + after + (repeat.isZero() ? "" : " repeat=" + Units.format(repeat));
    }
}
