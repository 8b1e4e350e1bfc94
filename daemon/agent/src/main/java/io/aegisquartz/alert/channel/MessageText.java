package io.aegisquartz.alert.channel;

import io.aegisquartz.log.LogText;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * The words of a notification, the same for every channel: a title ("[CRITICAL] web-17: check_http",
 * "web-17: 12 jobs critical, 1 recovered") and one line per event with the job, the status, the
 * plugin's message, since when, the value and, for a recovery, how long it lasted. Channels lay these
 * out in their own markup. Plugin text is escaped (control characters, as in the log) and cut at
 * 1,024 characters; markup characters in it are each channel's to neutralise ({@link #neutral}), and
 * only in it: the agent's own words keep theirs (a job named check_http stays check_http).
 */
public final class MessageText {

    /** Outside text as it is: the plain-text channels (email, the JSON form, exec). */
    public static final UnaryOperator<String> PLAIN = UnaryOperator.identity();

    /** Events listed in one message; the rest are counted. */
    public static final int MAX_LISTED = 30;
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss xx", Locale.ROOT);

    private final ZoneId zone;

    public MessageText(ZoneId zone) {
        this.zone = zone;
    }

    /** The system's time zone: people read local times. */
    public static MessageText local() {
        return new MessageText(ZoneId.systemDefault());
    }

    /** One line that says what the message is about, as plain text. */
    public String title(Notification n) {
        return title(n, PLAIN);
    }

    /**
     * One line that says what the message is about, with the text that comes from outside the agent's
     * code (a plugin's metric, message and value; a host name, which the receiver has from the
     * samples it is sent) passed through {@code outside} (a channel's markup neutraliser), and the
     * agent's own words (the label, the job name from the cron line, times, counts) as they are.
     */
    public String title(Notification n, UnaryOperator<String> outside) {
        List<AlertEvent> ev = n.events();
        if (ev.size() == 1 && n.omitted() == 0) {
            AlertEvent e = ev.get(0);
            return "[" + label(e) + "] " + outside.apply(clean(e.host())) + ": " + subject(e, outside);
        }
        Map<String, Integer> counts = new LinkedHashMap<>();
        java.util.Set<String> hosts = new java.util.LinkedHashSet<>();
        for (AlertEvent e : ev) {
            counts.merge(label(e).toLowerCase(Locale.ROOT), 1, Integer::sum);
            hosts.add(outside.apply(clean(e.host())));
        }
        StringBuilder sb = new StringBuilder();
        sb.append(hosts.size() == 1 ? hosts.iterator().next() : hosts.size() + " hosts").append(": ");
        boolean first = true;
        for (Map.Entry<String, Integer> c : counts.entrySet()) {
            sb.append(first ? "" : ", ").append(c.getValue()).append(c.getValue() == 1 ? " job " : " jobs ").append(c.getKey());
            first = false;
        }
        if (n.omitted() > 0) {
            sb.append(first ? "" : ", ").append(n.omitted()).append(" more");
        }
        return sb.toString();
    }

    /** One line per event, then the counts of what is not listed, as plain text. */
    public List<String> lines(Notification n) {
        return lines(n, PLAIN);
    }

    /** One line per event, then the counts of what is not listed; outside text through {@code outside} (see {@link #title(Notification, UnaryOperator)}). */
    public List<String> lines(Notification n, UnaryOperator<String> outside) {
        List<String> out = new java.util.ArrayList<>();
        for (AlertEvent e : n.events()) {
            out.add(line(e, outside));
        }
        if (n.omitted() > 0) {
            out.add("... and " + n.omitted() + " more notification(s) not listed here");
        }
        if (n.heldBack() > 0) {
            out.add(n.heldBack() + " notification(s) waited because this channel had reached its max_per_hour");
        }
        return out;
    }

    /** "CRITICAL check_http: HTTP CRITICAL - refused; since 2024-05-01 10:02:03 +0800 (5m); value time=0.5s". */
    public String line(AlertEvent e) {
        return line(e, PLAIN);
    }

    /** One event's line, outside text through {@code outside}. */
    public String line(AlertEvent e, UnaryOperator<String> outside) {
        StringBuilder sb = new StringBuilder();
        sb.append(label(e)).append(' ').append(subject(e, outside));
        String msg = outside.apply(clean(e.message()));
        if (!msg.isEmpty()) {
            sb.append(": ").append(msg);
        }
        switch (e.kind()) {
            case RECOVERY, REMOVED -> {
                sb.append("; was ").append(e.previous().toUpperCase(Locale.ROOT));
                if (e.lastedMillis() > 0) {
                    sb.append(" for ").append(duration(e.lastedMillis()));
                }
                if (e.sinceMillis() > 0) {
                    sb.append(" since ").append(time(e.sinceMillis()));
                }
            }
            case BACK -> {
                if (e.lastedMillis() > 0) {
                    sb.append("; silent for ").append(duration(e.lastedMillis()));
                }
            }
            case TEST -> {
            }
            default -> {
                if (e.sinceMillis() > 0) {
                    sb.append("; since ").append(time(e.sinceMillis())).append(" (")
                            .append(duration(Math.max(0, e.timeMillis() - e.sinceMillis()))).append(')');
                }
                if (e.kind() == AlertEvent.Kind.CHANGE && !e.previous().isEmpty()) {
                    sb.append("; was ").append(e.previous().toUpperCase(Locale.ROOT));
                }
            }
        }
        String value = outside.apply(clean(e.value()));
        if (!value.isEmpty()) {
            sb.append("; value ").append(value);
        }
        return sb.toString();
    }

    /** The whole message as plain text: the title, a blank line, the lines. */
    public String plain(Notification n) {
        StringBuilder sb = new StringBuilder(title(n)).append("\n\n");
        for (String l : lines(n)) {
            sb.append(l).append('\n');
        }
        return sb.toString();
    }

    /** PROBLEM kinds say the status; the others say what happened. */
    public static String label(AlertEvent e) {
        return switch (e.kind()) {
            case RECOVERY -> "RECOVERED";
            case FLAPPING -> "FLAPPING";
            case FLAPPING_STOPPED -> "STOPPED FLAPPING";
            case SILENT -> "SILENT";
            case BACK -> "BACK";
            case TEST -> "TEST";
            case REMOVED -> "REMOVED";
            default -> e.status().toUpperCase(Locale.ROOT);
        };
    }

    private static String subject(AlertEvent e, UnaryOperator<String> outside) {
        String job = clean(e.job());
        String metric = clean(e.metric());
        return metric.isEmpty() || metric.equals(job) ? job : job + " (" + outside.apply(metric) + ")";
    }

    /** The instant in the message's zone: 2024-05-01 10:02:03 +0800. */
    public String time(long epochMillis) {
        return TIME.format(Instant.ofEpochMilli(epochMillis).atZone(zone));
    }

    /** 45s, 5m, 2h 3m, 3d 4h. */
    public static String duration(long millis) {
        Duration d = Duration.ofMillis(millis);
        long s = d.toSeconds();
        if (s < 60) {
            return s + "s";
        }
        if (s < 3600) {
            return s / 60 + "m" + (s % 60 == 0 ? "" : " " + s % 60 + "s");
        }
        if (s < 86_400) {
            return s / 3600 + "h" + (s % 3600 / 60 == 0 ? "" : " " + s % 3600 / 60 + "m");
        }
        return s / 86_400 + "d" + (s % 86_400 / 3600 == 0 ? "" : " " + s % 86_400 / 3600 + "h");
    }

    /** Plugin or config text for a message: control characters escaped as in the log, at most 1,024 characters. */
    public static String clean(String text) {
        return text == null || text.isEmpty() ? "" : LogText.escape(text, 1024);
    }

    /**
     * Text for a markdown message (WeCom, DingTalk) with the characters that would make markup of it
     * (a link, a font tag, a mention, emphasis, a heading, a quote) replaced by look-alikes, so that a
     * plugin's message cannot format, link or mention anything.
     */
    public static String neutral(String text) {
        StringBuilder sb = new StringBuilder(text.length());
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            sb.append(switch (c) {
                case '<' -> '\u2039';
                case '>' -> '\u203A';
                case '[' -> '\uFF3B';
                case ']' -> '\uFF3D';
                case '*' -> '\u2217';
                case '_' -> '\uFF3F';
                case '`' -> '\u02CB';
                case '#' -> '\uFF03';
                case '@' -> '\uFF20';
                default -> c;
            });
        }
        return sb.toString();
    }

    /**
     * {@code text} cut so that its UTF-8 form is at most {@code maxBytes}, ending in a note of what was
     * cut (WeCom takes 4,096 bytes of markdown): never in the middle of a character.
     */
    public static String fitBytes(String text, int maxBytes) {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        if (b.length <= maxBytes) {
            return text;
        }
        String note = "\n... (cut: " + b.length + " bytes)";
        int budget = maxBytes - note.getBytes(StandardCharsets.UTF_8).length;
        int chars = 0;
        int bytes = 0;
        while (chars < text.length()) {
            int cp = text.codePointAt(chars);
            int len = new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8).length;
            if (bytes + len > budget) {
                break;
            }
            bytes += len;
            chars += Character.charCount(cp);
        }
        return text.substring(0, chars) + note;
    }
}
