package io.aegisquartz.config;

import java.nio.file.Path;

/**
 * One thing wrong with a config file, located precisely enough to fix it without guessing.
 *
 * @param file    the file
 * @param line    1-based line, or 0 when the problem is with the file as a whole
 * @param column  1-based column, or 0 when the whole line is meant
 * @param message what is wrong
 * @param fix     what to do about it, or null if the message already says it
 */
public record ConfigProblem(Path file, int line, int column, String message, String fix) {

    /** "file:line:col: message" plus an indented "fix:" line, in the style of compiler errors. */
    public String format() {
        StringBuilder sb = new StringBuilder().append(file);
        if (line > 0) {
            sb.append(':').append(line);
            if (column > 0) {
                sb.append(':').append(column);
            }
        }
        sb.append(": ").append(message);
        if (fix != null) {
            sb.append("\n    fix: ").append(fix);
        }
        return sb.toString();
    }

    /** Same as {@link #format()} on one line, for the agent log. */
    public String oneLine() {
        return format().replace("\n    fix: ", " (fix: ") + (fix != null ? ")" : "");
    }

    @Override
    public String toString() {
        return oneLine();
    }
}
