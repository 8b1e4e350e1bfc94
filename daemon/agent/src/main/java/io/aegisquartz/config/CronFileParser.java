package io.aegisquartz.config;

import io.aegisquartz.util.IoErrors;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.file.DirectoryStream;
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
                    "overlap", "misfire", "splay", "sampler", "user", "isolation",
                    "notify", "after", "repeat");

    private static final long MAX_FILE_BYTES = 1 << 20;
    /** Most drop-in files read; configuration management writing more than this is a runaway. */
    static final int MAX_DROPINS = 1000;
    /**
     * Longest job name. A name= is refused past it; a name made from the plugin path and arguments
     * is cut to it (with a hash of the whole, so that two long lines keep different names), since it
     * is in every sample and log line of the job.
     */
    public static final int NAME_MAX = 128;
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_.:/@-]{1," + NAME_MAX + "}");

    private final AgentSettings settings;
    private final Date now;
    /** [alert]'s rule for a line that says nothing about notifying. */
    private final AlertRule defaultAlert;

    private record Token(String text, int column) {
    }

    /** A line's identity, found even when the line has problems. */
    private record Identity(String key, boolean known) {
    }

    public CronFileParser(AgentSettings settings, Date now) {
        this.settings = settings;
        this.now = now;
        this.defaultAlert = settings.alert().jobRule();
    }

    /** The cron files in the order they are read: the default file, the user file, then the drop-ins by name. */
    public List<CronFile> parseAll() {
        List<CronFile> files = new ArrayList<>();
        files.add(parse(JobSource.DEFAULT));
        files.add(parse(JobSource.USER));
        files.addAll(parseDropIns());
        return files;
    }

    /** Parses {@code source}'s file in the settings' config directory. A missing user file is not an error. */
    public CronFile parse(JobSource source) {
        if (source == JobSource.DROPIN) {
            throw new IllegalArgumentException("drop-in files are many: use parseDropIns()");
        }
        return parseFile(source, settings.confDir().resolve(source.fileName()));
    }

    /**
     * Parses the drop-in files, {@code aegis_quartz.conf.d/*.conf}, sorted by name (see
     * {@link JobSource#isDropInName}); each is independent of the others, as the user file is of the
     * default file. No directory means no drop-ins. A directory that cannot be listed is one unreadable
     * entry, so that the jobs of its files are kept until it can be.
     */
    public List<CronFile> parseDropIns() {
        Path dir = settings.confDir().resolve(JobSource.DROPIN.fileName());
        if (!Files.exists(dir)) {
            return List.of();
        }
        if (!Files.isDirectory(dir)) {
            return List.of(unreadable(JobSource.DROPIN, dir, "this is a file; the drop-in job files go in a directory of this name",
                    "move its jobs to " + JobSource.USER.fileName() + ", or into " + dir + "/NAME.conf after 'mkdir " + dir + "'"));
        }
        List<String> names = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path e : entries) {
                String name = e.getFileName().toString();
                if (JobSource.isDropInName(name)) {
                    names.add(name);
                }
            }
        } catch (IOException e) {
            return List.of(unreadable(JobSource.DROPIN, dir, "cannot list the directory: " + IoErrors.reason(e),
                    "make it readable by the agent's user (chmod 0750 " + dir + ")"));
        }
        List<CronFile> out = new ArrayList<>();
        // By name, in byte order of the names (a file's jobs never depend on it: a clash is an error).
        names.sort(null);
        if (names.size() > MAX_DROPINS) {
            out.add(new CronFile(JobSource.DROPIN, dir, List.of(), List.of(new ConfigProblem(dir, 0, 0, names.size()
                    + " drop-in files; only the first " + MAX_DROPINS + " by name are read", "merge some of them")), List.of(), Set.of(),
                    false, true));
            names = names.subList(0, MAX_DROPINS);
        }
        for (String name : names) {
            out.add(parseFile(JobSource.DROPIN, dir.resolve(name)));
        }
        return out;
    }

    private CronFile parseFile(JobSource source, Path file) {
        StrictModes.Refusal refusal = StrictModes.of(settings).check(file);
        if (refusal != null) {
            return unreadable(source, file, refusal.problem() + (refusal.path().equals(file) ? "" : ": " + refusal.path()), refusal.fix());
        }
        byte[] bytes;
        try {
            if (Files.isDirectory(file)) {
                return unreadable(source, file, "this is a directory; the jobs go in a text file of this name",
                        "move the directory away ('mv " + file + " " + file + ".old') and write the cron lines into a file "
                                + file.getFileName());
            }
            if (Files.size(file) > MAX_FILE_BYTES) {
                return unreadable(source, file, "file is larger than 1 MiB", "keep one job per line; split nothing else into it");
            }
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            if (source != JobSource.DEFAULT) {
                // The user file is optional; a drop-in deleted between listing and reading is simply gone.
                return new CronFile(source, file, List.of(), List.of(), List.of(), Set.of(), false, true);
            }
            return unreadable(source, file, "file not found", "reinstall the package, or restore it from the repository's conf/");
        } catch (IOException e) {
            return unreadable(source, file, "cannot read file: " + IoErrors.reason(e),
                    "let the agent's user read it (chmod 0640 " + file + ", group of the agent's user)");
        }
        return parse(source, file, bytes);
    }

    /**
     * Parses {@code bytes} as the content of {@code file}. A line that is not valid UTF-8 is reported
     * with its line, column and byte offset and skipped; the other lines are read as usual.
     */
    public CronFile parse(JobSource source, Path file, byte[] bytes) {
        try {
            return parse(source, file, StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes)).toString());
        } catch (CharacterCodingException whole) {
            // Some line is not UTF-8: decode line by line, blank out the bad ones, keep line numbers.
        }
        StringBuilder text = new StringBuilder(bytes.length);
        List<ConfigProblem> encoding = new ArrayList<>();
        boolean badJobLine = false;
        int lineNo = 1;
        for (int from = 0; from <= bytes.length; lineNo++) {
            int nl = from;
            while (nl < bytes.length && bytes[nl] != '\n') {
                nl++;
            }
            ConfigProblem p = checkUtf8(file, lineNo, bytes, from, nl);
            if (p == null) {
                text.append(new String(bytes, from, nl - from, StandardCharsets.UTF_8));
            } else {
                encoding.add(p);
                String lenient = new String(bytes, from, nl - from, StandardCharsets.UTF_8).strip();
                badJobLine |= !lenient.isEmpty() && !lenient.startsWith("#");
            }
            if (nl < bytes.length) {
                text.append('\n');
            }
            from = nl + 1;
        }
        CronFile parsed = parse(source, file, text.toString());
        List<ConfigProblem> problems = new ArrayList<>(parsed.problems());
        problems.addAll(encoding);
        problems.sort(java.util.Comparator.comparingInt(ConfigProblem::line));
        // A job line that could not be decoded cannot be identified: it may be an edit of any job.
        return new CronFile(source, file, parsed.jobs(), problems, parsed.warnings(), parsed.badKeys(),
                parsed.unidentifiedBad() || badJobLine, true);
    }

    /** Null if bytes[from, to) are valid UTF-8; else the problem, at the first bad byte. */
    private static ConfigProblem checkUtf8(Path file, int lineNo, byte[] bytes, int from, int to) {
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder();
        ByteBuffer in = ByteBuffer.wrap(bytes, from, to - from);
        CharBuffer out = CharBuffer.allocate(to - from);
        CoderResult r = decoder.decode(in, out, true);
        if (!r.isError()) {
            r = decoder.flush(out);
            if (!r.isError()) {
                return null;
            }
        }
        int offset = in.position();
        return new ConfigProblem(file, lineNo, out.position() + 1, String.format(
                "byte 0x%02X at byte offset %d of the file (byte %d of the line) is not valid UTF-8; this line is skipped",
                bytes[offset] & 0xff, offset, offset - from + 1),
                "save the file as UTF-8 (e.g. 'iconv -f latin1 -t utf-8 " + file + "'), or remove the byte");
    }

    /** Parses {@code text} as the content of {@code file}. */
    public CronFile parse(JobSource source, Path file, String text) {
        List<JobSpec> jobs = new ArrayList<>();
        List<ConfigProblem> problems = new ArrayList<>();
        List<ConfigProblem> warnings = new ArrayList<>();
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
            List<ConfigProblem> lineWarnings = new ArrayList<>();
            Identity[] identity = {new Identity(null, false)};
            JobSpec job = parseLine(source, file, lineNo, lines[i], lineProblems, lineWarnings, identity);
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
                warnings.addAll(lineWarnings);
            } else if (!lineProblems.isEmpty()) {
                problems.addAll(lineProblems);
                if (identity[0].known()) {
                    badKeys.add(identity[0].key());
                } else {
                    unidentified = true;
                }
            }
        }
        return new CronFile(source, file, jobs, problems, warnings, badKeys, unidentified, true);
    }

    private JobSpec parseLine(JobSource source, Path file, int lineNo, String line, List<ConfigProblem> problems,
                              List<ConfigProblem> warnings, Identity[] identity) {
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
            problems.add(new ConfigProblem(file, lineNo, nameTok.column() + 5, "name '" + abbreviate(explicitName)
                    + "' must be 1-" + NAME_MAX + " letters, digits or _ . : / @ -", "e.g. name=mysql_3306"));
        }
        JobOptions opts = applyOptions(settings.defaultJobOptions(), options, file, lineNo, problems);
        AlertRule alert = alertRule(defaultAlert, options, file, lineNo, problems);
        Path resolved = resolvePlugin(plugin, t > 0 ? tokens.get(t - 1) : null, file, lineNo, problems);
        String pluginName = resolved == null ? "" : resolved.getFileName().toString();
        boolean inJvm = pluginName.endsWith(".groovy") || pluginName.endsWith(".jar");
        if (opts.user() != null && inJvm) {
            problems.add(new ConfigProblem(file, lineNo, options.get("user").column(), "user= applies to executable plugins only; "
                    + plugin.text() + " runs in a JVM (the agent's or the plugin host's), not as a process of its own",
                    "remove user=, or make the check an executable"));
        }
        if (!options.containsKey("isolation") && plugin.text().startsWith("default/")) {
            // The shipped plugins are our own code, measured in the agent: they stay there unless the line says otherwise.
            opts = opts.withIsolation(JobOptions.Isolation.INPROC);
        }
        if (!problems.isEmpty()) {
            return null;
        }
        // The name goes into every sample and log line about the job: escaped (LogText) and cut once, here.
        String display = explicitName != null ? explicitName : io.aegisquartz.log.LogText.escape(
                args.isEmpty() ? plugin.text() : plugin.text() + " " + String.join(" ", SecretMask.mask(args)), Integer.MAX_VALUE / 2);
        if (display.length() > NAME_MAX) {
            String cut = cutName(display, key);
            warnings.add(new ConfigProblem(file, lineNo, plugin.column(), "the job's name, its plugin path and arguments, is "
                    + display.length() + " characters; names are at most " + NAME_MAX + ", so it is cut to '" + cut + "'",
                    "name the job yourself with name=..., e.g. name=" + suggestedName(pluginName)));
            display = cut;
        }
        return new JobSpec(source, file, lineNo, key, display, cron, plugin.text(), resolved, plugin.column(), args, opts, alert);
    }

    /** The [alert] defaults with the line's notify=, after= and repeat= applied. */
    private static AlertRule alertRule(AlertRule base, Map<String, Token> options, Path file, int lineNo, List<ConfigProblem> problems) {
        AlertRule rule = base;
        Token notify = options.get("notify");
        if (notify != null) {
            try {
                rule = rule.withChannels(AlertRule.parseChannels(notify.text().substring(7)));
            } catch (IllegalArgumentException bad) {
                problems.add(new ConfigProblem(file, lineNo, notify.column() + 7, "option notify: " + bad.getMessage(),
                        "name channels of aegis_notify.ini, comma-separated, e.g. notify=ops,oncall (notify= alone: none)"));
            }
        }
        Token after = options.get("after");
        if (after != null) {
            Setting s = Settings.byId("alert.after");
            try {
                rule = rule.withAfter((Integer) s.convert(after.text().substring(6)));
            } catch (IllegalArgumentException bad) {
                problems.add(new ConfigProblem(file, lineNo, after.column() + 6, "option after: " + bad.getMessage(), "e.g. after=3"));
            }
        }
        Token repeat = options.get("repeat");
        if (repeat != null) {
            Setting s = Settings.byId("alert.repeat");
            try {
                rule = rule.withRepeat((java.time.Duration) s.convert(repeat.text().substring(7)));
            } catch (IllegalArgumentException bad) {
                problems.add(new ConfigProblem(file, lineNo, repeat.column() + 7, "option repeat: " + bad.getMessage(), "e.g. repeat=1h"));
            }
        }
        return rule;
    }

    /**
     * {@code name} cut to {@link #NAME_MAX}: its start, "...", and 8 hex digits of a hash of the
     * job's key, so that long lines that differ only past the cut keep different names.
     */
    static String cutName(String name, String key) {
        String hash = String.format("%08x", key.hashCode());
        int keep = NAME_MAX - 3 - hash.length();
        if (Character.isHighSurrogate(name.charAt(keep - 1))) {
            keep--;
        }
        return name.substring(0, keep) + "..." + hash;
    }

    private static String suggestedName(String pluginFile) {
        String base = pluginFile.contains(".") ? pluginFile.substring(0, pluginFile.lastIndexOf('.')) : pluginFile;
        base = base.replaceAll("[^A-Za-z0-9_.:/@-]", "_");
        return base.isEmpty() ? "my_check" : base.length() > 40 ? base.substring(0, 40) : base;
    }

    private static String abbreviate(String s) {
        return s.length() > 60 ? s.substring(0, 57) + "..." : s;
    }

    private JobOptions applyOptions(JobOptions base, Map<String, Token> options, Path file, int lineNo,
                                    List<ConfigProblem> problems) {
        JobOptions o = base;
        for (Map.Entry<String, Token> e : options.entrySet()) {
            String key = e.getKey();
            Token tok = e.getValue();
            String value = tok.text().substring(key.length() + 1);
            int column = tok.column() + key.length() + 1;
            if (key.equals("name") || key.equals("notify") || key.equals("after") || key.equals("repeat")) {
                continue; // name identifies the job; the other three are its alert rule (alertRule)
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
            if (key.equals("isolation")) {
                try {
                    o = o.withIsolation(JobOptions.Isolation.valueOf(((String) Settings.byId("plugins.isolation").convert(value))
                            .toUpperCase(java.util.Locale.ROOT)));
                } catch (IllegalArgumentException bad) {
                    problems.add(new ConfigProblem(file, lineNo, column, "option isolation: " + bad.getMessage(),
                            "isolation=host (the plugin host, a JVM of its own) or isolation=inproc (the agent's JVM, for trusted plugins)"));
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
                case "splay" -> o.withSplay((java.time.Duration) v);
                default -> o.withMisfire(JobOptions.Misfire.valueOf(((String) v).toUpperCase()));
            };
        }
        return o;
    }

    /** @param before the token before the plugin path (an option), or null */
    private Path resolvePlugin(Token plugin, Token before, Path file, int lineNo, List<ConfigProblem> problems) {
        String ref = plugin.text();
        Path resolved;
        if (ref.startsWith("default/")) {
            resolved = settings.defaultPluginDir().resolve(ref.substring(8));
        } else if (ref.startsWith("user/")) {
            resolved = settings.userPluginDir().resolve(ref.substring(5));
        } else if (ref.startsWith("/")) {
            resolved = Path.of(ref);
        } else {
            String joined = before == null || ref.contains("/") ? null : joinedValue(before.text(), ref);
            if (joined != null) {
                problems.add(new ConfigProblem(file, lineNo, plugin.column(), "'" + ref + "' after " + before.text()
                        + " is taken as the plugin path: an option's value ends at the first blank", "write " + joined));
            } else {
                problems.add(new ConfigProblem(file, lineNo, plugin.column(), "plugin path '" + ref
                        + "' must start with default/ or user/, or be absolute", prefixAdvice(ref)));
            }
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
            String prefix = ref.substring(0, ref.indexOf('/') + 1); // default/, user/ or /
            String close = closestFile(base == null ? Path.of("/") : base, ref.substring(prefix.length()));
            problems.add(new ConfigProblem(file, lineNo, plugin.column(), "plugin not found: " + resolved,
                    (close == null ? "" : "did you mean '" + prefix + close + "'? ") + "create the file, or fix the path (default/ is "
                            + settings.defaultPluginDir() + ", user/ is " + settings.userPluginDir() + ")"));
            return null;
        }
        if (!Files.isRegularFile(resolved)) {
            problems.add(new ConfigProblem(file, lineNo, plugin.column(), "plugin is not a regular file: " + resolved,
                    "point at the plugin file itself"));
            return null;
        }
        return resolved.normalize();
    }

    /** Units people write after a blank, and how a value writes them. */
    private static final Map<String, String> UNIT_WORDS = Map.ofEntries(
            Map.entry("ms", "ms"), Map.entry("msec", "ms"), Map.entry("millis", "ms"), Map.entry("milliseconds", "ms"),
            Map.entry("s", "s"), Map.entry("sec", "s"), Map.entry("secs", "s"), Map.entry("second", "s"), Map.entry("seconds", "s"),
            Map.entry("m", "m"), Map.entry("min", "m"), Map.entry("mins", "m"), Map.entry("minute", "m"), Map.entry("minutes", "m"),
            Map.entry("h", "h"), Map.entry("hr", "h"), Map.entry("hrs", "h"), Map.entry("hour", "h"), Map.entry("hours", "h"),
            Map.entry("d", "d"), Map.entry("day", "d"), Map.entry("days", "d"),
            Map.entry("b", "B"), Map.entry("byte", "B"), Map.entry("bytes", "B"));

    /**
     * "timeout=5s" for option "timeout=5" followed by the word "sec": the option as its author meant
     * it, if the word is a unit and the joined value is valid; else null.
     */
    private static String joinedValue(String option, String word) {
        int eq = option.indexOf('=');
        String key = eq < 0 ? "" : option.substring(0, eq);
        Setting s = Settings.byId("limits." + key);
        if (!OPTIONS.contains(key) || s == null) {
            return null;
        }
        String unit = UNIT_WORDS.getOrDefault(word.toLowerCase(java.util.Locale.ROOT), word);
        for (String candidate : new String[] {option.substring(eq + 1) + unit, option.substring(eq + 1) + word}) {
            try {
                s.convert(candidate);
                return key + "=" + candidate;
            } catch (IllegalArgumentException notThat) {
                // try the next spelling
            }
        }
        return null;
    }

    /** The fix for a plugin path without default/, user/ or '/': a path that exists, or a likely typo of the prefix. */
    private String prefixAdvice(String ref) {
        int slash = ref.indexOf('/');
        String rest = slash < 0 ? ref : ref.substring(slash + 1);
        for (String candidate : new String[] {"user/" + ref, "default/" + ref, "user/" + rest, "default/" + rest}) {
            Path p = candidate.startsWith("user/") ? settings.userPluginDir().resolve(candidate.substring(5))
                    : settings.defaultPluginDir().resolve(candidate.substring(8));
            if (!rest.isEmpty() && Files.isRegularFile(p)) {
                return "write " + candidate + " (" + p + " exists)";
            }
        }
        if (slash > 0) {
            // users/x.groovy, defualt/x.groovy, plugins-user/x.groovy: a misspelt or spelt-out prefix.
            String first = ref.substring(0, slash);
            String typo = Suggest.closest(first, List.of("user", "default", "plugins-user", "plugins-default"));
            if (typo != null) {
                return "write " + (typo.endsWith("user") ? "user/" : "default/") + rest;
            }
        }
        return "write default/NAME for a plugin in " + settings.defaultPluginDir() + ", user/NAME for one in "
                + settings.userPluginDir() + ", or an absolute path";
    }

    /**
     * The existing file closest to {@code rel} under {@code base}, each missing part of the path
     * replaced by the closest name in its directory: "examples/helo.groovy" to "examples/hello.groovy".
     * Null if some part has no close match or the result is not a file.
     */
    private static String closestFile(Path base, String rel) {
        Path cur = base;
        StringBuilder out = new StringBuilder();
        for (String part : rel.split("/")) {
            Path next = cur.resolve(part);
            if (!Files.exists(next)) {
                List<String> names = new ArrayList<>();
                try (DirectoryStream<Path> entries = Files.newDirectoryStream(cur)) {
                    for (Path e : entries) {
                        if (names.size() < 10_000) {
                            names.add(e.getFileName().toString());
                        }
                    }
                } catch (IOException e) {
                    return null;
                }
                String close = Suggest.closest(part, names);
                if (close == null) {
                    return null;
                }
                part = close;
                next = cur.resolve(part);
            }
            out.append(out.length() == 0 ? "" : "/").append(part);
            cur = next;
        }
        return Files.isRegularFile(cur) ? out.toString() : null;
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
        return new CronFile(source, file, List.of(), List.of(new ConfigProblem(file, 0, 0, message, fix)), List.of(), Set.of(), true, false);
    }
}
