package io.aegisquartz.config;

import java.io.IOException;
import java.nio.charset.MalformedInputException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Date;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Parses aegis_quartz.conf.default and aegis_quartz.conf.user.
 *
 * <p>Grammar of a line (blank lines and lines starting with {@code #} are ignored):
 * <pre>
 *   [CRON EXPRESSION] [option=value ...] PLUGIN [ARG ...] [# comment]
 * </pre>
 * Options come before the plugin path; the first token without '=' is the plugin path. Arguments
 * are split on blanks; single quotes keep text as is, double quotes allow \" and \\.
 * A bad line disables only its own job; every problem names file, line and column.
 */
public final class CronFileParser {

    /** Options a cron line may set, in the order the reference lists them. */
    public static final List<String> OPTIONS =
            List.of("name", "timeout", "cpu", "kill_grace", "output_max", "memory_max", "pids_max", "max_samples", "max_bytes", "mem",
                    "overlap", "misfire", "sampler", "user");

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_.:/@-]{1,128}");
    private static final long MAX_FILE_BYTES = 1 << 20;
    /** Characters of a job's display name (plugin path and arguments) kept in samples and log lines. */
    public static final int MAX_NAME_SHOWN = 256;

    private final AgentSettings settings;
    private final Date now;

    private record Token(String text, int column) {
    }

    /** A line's identity, found even when the line has problems. */
    private record Identity(String key, boolean known) {
    }

    public CronFileParser(AgentSettings settings, Date now) {
        this.settings = settings;
        this.now = now;
    }

    /** Parses {@code source}'s file in the settings' config directory. A missing user file is not an error. */
    public CronFile parse(JobSource source) {
        Path file = settings.confDir().resolve(source.fileName());
        StrictModes.Refusal refusal = StrictModes.of(settings).check(file);
        if (refusal != null) {
            return unreadable(source, file, refusal.problem() + (refusal.path().equals(file) ? "" : ": " + refusal.path()), refusal.fix());
        }
        String text;
        try {
            if (Files.size(file) > MAX_FILE_BYTES) {
                return unreadable(source, file, "file is larger than 1 MiB", "keep one job per line; split nothing else into it");
            }
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            if (source == JobSource.USER) {
                return new CronFile(source, file, List.of(), List.of(), Set.of(), false, true);
            }
            return unreadable(source, file, "file not found", "reinstall the package, or restore it from the repository's conf/");
        } catch (MalformedInputException e) {
            return unreadable(source, file, "file is not valid UTF-8", "save it as UTF-8");
        } catch (IOException e) {
            return unreadable(source, file, "cannot read file: " + e.getMessage(), "check its permissions");
        }
        return parse(source, file, text);
    }

    /** Parses {@code text} as the content of {@code file}. */
    public CronFile parse(JobSource source, Path file, String text) {
        List<JobSpec> jobs = new ArrayList<>();
        List<ConfigProblem> problems = new ArrayList<>();
        Set<String> badKeys = new LinkedHashSet<>();
        boolean unidentified = false;
        Map<String, Integer> seen = new HashMap<>();
        if (text.startsWith("\uFEFF")) {
            text = text.substring(1);
        }
        String[] lines = text.split("\r?\n", -1);
        for (int i = 0; i < lines.length; i++) {
            int lineNo = i + 1;
            List<ConfigProblem> lineProblems = new ArrayList<>();
            Identity[] identity = {new Identity(null, false)};
            JobSpec job = parseLine(source, file, lineNo, lines[i], lineProblems, identity);
            if (job != null) {
                Integer first = seen.putIfAbsent(job.key(), lineNo);
                if (first != null) {
                    lineProblems.add(new ConfigProblem(file, lineNo, 1, "job '" + job.name() + "' is already defined on line " + first,
                            "remove one of the two lines, or give one of them a different name=..."));
                    job = null;
                }
            }
            if (job != null && lineProblems.isEmpty()) {
                jobs.add(job);
            } else if (!lineProblems.isEmpty()) {
                problems.addAll(lineProblems);
                if (identity[0].known()) {
                    badKeys.add(identity[0].key());
                } else {
                    unidentified = true;
                }
            }
        }
        return new CronFile(source, file, jobs, problems, badKeys, unidentified, true);
    }

    private JobSpec parseLine(JobSource source, Path file, int lineNo, String line, List<ConfigProblem> problems,
                              Identity[] identity) {
        int i = 0;
        while (i < line.length() && Character.isWhitespace(line.charAt(i))) {
            i++;
        }
        if (i == line.length() || line.charAt(i) == '#') {
            return null;
        }
        if (line.charAt(i) != '[') {
            problems.add(new ConfigProblem(file, lineNo, i + 1,
                    "a job line must start with a cron expression in brackets",
                    "write e.g. '[0 0/1 * * * ?] default/sampler.groovy', or start the line with '#' to comment it out"));
            return null;
        }
        int close = line.indexOf(']', i);
        if (close < 0) {
            problems.add(new ConfigProblem(file, lineNo, i + 1, "the cron expression is missing its closing ']'",
                    "write e.g. '[0 0/1 * * * ?] default/sampler.groovy'"));
            return null;
        }
        String cron = line.substring(i + 1, close).strip();
        int cronColumn = i + 2 + leadingBlanks(line.substring(i + 1, close));

        List<Token> tokens = tokenize(line, close + 1, lineNo, file, problems);
        if (tokens == null) {
            return null;
        }
        // Options first, then the plugin path, then its arguments.
        Map<String, Token> options = new HashMap<>();
        int t = 0;
        while (t < tokens.size() && tokens.get(t).text().contains("=")) {
            Token tok = tokens.get(t++);
            String key = tok.text().substring(0, tok.text().indexOf('='));
            if (!OPTIONS.contains(key)) {
                problems.add(new ConfigProblem(file, lineNo, tok.column(), "unknown option '" + key + "'; allowed: "
                        + String.join(", ", OPTIONS), Suggest.hint(key, OPTIONS)
                        + "options go between ']' and the plugin path, e.g. [*/10 * * * * ?] timeout=5s user/check.sh"));
                continue;
            }
            if (options.put(key, tok) != null) {
                problems.add(new ConfigProblem(file, lineNo, tok.column(), "option '" + key + "' is given twice", "keep one"));
            }
        }
        if (t == tokens.size()) {
            problems.add(new ConfigProblem(file, lineNo, close + 2, "missing plugin path after the cron expression",
                    "name a plugin: default/NAME, user/NAME or an absolute path, e.g. user/check_mysql.groovy"));
            return null;
        }
        Token plugin = tokens.get(t);
        List<String> args = new ArrayList<>();
        for (Token a : tokens.subList(t + 1, tokens.size())) {
            args.add(a.text());
        }
        Token nameTok = options.get("name");
        String explicitName = nameTok == null ? null : nameTok.text().substring(5);
        String key = explicitName != null ? explicitName : plugin.text() + "\u0000" + String.join("\u0000", args);
        identity[0] = new Identity(key, true);

        CronCheck.Problem cp = CronCheck.check(cron, now);
        if (cp != null) {
            problems.add(new ConfigProblem(file, lineNo, cronColumn + cp.offset(), cp.message(), cp.fix()));
        }
        if (explicitName != null && !NAME.matcher(explicitName).matches()) {
            problems.add(new ConfigProblem(file, lineNo, nameTok.column() + 5, "name '" + explicitName
                    + "' must be 1-128 letters, digits or _ . : / @ -", "e.g. name=mysql_3306"));
        }
        JobOptions opts = applyOptions(settings.defaultJobOptions(), options, file, lineNo, problems);
        Path resolved = resolvePlugin(plugin, file, lineNo, problems);
        String pluginName = resolved == null ? "" : resolved.getFileName().toString();
        if (opts.user() != null && (pluginName.endsWith(".groovy") || pluginName.endsWith(".jar"))) {
            problems.add(new ConfigProblem(file, lineNo, options.get("user").column(), "user= applies to executable plugins only; "
                    + plugin.text() + " runs inside the agent, as the agent's user", "remove user=, or make the check an executable"));
        }
        if (!problems.isEmpty()) {
            return null;
        }
        // The name goes into every log line about the job: escaped and cut once, here (LogText).
        String display = explicitName != null ? explicitName : io.aegisquartz.log.LogText.escape(
                args.isEmpty() ? plugin.text() : plugin.text() + " " + String.join(" ", SecretMask.mask(args)), MAX_NAME_SHOWN);
        return new JobSpec(source, file, lineNo, key, display, cron, plugin.text(), resolved, plugin.column(), args, opts);
    }

    private JobOptions applyOptions(JobOptions base, Map<String, Token> options, Path file, int lineNo,
                                    List<ConfigProblem> problems) {
        JobOptions o = base;
        for (Map.Entry<String, Token> e : options.entrySet()) {
            String key = e.getKey();
            Token tok = e.getValue();
            String value = tok.text().substring(key.length() + 1);
            int column = tok.column() + key.length() + 1;
            if (key.equals("name")) {
                continue;
            }
            if (key.equals("sampler")) {
                if (!value.matches("[A-Za-z0-9_.$-]{1,128}")) {
                    problems.add(new ConfigProblem(file, lineNo, column, "sampler '" + value + "' is not a valid sampler name",
                            "use the sampler class's simple name (e.g. HelloSampler) or its fully qualified name"));
                } else {
                    o = o.withSampler(value);
                }
                continue;
            }
            if (key.equals("user")) {
                try {
                    RunAs user = RunAs.lookup(value);
                    String lack = RunAs.agentCannotSwitch();
                    if (lack != null && user.uid() != StrictModes.ownUid()) {
                        problems.add(new ConfigProblem(file, lineNo, column, "user=" + value + ": " + lack,
                                "run the agent as root, or grant it those capabilities (systemd: a drop-in with AmbientCapabilities= and "
                                        + "CapabilityBoundingSet= both set to CAP_SETUID CAP_SETGID CAP_KILL, see README.md), or remove user="));
                    } else {
                        o = o.withUser(user);
                    }
                } catch (IllegalArgumentException bad) {
                    problems.add(new ConfigProblem(file, lineNo, column, "user=" + value + ": " + bad.getMessage(),
                            "name a local account from /etc/passwd, e.g. user=nobody (create one with 'useradd -r NAME')"));
                }
                continue;
            }
            Setting s = Settings.byId("limits." + key);
            Object v;
            try {
                v = s.convert(value);
            } catch (IllegalArgumentException bad) {
                problems.add(new ConfigProblem(file, lineNo, column, "option " + key + ": " + bad.getMessage(),
                        "e.g. " + key + "=" + s.defaultValue()));
                continue;
            }
            o = switch (key) {
                case "timeout" -> o.withTimeout((java.time.Duration) v);
                case "cpu" -> o.withCpu((java.time.Duration) v);
                case "kill_grace" -> o.withKillGrace((java.time.Duration) v);
                case "output_max" -> o.withOutputMax((Long) v);
                case "memory_max" -> o.withMemoryMax((Long) v);
                case "pids_max" -> o.withPidsMax((Integer) v);
                case "max_samples" -> o.withMaxSamples((Integer) v);
                case "max_bytes" -> o.withMaxBytes((Long) v);
                case "mem" -> o.withMem((Long) v);
                case "overlap" -> o.withOverlap(JobOptions.Overlap.valueOf(((String) v).toUpperCase()));
                default -> o.withMisfire(JobOptions.Misfire.valueOf(((String) v).toUpperCase()));
            };
        }
        return o;
    }

    private Path resolvePlugin(Token plugin, Path file, int lineNo, List<ConfigProblem> problems) {
        String ref = plugin.text();
        Path resolved;
        if (ref.startsWith("default/")) {
            resolved = settings.defaultPluginDir().resolve(ref.substring(8));
        } else if (ref.startsWith("user/")) {
            resolved = settings.userPluginDir().resolve(ref.substring(5));
        } else if (ref.startsWith("/")) {
            resolved = Path.of(ref);
        } else {
            problems.add(new ConfigProblem(file, lineNo, plugin.column(), "plugin path '" + ref
                    + "' must start with default/ or user/, or be absolute",
                    "write user/" + ref + " for a plugin in " + settings.userPluginDir()));
            return null;
        }
        Path base = ref.startsWith("default/") ? settings.defaultPluginDir() : ref.startsWith("user/") ? settings.userPluginDir() : null;
        if (ref.contains("/../") || ref.endsWith("/..") || ref.contains("/./") || ref.contains("//")
                || (base != null && !resolved.normalize().startsWith(base))) {
            problems.add(new ConfigProblem(file, lineNo, plugin.column(), "plugin path '" + ref
                    + "' may not contain '.', '..' or empty parts", "name the plugin file directly, e.g. user/check.sh"));
            return null;
        }
        if (!Files.exists(resolved)) {
            problems.add(new ConfigProblem(file, lineNo, plugin.column(), "plugin not found: " + resolved,
                    "create the file, or fix the path (default/ is " + settings.defaultPluginDir() + ", user/ is "
                            + settings.userPluginDir() + ")"));
            return null;
        }
        if (!Files.isRegularFile(resolved)) {
            problems.add(new ConfigProblem(file, lineNo, plugin.column(), "plugin is not a regular file: " + resolved,
                    "point at the plugin file itself"));
            return null;
        }
        return resolved.normalize();
    }

    /** Splits the rest of a line into tokens; null after reporting a problem. */
    private static List<Token> tokenize(String line, int from, int lineNo, Path file, List<ConfigProblem> problems) {
        List<Token> out = new ArrayList<>();
        int i = from;
        while (i < line.length()) {
            char c = line.charAt(i);
            if (Character.isWhitespace(c)) {
                i++;
                continue;
            }
            if (c == '#') {
                break;
            }
            int start = i;
            StringBuilder sb = new StringBuilder();
            while (i < line.length() && !Character.isWhitespace(line.charAt(i))) {
                char q = line.charAt(i);
                if (q == '\'' || q == '"') {
                    int open = i++;
                    boolean closed = false;
                    while (i < line.length()) {
                        char d = line.charAt(i);
                        if (d == q) {
                            closed = true;
                            i++;
                            break;
                        }
                        if (q == '"' && d == '\\' && i + 1 < line.length()
                                && (line.charAt(i + 1) == '"' || line.charAt(i + 1) == '\\')) {
                            sb.append(line.charAt(i + 1));
                            i += 2;
                            continue;
                        }
                        sb.append(d);
                        i++;
                    }
                    if (!closed) {
                        problems.add(new ConfigProblem(file, lineNo, open + 1, "unclosed " + (q == '"' ? "double" : "single") + " quote",
                                "close the quote, or escape it"));
                        return null;
                    }
                } else {
                    sb.append(q);
                    i++;
                }
            }
            out.add(new Token(sb.toString(), start + 1));
        }
        return out;
    }

    private static int leadingBlanks(String s) {
        int n = 0;
        while (n < s.length() && Character.isWhitespace(s.charAt(n))) {
            n++;
        }
        return n;
    }

    private static CronFile unreadable(JobSource source, Path file, String message, String fix) {
        return new CronFile(source, file, List.of(), List.of(new ConfigProblem(file, 0, 0, message, fix)), Set.of(), true, false);
    }
}
