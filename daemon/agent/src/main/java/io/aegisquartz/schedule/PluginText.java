package io.aegisquartz.schedule;

/**
 * Plugin-supplied text (a sample's message, a stderr line in a failure reason) made safe for one log
 * line or a terminal.
 *
 * <p>A plugin may print anything: newlines that would forge log lines, terminal escape sequences that
 * would rewrite an operator's screen, megabytes. {@link #escape} keeps the text on one line and
 * readable, and cuts it at {@link #MAX_CHARS}.
 *
 * <p>The one place where this is done for the state-change log and {@code aegis-quartz status}:
 * when the shared escaping helper lands (branch inproc), {@link #escape}'s body becomes a call to it.
 */
public final class PluginText {

    /** Characters of escaped text kept; the rest is replaced by " ...(N more)". */
    public static final int MAX_CHARS = 200;

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private PluginText() {
    }

    /**
     * {@code text} on one line: a backslash becomes {@code \\}, newline, carriage return and tab
     * become {@code \n}, {@code \r}, {@code \t}, every other control character (C0, DEL, C1) becomes
     * {@code \xNN}, line and paragraph separators and bidirectional overrides become {@code \\uNNNN};
     * then cut once {@link #MAX_CHARS} characters are written (an escape is never split), with
     * " ...(N more)" saying how many characters of {@code text} were left out.
     * Null stays null.
     */
    public static String escape(String text) {
        return escape(text, MAX_CHARS);
    }

    /** As {@link #escape(String)}, cut after {@code maxChars} characters instead (for text already cut where it came from). */
    public static String escape(String text, int maxChars) {
        if (text == null) {
            return null;
        }
        StringBuilder sb = new StringBuilder(Math.min(text.length(), maxChars) + 24);
        int i = 0;
        for (; i < text.length() && sb.length() < maxChars; i++) {
            char c = text.charAt(i);
            if (c == '\\') {
                sb.append("\\\\");
            } else if (c == '\n') {
                sb.append("\\n");
            } else if (c == '\r') {
                sb.append("\\r");
            } else if (c == '\t') {
                sb.append("\\t");
            } else if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) {
                sb.append("\\x").append(HEX[c >> 4]).append(HEX[c & 0xf]);
            } else if (c == '\u2028' || c == '\u2029' || (c >= '\u202a' && c <= '\u202e') || (c >= '\u2066' && c <= '\u2069')
                    || Character.isSurrogate(c) && !validPair(text, i)) {
                sb.append("\\u").append(HEX[c >> 12]).append(HEX[(c >> 8) & 0xf]).append(HEX[(c >> 4) & 0xf]).append(HEX[c & 0xf]);
            } else if (Character.isHighSurrogate(c)) {
                sb.append(c).append(text.charAt(++i)); // a valid pair, kept whole
            } else {
                sb.append(c);
            }
        }
        if (i < text.length()) {
            sb.append(" ...(").append(text.length() - i).append(" more)");
        }
        return sb.toString();
    }

    /** True if the surrogate at {@code i} is the first half of a valid pair (a lone or second half is not). */
    private static boolean validPair(String s, int i) {
        return Character.isHighSurrogate(s.charAt(i)) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1));
    }
}
