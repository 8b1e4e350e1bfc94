package io.aegisquartz.plugin.host;

/**
 * Text from the plugin host made safe for the agent's log: control characters escaped, length cut.
 *
 * <p>Branch inproc adds the agent-wide escaping helper; once it lands, {@link #escape} calls it (the
 * only call sites are here).
 */
final class HostText {

    static final int MAX_CHARS = 500;

    private HostText() {
    }

    /** {@code s} with newlines as \n, other control characters as \xNN, cut to {@value #MAX_CHARS} characters. */
    static String escape(String s) {
        if (s == null) {
            return "null";
        }
        StringBuilder b = new StringBuilder(Math.min(s.length(), MAX_CHARS) + 16);
        int i = 0;
        for (; i < s.length() && b.length() < MAX_CHARS; i++) {
            char c = s.charAt(i);
            if (c == '\n') {
                b.append("\\n");
            } else if (c == '\\') {
                b.append("\\\\");
            } else if (Character.isISOControl(c) || c == '\u2028' || c == '\u2029') {
                b.append(c < 0x100 ? String.format("\\x%02x", (int) c) : String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return i < s.length() ? b + "..." : b.toString();
    }
}
