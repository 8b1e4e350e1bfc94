package io.aegisquartz.alert.channel;

import io.aegisquartz.config.AlertRule;
import io.aegisquartz.config.ConfigProblem;
import io.aegisquartz.config.IniFile;
import io.aegisquartz.config.JobOptions;
import io.aegisquartz.config.SecretFile;
import io.aegisquartz.config.Suggest;
import io.aegisquartz.config.Units;
import io.aegisquartz.plugin.exec.ProcessRunner;
import jakarta.mail.internet.AddressException;
import jakarta.mail.internet.InternetAddress;

import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * The channels of aegis_notify.ini, checked once: one {@code [channel.NAME]} section per channel with a
 * {@code type} and that type's keys (docs/ALERTS.md). The file holds webhook tokens and passwords, so it
 * must pass the credentials file's check (mode 0600, owned by the agent's user), and no problem message
 * quotes a value of a key that may be secret ({@code url}, {@code secret}, {@code password}).
 */
public final class NotifyConfig {

    /** The channel types and the keys each takes besides type, timeout and max_per_hour. */
    static final Map<String, Set<String>> KEYS = Map.of(
            "wecom", Set.of("url", "ca_file"),
            "dingtalk", Set.of("url", "secret", "ca_file"),
            "slack", Set.of("url", "ca_file"),
            "webhook", Set.of("url", "secret", "ca_file"),
            "email", Set.of("host", "port", "security", "username", "password", "from", "to", "subject_prefix", "ca_file"),
            "exec", Set.of("command"));
    private static final Set<String> COMMON = Set.of("type", "timeout", "max_per_hour");
    private static final Set<String> SECRET_KEYS = Set.of("url", "secret", "password");

    /**
     * One channel as configured.
     *
     * @param name       the section's NAME
     * @param type       its type
     * @param values     its keys and values
     * @param line       the section header's line
     * @param timeout    how long one delivery may take
     * @param maxPerHour this channel's max_per_hour, or 0 for [alert] max_per_hour
     */
    public record Spec(String name, String type, Map<String, String> values, int line, Duration timeout, int maxPerHour) {

        /** "ops (wecom, qyapi.weixin.qq.com)": what a log line may say about the channel. */
        public String describe() {
            String where = "";
            String url = values.get("url");
            if (url != null) {
                try {
                    where = ", " + URI.create(url).getHost();
                } catch (IllegalArgumentException e) {
                    where = "";
                }
            } else if (values.containsKey("host")) {
                where = ", " + values.get("host");
            } else if (values.containsKey("command")) {
                where = ", " + values.get("command").strip().split("\\s+")[0];
            }
            return name + " (" + type + where + ")";
        }
    }

    /** What channels need from the agent to be made. */
    public record Context(Clock clock, MessageText text, Supplier<ProcessRunner> processes, JobOptions limits, Path scratch) {
    }

    private final Path file;
    private final Map<String, Spec> channels;
    private final List<ConfigProblem> problems;

    private NotifyConfig(Path file, Map<String, Spec> channels, List<ConfigProblem> problems) {
        this.file = file;
        this.channels = Collections.unmodifiableMap(channels);
        this.problems = Collections.unmodifiableList(problems);
    }

    /** A file with no channels, for an agent that has none. */
    public static NotifyConfig none(Path file) {
        return new NotifyConfig(file, Map.of(), List.of());
    }

    /** Reads and checks {@code file}. A missing file is no channel and no problem; every other problem is listed. */
    public static NotifyConfig load(Path file) {
        if (!Files.exists(file)) {
            return none(file);
        }
        String secret = SecretFile.problem(file, "channels file", "create it, then chmod 600 " + file);
        if (secret != null) {
            return new NotifyConfig(file, Map.of(), List.of(new ConfigProblem(file, 0, 0, secret.substring(file.toString().length() + 2), null)));
        }
        IniFile ini = IniFile.read(file);
        List<ConfigProblem> problems = new ArrayList<>();
        for (ConfigProblem p : ini.problems()) {
            // IniFile quotes the line, which may be a token: say where, not what.
            problems.add(p.line() > 0 ? new ConfigProblem(p.file(), p.line(), p.column(), "cannot parse this line (not shown: it may hold a secret)",
                    p.fix()) : p);
        }
        Map<String, Spec> channels = new LinkedHashMap<>();
        for (Map.Entry<String, Map<String, IniFile.Entry>> s : ini.sections().entrySet()) {
            Spec spec = check(file, s.getKey(), ini.sectionLine(s.getKey()), s.getValue(), problems);
            if (spec != null) {
                channels.put(spec.name(), spec);
            }
        }
        return new NotifyConfig(file, channels, problems);
    }

    private static Spec check(Path file, String section, int line, Map<String, IniFile.Entry> entries, List<ConfigProblem> problems) {
        if (!section.startsWith("channel.") || !AlertRule.CHANNEL_NAME.matcher(section.substring(8)).matches()) {
            problems.add(new ConfigProblem(file, line, 1, "section [" + section + "] is not [channel.NAME]",
                    "name each channel [channel.NAME], NAME of 1-64 letters, digits, _ or -, e.g. [channel.ops]"));
            return null;
        }
        String name = section.substring(8);
        int before = problems.size();
        IniFile.Entry typeEntry = entries.get("type");
        if (typeEntry == null) {
            problems.add(new ConfigProblem(file, line, 1, "[" + section + "] has no type",
                    "add 'type = ' one of " + String.join(", ", KEYS.keySet().stream().sorted().toList())));
            return null;
        }
        String type = typeEntry.value().strip().toLowerCase(java.util.Locale.ROOT);
        Set<String> allowed = KEYS.get(type);
        if (allowed == null) {
            problems.add(new ConfigProblem(file, typeEntry.line(), typeEntry.valueColumn(), "[" + section + "] type '" + typeEntry.value()
                    + "' is not one of " + String.join(", ", KEYS.keySet().stream().sorted().toList()),
                    Suggest.hint(type, KEYS.keySet()) + "see docs/ALERTS.md"));
            return null;
        }
        Map<String, String> values = new LinkedHashMap<>();
        for (IniFile.Entry e : entries.values()) {
            if (!COMMON.contains(e.key()) && !allowed.contains(e.key())) {
                List<String> keys = new ArrayList<>(allowed);
                keys.addAll(COMMON);
                keys.sort(null);
                problems.add(new ConfigProblem(file, e.line(), e.keyColumn(), "unknown key '" + e.key() + "' for a " + type
                        + " channel; allowed: " + String.join(", ", keys), Suggest.hint(e.key(), keys) + "see docs/ALERTS.md"));
                continue;
            }
            if (secret(e.key()) && e.commentCut()) {
                // As in the credentials file (issue 18): 'password = abc ;def' would be 'abc' by the INI
                // rules, a failure far from its cause; a secret is taken whole or refused with its line.
                problems.add(new ConfigProblem(file, e.line(), e.valueColumn(), "[" + section + "] " + e.key()
                        + " has ';' or '#' after a blank, which the INI rules read as the start of a comment, so it would be cut"
                        + " there (the line is not shown: it may hold a secret)",
                        "if the rest is part of the value, put the whole value in double quotes (\\\" and \\\\ inside);"
                                + " if it is a comment, move it to a line of its own"));
                continue;
            }
            values.put(e.key(), e.value());
        }
        Duration timeout = Duration.ofSeconds(type.equals("exec") ? 30 : 10);
        IniFile.Entry t = entries.get("timeout");
        if (t != null) {
            Duration d = Units.parseDuration(t.value().strip());
            if (d == null || d.toMillis() < 100 || d.toMinutes() > 10) {
                problems.add(new ConfigProblem(file, t.line(), t.valueColumn(), "[" + section + "] timeout: '" + t.value()
                        + "' is not a duration from 100ms to 10m", "e.g. timeout = 10s"));
            } else {
                timeout = d;
            }
        }
        int maxPerHour = 0;
        IniFile.Entry m = entries.get("max_per_hour");
        if (m != null) {
            try {
                maxPerHour = Integer.parseInt(m.value().strip());
            } catch (NumberFormatException e) {
                maxPerHour = -1;
            }
            if (maxPerHour < 1 || maxPerHour > 3600) {
                problems.add(new ConfigProblem(file, m.line(), m.valueColumn(), "[" + section + "] max_per_hour must be a whole number from 1 to 3600",
                        "e.g. max_per_hour = 20, or remove it for [alert] max_per_hour"));
                maxPerHour = 0;
            }
        }
        switch (type) {
            case "email" -> checkEmail(file, section, line, entries, problems);
            case "exec" -> {
                if (required(file, section, line, entries, "command", "command = /usr/local/bin/send-sms --to 13800000000", problems)) {
                    String cmd = entries.get("command").value().strip();
                    if (!cmd.startsWith("/")) {
                        problems.add(new ConfigProblem(file, entries.get("command").line(), entries.get("command").valueColumn(), "[" + section
                                + "] command must start with an absolute path", "e.g. command = /usr/local/bin/send-sms --to 13800000000"));
                    }
                }
            }
            default -> {
                if (required(file, section, line, entries, "url", "url = https://...", problems)) {
                    String problem = urlProblem(entries.get("url").value().strip());
                    if (problem != null) {
                        IniFile.Entry u = entries.get("url");
                        problems.add(new ConfigProblem(file, u.line(), u.valueColumn(), "[" + section + "] url: " + problem,
                                "use the https:// URL the service gave you (http:// only to this host, for testing)"));
                    }
                }
            }
        }
        checkCaFile(file, section, entries, problems);
        return problems.size() == before ? new Spec(name, type, values, line, timeout, maxPerHour) : null;
    }

    private static void checkEmail(Path file, String section, int line, Map<String, IniFile.Entry> e, List<ConfigProblem> problems) {
        required(file, section, line, e, "host", "host = smtp.example.com", problems);
        if (required(file, section, line, e, "from", "from = aegis@example.com", problems)) {
            address(file, section, e.get("from"), problems);
        }
        if (required(file, section, line, e, "to", "to = ops@example.com, oncall@example.com", problems)) {
            for (String a : e.get("to").value().split(",")) {
                if (!a.isBlank()) {
                    address(file, section, new IniFile.Entry(section, "to", a.strip(), e.get("to").line(), e.get("to").valueColumn(), 0, false), problems);
                }
            }
        }
        IniFile.Entry sec = e.get("security");
        String security = sec == null ? "starttls" : sec.value().strip().toLowerCase(java.util.Locale.ROOT);
        if (!Set.of("starttls", "tls", "none").contains(security)) {
            problems.add(new ConfigProblem(file, sec.line(), sec.valueColumn(), "[" + section + "] security must be starttls, tls or none",
                    "starttls for port 587, tls for port 465"));
        } else if (security.equals("none") && e.get("host") != null && !loopback(e.get("host").value().strip())) {
            problems.add(new ConfigProblem(file, sec.line(), sec.valueColumn(), "[" + section + "] security = none sends the password and the "
                    + "messages in clear: allowed only to a server on this host", "use starttls (port 587) or tls (port 465)"));
        }
        IniFile.Entry port = e.get("port");
        if (port != null) {
            int p;
            try {
                p = Integer.parseInt(port.value().strip());
            } catch (NumberFormatException x) {
                p = -1;
            }
            if (p < 1 || p > 65535) {
                problems.add(new ConfigProblem(file, port.line(), port.valueColumn(), "[" + section + "] port must be 1-65535", "e.g. port = 587"));
            }
        }
        if ((e.get("username") == null) != (e.get("password") == null)) {
            problems.add(new ConfigProblem(file, line, 1, "[" + section + "] username and password go together", "set both, or neither"));
        }
    }

    private static void address(Path file, String section, IniFile.Entry e, List<ConfigProblem> problems) {
        try {
            InternetAddress a = new InternetAddress(e.value().strip(), true);
            if (a.getAddress().chars().anyMatch(c -> c > 127)) {
                throw new AddressException("has characters outside ASCII");
            }
        } catch (AddressException x) {
            problems.add(new ConfigProblem(file, e.line(), e.valueColumn(), "[" + section + "] " + e.key() + ": '" + MessageText.clean(e.value())
                    + "' is not an email address (" + x.getMessage() + ")", "e.g. ops@example.com"));
        }
    }

    private static boolean required(Path file, String section, int line, Map<String, IniFile.Entry> e, String key, String example,
                                    List<ConfigProblem> problems) {
        IniFile.Entry v = e.get(key);
        if (v == null || v.value().isBlank()) {
            problems.add(new ConfigProblem(file, v == null ? line : v.line(), 1, "[" + section + "] needs " + key, "add '" + example + "'"));
            return false;
        }
        return true;
    }

    private static void checkCaFile(Path file, String section, Map<String, IniFile.Entry> e, List<ConfigProblem> problems) {
        IniFile.Entry ca = e.get("ca_file");
        if (ca != null && !Files.isReadable(Path.of(ca.value().strip()))) {
            problems.add(new ConfigProblem(file, ca.line(), ca.valueColumn(), "[" + section + "] ca_file " + ca.value().strip() + " cannot be read",
                    "give the absolute path of a PEM file, or remove ca_file for the system trust store"));
        }
    }

    /** Null if the URL is one we may post to: https, or http to a loopback host. */
    static String urlProblem(String url) {
        URI u;
        try {
            u = new URI(url);
        } catch (java.net.URISyntaxException e) {
            return "not a URL (not shown: it may hold a token)";
        }
        if (u.getHost() == null) {
            return "has no host";
        }
        if ("https".equalsIgnoreCase(u.getScheme())) {
            return null;
        }
        if ("http".equalsIgnoreCase(u.getScheme()) && loopback(u.getHost())) {
            return null;
        }
        return "must be https:// (http:// only to this host: the URL and the message would travel in clear)";
    }

    private static boolean loopback(String host) {
        try {
            return InetAddress.getByName(host.startsWith("[") ? host.substring(1, host.length() - 1) : host).isLoopbackAddress();
        } catch (UnknownHostException e) {
            return false;
        }
    }

    public Path file() {
        return file;
    }

    public Map<String, Spec> channels() {
        return channels;
    }

    public List<ConfigProblem> problems() {
        return problems;
    }

    /**
     * The problems of naming {@code names} in a rule at {@code where} (file, line, column): a channel
     * that is not in this file.
     */
    public List<String> unknown(List<String> names) {
        List<String> out = new ArrayList<>();
        for (String n : names) {
            if (!channels.containsKey(n)) {
                out.add(n);
            }
        }
        return out;
    }

    /**
     * Makes the channel {@code spec} describes.
     *
     * @throws IOException if it cannot be made (a CA file that is not PEM), with a message naming the channel
     */
    public static Channel create(Spec spec, Context ctx) throws IOException {
        Map<String, String> v = spec.values();
        Path ca = v.containsKey("ca_file") ? Path.of(v.get("ca_file").strip()) : null;
        return switch (spec.type()) {
            case "wecom" -> new WeComChannel(spec.name(), new HttpPoster(URI.create(v.get("url").strip()), ca, spec.timeout()), ctx.text());
            case "dingtalk" -> new DingTalkChannel(spec.name(), new HttpPoster(URI.create(v.get("url").strip()), ca, spec.timeout()),
                    blankToNull(v.get("secret")), ctx.text(), ctx.clock());
            case "slack" -> new SlackChannel(spec.name(), new HttpPoster(URI.create(v.get("url").strip()), ca, spec.timeout()), ctx.text());
            case "webhook" -> new WebhookChannel(spec.name(), new HttpPoster(URI.create(v.get("url").strip()), ca, spec.timeout()),
                    URI.create(v.get("url").strip()), blankToNull(v.get("secret")), ctx.text(), ctx.clock());
            case "email" -> email(spec, ca, ctx);
            case "exec" -> new ExecChannel(spec.name(), split(v.get("command")), ctx.processes().get(), ctx.limits(), spec.timeout(),
                    ctx.scratch(), ctx.text());
            default -> throw new IOException("channel " + spec.name() + ": unknown type " + spec.type());
        };
    }

    private static Channel email(Spec spec, Path ca, Context ctx) throws IOException {
        Map<String, String> v = spec.values();
        EmailChannel.Security security = EmailChannel.Security.valueOf(v.getOrDefault("security", "starttls").strip().toUpperCase(java.util.Locale.ROOT));
        int port = v.containsKey("port") ? Integer.parseInt(v.get("port").strip()) : security == EmailChannel.Security.TLS ? 465 : 587;
        List<InternetAddress> to = new ArrayList<>();
        try {
            for (String a : v.get("to").split(",")) {
                if (!a.isBlank()) {
                    to.add(new InternetAddress(a.strip(), true));
                }
            }
            return new EmailChannel(spec.name(), v.get("host").strip(), port, security, blankToNull(v.get("username")), v.get("password"),
                    new InternetAddress(v.get("from").strip(), true), to, v.getOrDefault("subject_prefix", "[aegis-quartz]").strip(),
                    security == EmailChannel.Security.NONE ? null : io.aegisquartz.output.http.TrustStores.context(ca, null, null),
                    spec.timeout().toMillis(), ctx.text());
        } catch (AddressException e) {
            throw new IOException("channel " + spec.name() + ": " + e.getMessage());
        }
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s.strip();
    }

    /** A command line split on blanks; double or single quotes keep blanks inside a word. */
    static List<String> split(String command) {
        List<String> out = new ArrayList<>();
        StringBuilder sb = new StringBuilder();
        boolean inWord = false;
        char quote = 0;
        for (int i = 0; i < command.length(); i++) {
            char c = command.charAt(i);
            if (quote != 0) {
                if (c == quote) {
                    quote = 0;
                } else {
                    sb.append(c);
                }
            } else if (c == '"' || c == '\'') {
                quote = c;
                inWord = true;
            } else if (Character.isWhitespace(c)) {
                if (inWord) {
                    out.add(sb.toString());
                    sb.setLength(0);
                    inWord = false;
                }
            } else {
                sb.append(c);
                inWord = true;
            }
        }
        if (inWord) {
            out.add(sb.toString());
        }
        return out;
    }

    /** True if {@code key} of a channel may hold a secret (never quoted in a message). */
    static boolean secret(String key) {
        return SECRET_KEYS.contains(key);
    }
}
