package io.aegisquartz.plugin;

/** A plugin file that cannot be loaded: missing, not compilable, no sampler inside. An expected failure. */
public class PluginException extends Exception {

    private final String fix;
    private final int line;
    private final int column;

    public PluginException(String message, String fix) {
        this(message, fix, 0, 0);
    }

    /** With a position inside the plugin file (a Groovy compile error). */
    public PluginException(String message, String fix, int line, int column) {
        super(message, null, false, false);
        this.fix = fix;
        this.line = line;
        this.column = column;
    }

    /** What to do about it; may be null. */
    public String fix() {
        return fix;
    }

    /** Line inside the plugin file, or 0. */
    public int line() {
        return line;
    }

    /** Column inside the plugin file, or 0. */
    public int column() {
        return column;
    }
}
