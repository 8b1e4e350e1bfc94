package io.aegisquartz.config;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The agent's settings from aegis_config.ini, typed and checked against {@link Settings}.
 *
 * <p>Keys that are absent take their default. Every problem (unknown section or key, wrong type,
 * out of range) is collected with its line so that one {@code check-config} shows them all; a key
 * with a bad value keeps its default so the rest of the file can still be checked.
 */
public final class AgentSettings {

    /** File name of the agent settings inside the config directory. */
    public static final String FILE_NAME = "aegis_config.ini";

    private final Path home;
    private final Path confDir;
    private final Path file;
    private final Map<String, Object> values;
    private final List<ConfigProblem> problems;
    private final List<OutputSettings> outputs = new ArrayList<>();
    /** "output.NAME.key=value" of the keys set in [output.NAME] sections, for the start banner. */
    private final List<String> outputValues = new ArrayList<>();

    private AgentSettings(Path home, Path confDir, Path file, Map<String, Object> values, List<ConfigProblem> problems) {
        this.home = home;
        this.confDir = confDir;
        this.file = file;
        this.values = values;
        this.problems = problems;
    }

    /** Reads {@code confDir/aegis_config.ini}; a missing file is an error (the package always ships one). */
    public static AgentSettings load(Path home, Path confDir) {
        Path file = confDir.resolve(FILE_NAME);
        return from(home, confDir, IniFile.read(file));
    }

    /** Settings from an already parsed INI file. */
    public static AgentSettings from(Path home, Path confDir, IniFile ini) {
        List<ConfigProblem> problems = new ArrayList<>(ini.problems());
        Map<String, Object> values = new HashMap<>();
        for (Setting s : Settings.ALL) {
            if (!Settings.isOutputTemplate(s)) {
                values.put(s.id(), s.convert(s.defaultValue()));
            }
        }
        for (Map.Entry<String, Map<String, IniFile.Entry>> section : ini.sections().entrySet()) {
            String name = section.getKey();
            if (name.startsWith(Settings.OUTPUT_PREFIX)) {
                continue; // checked with the other outputs, below
            }
            if (!Settings.sections().contains(name) || Settings.OUTPUT_TEMPLATE.equals(name)) {
                problems.add(new ConfigProblem(ini.file(), ini.sectionLine(name), 1,
                        "unknown section [" + name + "]; allowed: " + String.join(", ", Settings.sections()),
                        Suggest.hint(name, Settings.sections()) + "see the configuration reference in README.md"));
                continue;
            }
            for (IniFile.Entry e : section.getValue().values()) {
                Setting s = Settings.byId(name + "." + e.key());
                if (s == null) {
                    List<String> keys = Settings.keys(name);
                    problems.add(new ConfigProblem(ini.file(), e.line(), e.keyColumn(),
                            "unknown key '" + e.key() + "' in [" + name + "]; allowed: " + String.join(", ", keys),
                            Suggest.hint(e.key(), keys) + "see the configuration reference in README.md"));
                    continue;
                }
                try {
                    values.put(s.id(), s.convert(e.value()));
                } catch (IllegalArgumentException bad) {
                    problems.add(new ConfigProblem(ini.file(), e.line(), e.valueColumn(),
                            "[" + name + "] " + e.key() + ": " + bad.getMessage(),
                            "write e.g. '" + e.key() + " = " + s.defaultValue() + "' (the default)"));
                }
            }
        }
        AgentSettings settings = new AgentSettings(home, confDir, ini.file(), values, problems);
        settings.checkCombinations(ini);
        settings.readOutputs(ini);
        return settings;
    }

    /** Built-in defaults only, as if aegis_config.ini were empty. */
    public static AgentSettings defaults(Path home, Path confDir) {
        return from(home, confDir, IniFile.parse(confDir.resolve(FILE_NAME), ""));
    }

    private void checkCombinations(IniFile ini) {
        for (String key : List.of("notify", "agent_notify")) {
            try {
                AlertRule.parseChannels(string("alert." + key));
            } catch (IllegalArgumentException bad) {
                IniFile.Entry e = ini.sections().getOrDefault("alert", Map.of()).get(key);
                problems.add(new ConfigProblem(file, e == null ? 0 : e.line(), e == null ? 0 : e.valueColumn(),
                        "[alert] " + key + ": " + bad.getMessage(), "name channels of aegis_notify.ini, comma-separated, e.g. '" + key + " = ops,oncall'"));
            }
        }
        if (integer("alert.flap_low") >= integer("alert.flap_high")) {
            IniFile.Entry e = ini.sections().getOrDefault("alert", Map.of()).get("flap_low");
            problems.add(new ConfigProblem(file, e == null ? 0 : e.line(), 0, "[alert] flap_low must be below flap_high",
                    "e.g. flap_low = 5, flap_high = 20 (the defaults)"));
        }
        if (string("upload.client_keystore").isEmpty() != string("upload.client_keystore_password_file").isEmpty()) {
            IniFile.Entry e = ini.sections().getOrDefault("upload", Map.of()).get("client_keystore");
            problems.add(new ConfigProblem(file, e == null ? 0 : e.line(), 0,
                    "[upload] client_keystore and client_keystore_password_file go together", "set both, or neither"));
        }
        String endpoint = string("upload.endpoint");
        if (!endpoint.isEmpty()) {
            IniFile.Entry e = ini.sections().getOrDefault("upload", Map.of()).get("endpoint");
            String problem;
            try {
                problem = Endpoints.problem(java.net.URI.create(endpoint), bool("upload.allow_http_loopback"));
            } catch (IllegalArgumentException bad) {
                problem = "endpoint '" + endpoint + "' is not a URL: " + bad.getMessage();
            }
            if (problem != null) {
                problems.add(new ConfigProblem(file, e == null ? 0 : e.line(), e == null ? 0 : e.valueColumn(),
                        "[upload] " + problem, "write e.g. 'endpoint = https://monitor.example.com/aegis/v1/samples'"));
            }
        }
    }

    // ---- outputs -------------------------------------------------------------------------

    /**
     * Every {@code [output.NAME]} section, the {@code [upload]} section when its endpoint is set (the
     * output named aegis), and, when there is neither, the {@code [sink]} file (the output named file).
     */
    private void readOutputs(IniFile ini) {
        String endpoint = string("upload.endpoint");
        if (!endpoint.isEmpty()) {
            IniFile.Entry e = ini.sections().getOrDefault("upload", Map.of()).get("endpoint");
            URI uri = uri(endpoint);
            if (uri != null) {
                outputs.add(new OutputSettings.Aegis("aegis", e == null ? 0 : e.line(), uri, path("upload.credentials_file"),
                        optionalPath("upload.ca_file"), optionalPath("upload.client_keystore"),
                        optionalPath("upload.client_keystore_password_file"), bool("upload.allow_http_loopback"),
                        new OutputSettings.Delivery(integer("upload.batch_samples"), bytes("upload.batch_bytes"), integer("upload.rate"),
                                duration("upload.backoff_max"), duration("upload.timeout"), duration("upload.linger"), true)));
            }
        }
        Map<Path, String> files = new HashMap<>();
        boolean anySection = false;
        for (Map.Entry<String, Map<String, IniFile.Entry>> section : ini.sections().entrySet()) {
            if (section.getKey().startsWith(Settings.OUTPUT_PREFIX)) {
                anySection = true;
                OutputSettings o = readOutput(ini, section.getKey(), section.getValue(), !endpoint.isEmpty());
                if (o instanceof OutputSettings.File f && files.putIfAbsent(f.file(), f.name()) != null) {
                    problems.add(new ConfigProblem(file, f.line(), 1, "[" + section.getKey() + "] writes " + f.file()
                            + ", as output " + files.get(f.file()) + " does", "give each file output a file of its own"));
                } else if (o != null) {
                    outputs.add(o);
                }
            }
        }
        if (outputs.isEmpty() && !anySection) {
            outputs.add(new OutputSettings.File("file", 0, path("sink.file"), bytes("sink.max_size"), integer("sink.max_files")));
        }
    }

    private static URI uri(String text) {
        try {
            return URI.create(text);
        } catch (IllegalArgumentException bad) {
            return null; // reported by checkCombinations or readOutput
        }
    }

    /** One [output.NAME] section, checked; null (with its problems recorded) if it cannot be used. */
    private OutputSettings readOutput(IniFile ini, String section, Map<String, IniFile.Entry> entries, boolean uploadSet) {
        String name = section.substring(Settings.OUTPUT_PREFIX.length());
        int line = ini.sectionLine(section);
        if (!name.matches("[a-z0-9][a-z0-9_-]{0,31}")) {
            problems.add(new ConfigProblem(file, line, 2, "output name '" + name + "' must be 1-32 of a-z 0-9 _ - and start with a "
                    + "letter or digit", "rename the section, e.g. [output.main]"));
            return null;
        }
        if (uploadSet && name.equals("aegis")) {
            problems.add(new ConfigProblem(file, line, 1, "output aegis is defined twice: by [upload] endpoint and by [" + section + "]",
                    "move the [upload] keys into [" + section + "] and remove [upload] endpoint"));
            return null;
        }
        IniFile.Entry typeEntry = entries.get("type");
        if (typeEntry == null) {
            problems.add(new ConfigProblem(file, line, 1, "[" + section + "] has no type", "add 'type = aegis' or 'type = file'"));
            return null;
        }
        String type = typeEntry.value().strip().toLowerCase(java.util.Locale.ROOT);
        List<String> allowed = Settings.OUTPUT_KEYS.get(type);
        if (allowed == null) {
            problems.add(new ConfigProblem(file, typeEntry.line(), typeEntry.valueColumn(), "[" + section + "] type: '" + typeEntry.value()
                    + "' is not allowed; allowed: " + String.join(", ", Settings.OUTPUT_KEYS.keySet().stream().sorted().toList()),
                    Suggest.hint(type, List.copyOf(Settings.OUTPUT_KEYS.keySet())) + "write 'type = aegis'"));
            return null;
        }
        Map<String, Object> v = new HashMap<>();
        boolean ok = true;
        for (Setting s : Settings.ALL) {
            if (Settings.isOutputTemplate(s) && !s.key().equals("type") && allowed.contains(s.key())) {
                v.put(s.key(), s.convert(s.defaultValue()));
            }
        }
        for (IniFile.Entry e : entries.values()) {
            if (e.key().equals("type")) {
                continue;
            }
            Setting s = Settings.byId(Settings.OUTPUT_TEMPLATE + "." + e.key());
            if (s == null || !allowed.contains(e.key())) {
                String what = s == null ? "unknown key '" + e.key() + "' in [" + section + "]"
                        : "key '" + e.key() + "' does not apply to an output of type " + type;
                problems.add(new ConfigProblem(file, e.line(), e.keyColumn(), what + "; keys of type " + type + ": "
                        + String.join(", ", allowed), Suggest.hint(e.key(), allowed) + "see the configuration reference in README.md"));
                ok = false;
                continue;
            }
            try {
                v.put(e.key(), s.convert(e.value()));
                outputValues.add(section + "." + e.key() + "=" + display(s, v.get(e.key())));
            } catch (IllegalArgumentException bad) {
                problems.add(new ConfigProblem(file, e.line(), e.valueColumn(), "[" + section + "] " + e.key() + ": " + bad.getMessage(),
                        s.defaultValue().isEmpty() ? "see the configuration reference in README.md"
                                : "write e.g. '" + e.key() + " = " + s.defaultValue() + "' (the default)"));
                ok = false;
            }
        }
        return ok ? typed(name, type, line, section, entries, v) : null;
    }

    /** The record for a section whose keys were each valid; null (with the problem recorded) if they do not go together. */
    private OutputSettings typed(String name, String type, int line, String section, Map<String, IniFile.Entry> entries,
                                 Map<String, Object> v) {
        if (type.equals("file")) {
            String f = (String) v.get("file");
            if (f.isEmpty()) {
                problems.add(new ConfigProblem(file, line, 1, "[" + section + "] of type file has no file",
                        "add e.g. 'file = log/" + name + ".jsonl'"));
                return null;
            }
            return new OutputSettings.File(name, line, home.resolve(f).normalize(), (Long) v.get("max_size"), (Integer) v.get("max_files"));
        }
        if (type.equals("kafka")) {
            return kafka(name, line, section, entries, v);
        }
        String endpoint = (String) v.get("endpoint");
        String example = EXAMPLE_ENDPOINTS.get(type);
        if (endpoint.isEmpty()) {
            problems.add(new ConfigProblem(file, line, 1, "[" + section + "] of type " + type + " has no endpoint",
                    "add 'endpoint = " + example + "'"));
            return null;
        }
        IniFile.Entry ep = entries.get("endpoint");
        URI uri = uri(endpoint);
        String problem = uri == null ? "endpoint '" + endpoint + "' is not a URL" : Endpoints.problem(uri, (Boolean) v.get("allow_http_loopback"));
        if (problem != null) {
            problems.add(new ConfigProblem(file, ep.line(), ep.valueColumn(), "[" + section + "] " + problem,
                    "write e.g. 'endpoint = " + example + "'"));
            return null;
        }
        String keystore = (String) v.get("client_keystore");
        String password = (String) v.get("client_keystore_password_file");
        if (keystore.isEmpty() != password.isEmpty()) {
            IniFile.Entry k = entries.getOrDefault("client_keystore", entries.get("client_keystore_password_file"));
            problems.add(new ConfigProblem(file, k.line(), 0, "[" + section + "] client_keystore and client_keystore_password_file go together",
                    "set both, or neither"));
            return null;
        }
        Object live = v.get("live");
        OutputSettings.Delivery delivery = new OutputSettings.Delivery((Integer) v.get("batch_samples"), (Long) v.get("batch_bytes"),
                (Integer) v.get("rate"), (Duration) v.get("backoff_max"), (Duration) v.get("timeout"), (Duration) v.get("linger"),
                live != null && (Boolean) live);
        Path credentials = home.resolve((String) v.get("credentials_file")).normalize();
        if (type.equals("aegis")) {
            return new OutputSettings.Aegis(name, line, uri, credentials, optional((String) v.get("ca_file")), optional(keystore),
                    optional(password), (Boolean) v.get("allow_http_loopback"), delivery);
        }
        OutputSettings.Http http = new OutputSettings.Http(uri,
                OutputSettings.Auth.valueOf(((String) v.get("auth")).toUpperCase(java.util.Locale.ROOT)), credentials,
                optional((String) v.get("ca_file")), optional(keystore), optional(password), (Boolean) v.get("allow_http_loopback"));
        return switch (type) {
            case "influx" -> influx(name, line, section, entries, v, http, delivery);
            case "prometheus" -> new OutputSettings.Prometheus(name, line, http, delivery);
            default -> new OutputSettings.Otlp(name, line, http, v.get("protocol").equals("http/json"), delivery);
        };
    }

    /** An endpoint to suggest, by output type. */
    private static final Map<String, String> EXAMPLE_ENDPOINTS = Map.of(
            "aegis", "https://monitor.example.com/aegis/v1/samples",
            "influx", "https://influx.example.com:8086",
            "prometheus", "https://prometheus.example.com/api/v1/write",
            "otlp", "https://collector.example.com:4318/v1/metrics");

    /** A topic name as Kafka allows it. */
    private static final java.util.regex.Pattern KAFKA_TOPIC = java.util.regex.Pattern.compile("[a-zA-Z0-9._-]{1,249}");
    /** HOST:PORT, the host a name, an IPv4 address or a bracketed IPv6 address. */
    private static final java.util.regex.Pattern KAFKA_SERVER = java.util.regex.Pattern.compile("([A-Za-z0-9.-]+|\\[[0-9A-Fa-f:.]+])(?::([0-9]{1,5}))");

    /** A kafka output: brokers, topic, TLS unless every broker is loopback and plaintext is allowed, SASL. */
    private OutputSettings kafka(String name, int line, String section, Map<String, IniFile.Entry> entries, Map<String, Object> v) {
        String servers = ((String) v.get("bootstrap_servers")).strip();
        if (servers.isEmpty()) {
            problems.add(new ConfigProblem(file, line, 1, "[" + section + "] of type kafka has no bootstrap_servers",
                    "add e.g. 'bootstrap_servers = kafka1.example.com:9093,kafka2.example.com:9093'"));
            return null;
        }
        IniFile.Entry se = entries.get("bootstrap_servers");
        List<String> list = new ArrayList<>();
        boolean allLoopback = true;
        for (String part : servers.split(",")) {
            String server = part.strip();
            java.util.regex.Matcher m = KAFKA_SERVER.matcher(server);
            int port = m.matches() ? Integer.parseInt(m.group(2)) : 0;
            if (port < 1 || port > 65_535) {
                problems.add(new ConfigProblem(file, se.line(), se.valueColumn(), "[" + section + "] bootstrap_servers: '"
                        + server + "' is not HOST:PORT", "write e.g. 'bootstrap_servers = kafka1.example.com:9093'"));
                return null;
            }
            String host = m.group(1);
            allLoopback &= host.equals("localhost") || host.startsWith("127.") || host.equals("[::1]");
            list.add(server);
        }
        String topic = (String) v.get("topic");
        if (!KAFKA_TOPIC.matcher(topic).matches()) {
            IniFile.Entry te = entries.get("topic");
            problems.add(new ConfigProblem(file, te == null ? line : te.line(), te == null ? 1 : te.valueColumn(), "[" + section + "] "
                    + (topic.isEmpty() ? "of type kafka has no topic" : "topic '" + topic + "' is not a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)"),
                    "add e.g. 'topic = aegis-samples'"));
            return null;
        }
        boolean plaintext = (Boolean) v.get("allow_plaintext_loopback");
        if (plaintext && !allLoopback) {
            IniFile.Entry pe = entries.get("allow_plaintext_loopback");
            problems.add(new ConfigProblem(file, pe.line(), pe.valueColumn(), "[" + section + "] allow_plaintext_loopback: not every "
                    + "bootstrap server is a loopback address, and anything else is spoken to over TLS only",
                    "remove allow_plaintext_loopback (TLS, verified), or use only 127.0.0.1/localhost brokers"));
            return null;
        }
        String ca = (String) v.get("ca_file");
        if (plaintext && !ca.isEmpty()) {
            IniFile.Entry ce = entries.get("ca_file");
            problems.add(new ConfigProblem(file, ce.line(), ce.keyColumn(), "[" + section + "] ca_file does not apply without TLS "
                    + "(allow_plaintext_loopback = true)", "remove one of them"));
            return null;
        }
        String sasl = (String) v.get("sasl_mechanism");
        OutputSettings.Delivery delivery = new OutputSettings.Delivery((Integer) v.get("batch_samples"), (Long) v.get("batch_bytes"),
                (Integer) v.get("rate"), (Duration) v.get("backoff_max"), (Duration) v.get("timeout"), (Duration) v.get("linger"), false);
        return new OutputSettings.Kafka(name, line, List.copyOf(list), topic, !plaintext, optional(ca),
                sasl.equals("none") ? null : sasl.toUpperCase(java.util.Locale.ROOT),
                home.resolve((String) v.get("credentials_file")).normalize(), delivery);
    }

    /** An influx output: the keys its flavour needs, and none that another flavour's. */
    private OutputSettings influx(String name, int line, String section, Map<String, IniFile.Entry> entries, Map<String, Object> v,
                                  OutputSettings.Http http, OutputSettings.Delivery delivery) {
        String flavour = (String) v.get("flavour");
        List<String> needed = switch (flavour) {
            case "influxdb1" -> List.of("database");
            case "influxdb2" -> List.of("org", "bucket");
            default -> List.of();
        };
        for (String key : List.of("database", "retention_policy", "org", "bucket")) {
            boolean set = !((String) v.get(key)).isEmpty();
            boolean applies = needed.contains(key) || key.equals("retention_policy") && flavour.equals("influxdb1");
            if (set && !applies) {
                IniFile.Entry e = entries.get(key);
                problems.add(new ConfigProblem(file, e.line(), e.keyColumn(), "[" + section + "] " + key + " does not apply to flavour "
                        + flavour, "remove it, or set the flavour it belongs to (see the configuration reference in README.md)"));
                return null;
            }
            if (!set && needed.contains(key)) {
                problems.add(new ConfigProblem(file, line, 1, "[" + section + "] of flavour " + flavour + " has no " + key,
                        "add e.g. '" + key + " = aegis'"));
                return null;
            }
        }
        return new OutputSettings.Influx(name, line, http, flavour, (String) v.get("database"), (String) v.get("retention_policy"),
                (String) v.get("org"), (String) v.get("bucket"), (String) v.get("precision"), (Boolean) v.get("gzip"), delivery);
    }

    private Path optional(String f) {
        return f.isEmpty() ? null : home.resolve(f).normalize();
    }

    /** The outputs, in the order configured: never empty for a file without problems. */
    public List<OutputSettings> outputs() {
        return Collections.unmodifiableList(outputs);
    }

    /** The [upload] endpoint, or null: when set, it is the output named aegis. */
    public URI uploadEndpoint() {
        String e = string("upload.endpoint");
        return e.isEmpty() ? null : uri(e);
    }

    // ---- typed sections ------------------------------------------------------------------

    /** [spool]: where every sample goes first. */
    public SpoolSettings spool() {
        return new SpoolSettings(path("spool.dir"), bytes("spool.max_size"), bytes("spool.min_free"));
    }

    /** [governor]: the agent's own budget. */
    public GovernorSettings governor() {
        return new GovernorSettings(integer("governor.cpu_max"), bytes("governor.memory_max"), duration("governor.window"),
                duration("governor.shed_for"), integer("governor.exit_after"), duration("governor.restart_min_uptime"));
    }

    /** [log]: the agent's log. */
    public LogSettings log() {
        return new LogSettings(path("log.file"), string("log.level"), bytes("log.max_size"), integer("log.max_files"),
                string("log.console"), duration("log.failure_summary"));
    }

    /** [limits] backoff_after: failed runs in a row before a job is backed off. */
    public int backoffAfter() {
        return integer("limits.backoff_after");
    }

    /** [limits] backoff_max: the longest pause of a failing job. */
    public Duration backoffMax() {
        return duration("limits.backoff_max");
    }

    /** [limits] max_abandoned_threads: abandoned plugin threads tolerated before a restart. */
    public int maxAbandonedThreads() {
        return integer("limits.max_abandoned_threads");
    }

    /** [plugins] watch: reload on file changes. */
    public boolean watch() {
        return bool("plugins.watch");
    }

    /** [plugins] reload_delay: quiet time after a change before acting on it. */
    public Duration reloadDelay() {
        return duration("plugins.reload_delay");
    }

    /** [plugins] compiled_dir: the compiled Groovy plugin cache. */
    public Path compiledDir() {
        return path("plugins.compiled_dir");
    }

    /** A path setting whose empty value means "none": the path, or null. */
    public Path optionalPath(String id) {
        String f = string(id);
        return f.isEmpty() ? null : home.resolve(f).normalize();
    }

    public Path home() {
        return home;
    }

    public Path confDir() {
        return confDir;
    }

    public Path file() {
        return file;
    }

    public List<ConfigProblem> problems() {
        return Collections.unmodifiableList(problems);
    }

    /** The value of "section.key" as configured, in its setting's type. */
    public Object value(String id) {
        if (!values.containsKey(id)) {
            throw new IllegalArgumentException("no such setting: " + id);
        }
        return values.get(id);
    }

    public String string(String id) {
        return (String) value(id);
    }

    public Path path(String id) {
        return home.resolve((String) value(id)).normalize();
    }

    public Duration duration(String id) {
        return (Duration) value(id);
    }

    public long bytes(String id) {
        return (Long) value(id);
    }

    public int integer(String id) {
        return (Integer) value(id);
    }

    public boolean bool(String id) {
        return (Boolean) value(id);
    }

    public String hostname() {
        return string("agent.hostname");
    }

    public int workers() {
        return integer("agent.workers");
    }

    public Path defaultPluginDir() {
        return path("plugins.default_dir");
    }

    public Path userPluginDir() {
        return path("plugins.user_dir");
    }

    /** The identity file: next to the config (as in the aegis layout) unless [agent] uuid_file says where. */
    public Path uuidFile() {
        Path configured = optionalPath("agent.uuid_file");
        return configured != null ? configured : confDir.resolve("uuid");
    }

    /** The agent's own state directory ([agent] state_dir): its lock, control socket and run journal. */
    public Path stateDir() {
        return path("agent.state_dir");
    }

    /** How long the agent may go without a heartbeat before the launcher restarts it; zero: no watchdog. */
    public Duration watchdog() {
        return duration("agent.watchdog");
    }

    /** The [alert] settings. A channel list with a bad name is reported by {@link #problems()} and taken as none. */
    public AlertSettings alert() {
        Path channels = optionalPath("alert.channels_file");
        List<String> jobChannels = channelsOrNone("alert.notify");
        List<String> agentChannels = string("alert.agent_notify").isBlank() ? jobChannels : channelsOrNone("alert.agent_notify");
        return new AlertSettings(channels != null ? channels : confDir.resolve("aegis_notify.ini"),
                new AlertRule(jobChannels, integer("alert.after"), duration("alert.repeat")),
                new AlertRule(agentChannels, 1, Duration.ZERO),
                duration("alert.group_wait"), integer("alert.max_per_hour"), duration("alert.give_up_after"),
                integer("alert.flap_low"), integer("alert.flap_high"), integer("alert.output_after"));
    }

    private List<String> channelsOrNone(String id) {
        try {
            return AlertRule.parseChannels(string(id));
        } catch (IllegalArgumentException e) {
            return List.of();
        }
    }

    /** Where samples wait for upload ([spool] dir). */
    public Path spoolDir() {
        return path("spool.dir");
    }

    /** The upload credentials file ([upload] credentials_file). */
    public Path credentialsFile() {
        return path("upload.credentials_file");
    }

    /** How often the agent samples its own health ([agent] health_interval): zero for never, else at least a second. */
    public Duration healthInterval() {
        Duration d = duration("agent.health_interval");
        return d.isZero() ? d : d.compareTo(Duration.ofSeconds(1)) < 0 ? Duration.ofSeconds(1) : d;
    }

    /**
     * Job limits before any cron-line override, with the isolation of a plugin outside plugins-default/
     * ([plugins] isolation).
     */
    public JobOptions defaultJobOptions() {
        return new JobOptions(duration("limits.timeout"), duration("limits.cpu"), duration("limits.kill_grace"),
                bytes("limits.output_max"), integer("limits.max_samples"),
                JobOptions.Overlap.valueOf(string("limits.overlap").toUpperCase()),
                JobOptions.Misfire.valueOf(string("limits.misfire").toUpperCase()), null, null,
                bytes("limits.memory_max"), integer("limits.pids_max"), bytes("limits.mem"), bytes("limits.max_bytes"),
                duration("limits.splay"), defaultIsolation());
    }

    /** Where Groovy and JAR plugins outside plugins-default/ run unless their cron line says ([plugins] isolation). */
    public JobOptions.Isolation defaultIsolation() {
        return JobOptions.Isolation.valueOf(string("plugins.isolation").toUpperCase(java.util.Locale.ROOT));
    }

    /** The plugin host's settings ([plugin_host]). */
    public PluginHostConfig pluginHost() {
        return new PluginHostConfig(bytes("plugin_host.heap_max"), duration("plugin_host.liveness"), optionalPath("plugin_host.socket"));
    }

    /** The exec host's settings ([plugin_host] exec_socket and the host's liveness), or null: executables run in the agent. */
    public PluginHostConfig execHost() {
        Path socket = optionalPath("plugin_host.exec_socket");
        return socket == null ? null : new PluginHostConfig(bytes("plugin_host.heap_max"), duration("plugin_host.liveness"), socket);
    }

    /** "key=value" of every setting that differs from its default, for the start banner. */
    public List<String> nonDefaults() {
        List<String> out = new ArrayList<>();
        for (Setting s : Settings.ALL) {
            if (Settings.isOutputTemplate(s)) {
                continue;
            }
            Object def = s.convert(s.defaultValue());
            Object cur = values.get(s.id());
            if (!def.equals(cur)) {
                out.add(s.id() + "=" + display(s, cur));
            }
        }
        out.addAll(outputValues);
        return out;
    }

    private static String display(Setting s, Object v) {
        if (v instanceof Duration d) {
            return Units.format(d);
        }
        if (s.kind() == Setting.Kind.BYTES) {
            return Units.formatBytes((Long) v);
        }
        return String.valueOf(v);
    }
}
