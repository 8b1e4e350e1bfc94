package io.aegisquartz.config;

import java.io.IOException;
import java.nio.charset.MalformedInputException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A minimal INI reader with line-numbered errors, written for aegis_config.ini.
 *
 * <p>We do not use ini4j: 0.5.4 is unmaintained and CVE-2022-41404 (unbounded resource use on
 * crafted input) is unfixed there. The syntax we accept is small and strict:
 * <ul>
 *   <li>{@code [section]} headers; a section may appear once;</li>
 *   <li>{@code key = value} lines; a key may appear once per section;</li>
 *   <li>whole-line comments starting with {@code #} or {@code ;}, and trailing comments that start
 *       with whitespace then {@code #} or {@code ;};</li>
 *   <li>values may be double-quoted to keep a {@code #}, {@code ;} or surrounding blanks.</li>
 * </ul>
 * Anything else is a {@link ConfigProblem} naming the line and column; parsing continues so that one
 * run reports every problem.
 */
public final class IniFile {

    /**
     * A value as written, with where it was written. {@code commentCut} is true when the value was
     * not quoted and a trailing comment ({@code ;} or {@code #} after a blank) was removed from the
     * line: for a value that may itself contain {@code " ;"} (a secret), the reader cannot tell a
     * comment from the rest of the value, and {@code upload.Credentials} refuses such a line.
     */
    public record Entry(String section, String key, String value, int line, int valueColumn, int keyColumn,
                        boolean commentCut) {
    }

    /** Refuse absurd files early; a real aegis_config.ini is a few KiB. */
    static final long MAX_FILE_BYTES = 1 << 20;

    private final Path file;
    private final Map<String, Map<String, Entry>> sections = new LinkedHashMap<>();
    private final Map<String, Integer> sectionLines = new LinkedHashMap<>();
    private final List<ConfigProblem> problems = new ArrayList<>();

    private IniFile(Path file) {
        this.file = file;
    }

    /** Reads and parses {@code file}. A missing or unreadable file is reported as a problem, not thrown. */
    public static IniFile read(Path file) {
        IniFile ini = new IniFile(file);
        try {
            if (Files.size(file) > MAX_FILE_BYTES) {
                ini.problem(0, 0, "file is larger than 1 MiB; this is not an aegis_config.ini",
                        "point --conf at the directory holding the real aegis_config.ini");
                return ini;
            }
            ini.parse(Files.readString(file, StandardCharsets.UTF_8));
        } catch (MalformedInputException e) {
            ini.problem(0, 0, "file is not valid UTF-8", "save it as UTF-8");
        } catch (java.nio.file.NoSuchFileException e) {
            ini.problem(0, 0, "file not found", "create it, or start with --conf pointing at the config directory");
        } catch (IOException e) {
            ini.problem(0, 0, "cannot read file: " + e.getMessage(), "check its permissions");
        }
        return ini;
    }

    /** Parses text as if read from {@code file} (used by tests and by {@link #read}). */
    public static IniFile parse(Path file, String text) {
        IniFile ini = new IniFile(file);
        ini.parse(text);
        return ini;
    }

    public Path file() {
        return file;
    }

    public List<ConfigProblem> problems() {
        return Collections.unmodifiableList(problems);
    }

    /** Sections in file order, each with its entries in file order. */
    public Map<String, Map<String, Entry>> sections() {
        return Collections.unmodifiableMap(sections);
    }

    /** Line of a section header, or 0 if the section is absent. */
    public int sectionLine(String section) {
        return sectionLines.getOrDefault(section, 0);
    }

    private void parse(String text) {
        if (text.startsWith("\uFEFF")) {
            text = text.substring(1);
        }
        String[] lines = text.split("\r?\n", -1);
        String section = null;
        boolean brokenHeader = false;
        for (int i = 0; i < lines.length; i++) {
            int lineNo = i + 1;
            String raw = lines[i];
            int start = firstNonBlank(raw);
            if (start == raw.length() || raw.charAt(start) == '#' || raw.charAt(start) == ';') {
                continue;
            }
            if (raw.charAt(start) == '[') {
                section = parseSection(raw, start, lineNo);
                brokenHeader = section == null;
                continue;
            }
            int eq = raw.indexOf('=', start);
            if (eq < 0) {
                problem(lineNo, start + 1, "expected 'key = value' or '[section]', found '" + raw.strip() + "'",
                        "add '= value', or comment the line out with '#'");
                continue;
            }
            String key = raw.substring(start, eq).strip();
            if (key.isEmpty()) {
                problem(lineNo, start + 1, "missing key before '='", "write 'key = value'");
                continue;
            }
            if (!key.matches("[A-Za-z0-9_.-]+")) {
                problem(lineNo, start + 1, "key '" + key + "' has characters other than letters, digits, '_', '.' and '-'",
                        "check the spelling against the reference in README.md");
                continue;
            }
            if (section == null) {
                if (brokenHeader) {
                    continue; // the header above was reported; its keys cannot be checked
                }
                problem(lineNo, start + 1, "key '" + key + "' appears before any [section]",
                        "move it under the section it belongs to, e.g. [agent]");
                continue;
            }
            int valueStart = firstNonBlank(raw, eq + 1);
            String value = parseValue(raw, valueStart, lineNo);
            if (value == null) {
                continue;
            }
            boolean commentCut = (valueStart >= raw.length() || raw.charAt(valueStart) != '"')
                    && commentStart(raw, valueStart) < raw.length();
            Map<String, Entry> entries = sections.get(section);
            Entry previous = entries.get(key);
            if (previous != null) {
                problem(lineNo, start + 1, "key '" + key + "' in [" + section + "] is already set on line " + previous.line(),
                        "keep one of the two lines");
                continue;
            }
            entries.put(key, new Entry(section, key, value, lineNo, valueStart + 1, start + 1, commentCut));
        }
    }

    private String parseSection(String raw, int start, int lineNo) {
        int close = raw.indexOf(']', start);
        if (close < 0) {
            problem(lineNo, start + 1, "section header is missing its closing ']'", "write it as [name]");
            return null;
        }
        String rest = raw.substring(close + 1).strip();
        if (!rest.isEmpty() && rest.charAt(0) != '#' && rest.charAt(0) != ';') {
            problem(lineNo, firstNonBlank(raw, close + 1) + 1, "unexpected text after section header: '" + rest + "'", "put the header on a line of its own");
        }
        String name = raw.substring(start + 1, close).strip();
        if (!name.matches("[A-Za-z0-9_.-]+")) {
            problem(lineNo, start + 2, "section name '" + name + "' is empty or has invalid characters",
                    "use one of the sections listed in README.md, e.g. [agent]");
            return null;
        }
        Integer earlier = sectionLines.get(name);
        if (earlier != null) {
            problem(lineNo, start + 1, "section [" + name + "] already started on line " + earlier,
                    "merge the two [" + name + "] sections into one");
            return name; // keep reading its keys into the first one, so they are still checked
        }
        sectionLines.put(name, lineNo);
        sections.put(name, new LinkedHashMap<>());
        return name;
    }

    /** The value, with quotes and trailing comments removed; null after reporting a problem. */
    private String parseValue(String raw, int valueStart, int lineNo) {
        if (valueStart < raw.length() && raw.charAt(valueStart) == '"') {
            StringBuilder sb = new StringBuilder();
            int i = valueStart + 1;
            for (; i < raw.length(); i++) {
                char c = raw.charAt(i);
                if (c == '\\' && i + 1 < raw.length() && (raw.charAt(i + 1) == '"' || raw.charAt(i + 1) == '\\')) {
                    sb.append(raw.charAt(++i));
                } else if (c == '"') {
                    break;
                } else {
                    sb.append(c);
                }
            }
            if (i >= raw.length()) {
                problem(lineNo, valueStart + 1, "quoted value is missing its closing '\"'", "close the quote");
                return null;
            }
            String after = raw.substring(i + 1).strip();
            if (!after.isEmpty() && after.charAt(0) != '#' && after.charAt(0) != ';') {
                problem(lineNo, firstNonBlank(raw, i + 1) + 1, "unexpected text after the quoted value: '" + after + "'",
                        "put the whole value inside the quotes");
                return null;
            }
            return sb.toString();
        }
        int end = commentStart(raw, valueStart);
        return raw.substring(Math.min(valueStart, end), end).strip();
    }

    /** Where the trailing comment of an unquoted value starts, or the line's length if it has none. */
    private static int commentStart(String raw, int valueStart) {
        // A trailing comment must be preceded by whitespace, so values like 'a#b' survive.
        for (int i = valueStart; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if ((c == '#' || c == ';') && Character.isWhitespace(raw.charAt(i - 1))) {
                return i;
            }
        }
        return raw.length();
    }

    private void problem(int line, int column, String message, String fix) {
        problems.add(new ConfigProblem(file, line, column, message, fix));
    }

    private static int firstNonBlank(String s) {
        return firstNonBlank(s, 0);
    }

    private static int firstNonBlank(String s, int from) {
        int i = from;
        while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
            i++;
        }
        return i;
    }
}
