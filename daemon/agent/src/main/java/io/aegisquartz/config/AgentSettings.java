package io.aegisquartz.config;

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
            values.put(s.id(), s.convert(s.defaultValue()));
        }
        for (Map.Entry<String, Map<String, IniFile.Entry>> section : ini.sections().entrySet()) {
            String name = section.getKey();
            if (!Settings.sections().contains(name)) {
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
        return settings;
    }

    /** Built-in defaults only, as if aegis_config.ini were empty. */
    public static AgentSettings defaults(Path home, Path confDir) {
        return from(home, confDir, IniFile.parse(confDir.resolve(FILE_NAME), ""));
    }

    private void checkCombinations(IniFile ini) {
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
                problem = io.aegisquartz.upload.UploadConfig.endpointProblem(java.net.URI.create(endpoint), bool("upload.allow_http_loopback"));
            } catch (IllegalArgumentException bad) {
                problem = "endpoint '" + endpoint + "' is not a URL: " + bad.getMessage();
            }
            if (problem != null) {
                problems.add(new ConfigProblem(file, e == null ? 0 : e.line(), e == null ? 0 : e.valueColumn(),
                        "[upload] " + problem, "write e.g. 'endpoint = https://monitor.example.com/aegis/v1/samples'"));
            }
        }
    }

    /** The upload endpoint, or null when samples stay local. */
    public java.net.URI uploadEndpoint() {
        String e = string("upload.endpoint");
        return e.isEmpty() ? null : java.net.URI.create(e);
    }

    /** The CA file for the receiver's certificate, or null for the system trust store. */
    public Path caFile() {
        return optionalPath("upload.ca_file");
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

    /** Job limits before any cron-line override. */
    public JobOptions defaultJobOptions() {
        return new JobOptions(duration("limits.timeout"), duration("limits.cpu"), duration("limits.kill_grace"),
                bytes("limits.output_max"), integer("limits.max_samples"),
                JobOptions.Overlap.valueOf(string("limits.overlap").toUpperCase()),
                JobOptions.Misfire.valueOf(string("limits.misfire").toUpperCase()), null, null,
                bytes("limits.memory_max"), integer("limits.pids_max"), bytes("limits.mem"), bytes("limits.max_bytes"),
                duration("limits.splay"));
    }

    /** "key=value" of every setting that differs from its default, for the start banner. */
    public List<String> nonDefaults() {
        List<String> out = new ArrayList<>();
        for (Setting s : Settings.ALL) {
            Object def = s.convert(s.defaultValue());
            Object cur = values.get(s.id());
            if (!def.equals(cur)) {
                out.add(s.id() + "=" + display(s, cur));
            }
        }
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
