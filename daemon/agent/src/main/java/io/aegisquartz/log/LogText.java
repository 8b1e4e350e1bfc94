package io.aegisquartz.log;

/**
 * Makes text the agent did not write itself (a plugin's log lines, messages and exceptions, job names
 * from cron lines) safe to put in a log line: one line, nothing a terminal acts on, bounded length.
 *
 * <p>Rules (README.md, "Log"): a line feed, carriage return and tab become {@code \n}, {@code \r},
 * {@code \t}; every other C0 control character, DEL and the C1 controls (U+0080-U+009F) become
 * {@code \xNN}; the Unicode line and paragraph separators, the bidirectional-text controls (U+200E,
 * U+200F, U+202A-U+202E, U+2066-U+2069), U+FEFF and unpaired surrogates become {@code \\uNNNN}.
 * So a plugin can neither start a log line of its own nor send ESC or BEL sequences to the terminal of
 * whoever tails the log. Backslashes are kept as they are: a literal {@code \n} in the text cannot
 * break a line either, and paths and regular expressions stay readable.
 *
 * <p>Text longer than the limit (after escaping) is cut there, never inside an escape or a surrogate
 * pair, and ends with {@code "... (N chars)"}, N being the original length in UTF-16 characters.
 * Text that needs neither is returned as it is, without allocating.
 */
public final class LogText {

    /** Characters of plugin text kept in one log line (messages, log() lines, exception texts). */
    public static final int MAX = 1024;
    /** Characters of a bad item (a perfdata item, a name) that the agent's own messages quote. */
    public static final int QUOTE = 80;

    private LogText() {
    }

    /** {@code text} escaped and cut at {@value #MAX} characters; "null" for null. */
    public static String escape(String text) {
        return escape(text, MAX);
    }

    /** {@code text} escaped and cut at {@code max} characters (the suffix saying so comes on top). */
    public static String escape(String text, int max) {
        if (text == null) {
            return "null";
        }
        int n = text.length();
        int i = 0;
        while (i < n && i < max && plain(text, i)) {
            i++;
        }
        if (i == n) {
            return text;
        }
        if (i > 0 && Character.isLowSurrogate(text.charAt(i)) && Character.isHighSurrogate(text.charAt(i - 1))) {
            i--; // the cut falls inside a pair: the slow path keeps it whole or drops it whole
        }
        StringBuilder sb = new StringBuilder(Math.min(n, max) + 32);
        sb.append(text, 0, i);
        for (; i < n; i++) {
            char c = text.charAt(i);
            String esc = plain(text, i) ? null : escapeOf(c);
            int add = esc == null ? (Character.isHighSurrogate(c) ? 2 : 1) : esc.length();
            if (sb.length() + add > max) {
                return sb.append("... (").append(n).append(" chars)").toString();
            }
            if (esc != null) {
                sb.append(esc);
            } else if (add == 2) {
                sb.append(c).append(text.charAt(++i));
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }

    /** True if the character at {@code i} can go into a log line as it is. */
    private static boolean plain(String s, int i) {
        char c = s.charAt(i);
        if (c >= 0x20 && c < 0x7f) {
            return true;
        }
        if (c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f)) {
            return false;
        }
        if (c == '\u2028' || c == '\u2029' || c == '\u200e' || c == '\u200f' || (c >= '\u202a' && c <= '\u202e')
                || (c >= '\u2066' && c <= '\u2069') || c == '\ufeff') {
            return false;
        }
        if (Character.isHighSurrogate(c)) {
            return i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1));
        }
        if (Character.isLowSurrogate(c)) {
            return i > 0 && Character.isHighSurrogate(s.charAt(i - 1));
        }
        return true;
    }

    private static String escapeOf(char c) {
        return switch (c) {
            case '\n' -> "\\n";
            case '\r' -> "\\r";
            case '\t' -> "\\t";
            default -> c <= 0xff ? String.format("\\x%02X", (int) c) : String.format("\\u%04X", (int) c);
        };
    }
}
