package io.aegisquartz.config;

import io.aegisquartz.config.Setting.Kind;

import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Every key aegis_config.ini may hold, with its default. Order here is the order of the reference.
 * Keys of section {@value #OUTPUT_TEMPLATE} describe every {@code [output.NAME]} section.
 */
public final class Settings {

    /** The section name standing for every {@code [output.NAME]} in this table and in messages. */
    public static final String OUTPUT_TEMPLATE = "output.NAME";
    /** Section names of outputs start with this. */
    public static final String OUTPUT_PREFIX = "output.";

    private static final long MS = 1;
    private static final long DAY = 86_400_000L;
    private static final long KIB = 1024;
    private static final long MIB = 1024 * KIB;
    private static final long GIB = 1024L * 1024 * 1024;

    public static final List<Setting> ALL = List.of(
            s("agent", "hostname", Kind.STRING, "",
                    "Host name put in every sample; empty means the kernel's (/proc/sys/kernel/hostname), read at each run."),
            i("agent", "workers", "4", 1, 64,
                    "Jobs that may run at the same time. A slow job holds one worker, never more, so others keep their schedule."),
            s("agent", "uuid_file", Kind.PATH, "",
                    "The host identity file, created at first start and never changed. Empty: 'uuid' in the config directory. The RPM sets /var/lib/aegis-quartz/uuid so that the config stays read-only to the agent."),
            s("agent", "state_dir", Kind.PATH, "state",
                    "The agent's own state, written only by the agent: the lock that keeps one agent per home, its control socket, the journal of runs in progress. The RPM sets /var/lib/aegis-quartz."),
            d("agent", "watchdog", "60s", 0, 3_600_000,
                    "How long the agent may go without proving it makes progress (the heartbeat file in state_dir, rewritten every quarter of this, at most every 15 s) before the launcher kills it with SIGKILL and starts it again. 0: no watchdog."),
            d("agent", "health_interval", "60s", 0, DAY,
                    "How often the agent writes samples about itself (job agent/health, metrics agent.*: runs by status, skipped fires, fire lateness, its CPU, memory, threads and descriptors, spool and output figures; docs/SAMPLES.md). 0: none. Less than 1s counts as 1s."),

            s("plugins", "default_dir", Kind.PATH, "plugins-default",
                    "Where 'default/...' plugin paths in the cron files point."),
            s("plugins", "user_dir", Kind.PATH, "plugins-user",
                    "Where 'user/...' plugin paths in the cron files point."),
            s("plugins", "strict_modes", Kind.BOOL, "true",
                    "Refuse plugin and cron files, and folders above them, that are writable by group or others or owned by neither root nor the agent's user (as sshd's StrictModes)."),
            s("plugins", "compiled_dir", Kind.PATH, "plugin-cache",
                    "Where compiled Groovy plugins are kept, so that a start does not compile them again; the agent's user must be able to write it (the agent compiles in a separate JVM that leaves its result here). Safe to delete."),
            s("plugins", "watch", Kind.BOOL, "true",
                    "Reload the cron files and plugins when they change on disk (SIGHUP always reloads)."),
            d("plugins", "reload_delay", "1s", 0, 60_000,
                    "Quiet time after the last file change before acting on it (reloading; picking up events), so an editor's several writes make one reload."),
            c("plugins", "isolation", "host", List.of("host", "inproc"),
                    "Where Groovy and JAR plugins outside plugins-default/ run when their cron line has no isolation= option: host (in the plugin host, a JVM of its own that the agent supervises, so an exit, a freeze or an out-of-memory there costs only that run) or inproc (in the agent's JVM, as trusted code). Plugins of plugins-default/ run in the agent unless their line says isolation=host."),

            b("plugin_host", "heap_max", "64MiB", 16 * MIB, 4 * GIB,
                    "Heap cap of the plugin host (-Xmx). A run that allocates past it ends with an error sample and a restart of the host; the agent is not affected."),
            d("plugin_host", "liveness", "2s", 200, 60_000,
                    "While runs are in flight, how long the plugin host may go without answering the agent before it counts as frozen and is killed and restarted."),
            s("plugin_host", "socket", Kind.PATH, "",
                    "Empty: the agent starts the plugin host as a child process of its own, as its own user. A path: connect to a plugin host listening there instead; the RPM sets /run/aegis-quartz-plugins/host.sock, where systemd starts a host per connection as the user aegis-quartz-plugins."),
            s("plugin_host", "exec_socket", Kind.PATH, "",
                    "Empty: executables run as processes of the agent, as its own user. A path: executables without user= or isolation=inproc run in the exec host listening there; the RPM sets /run/aegis-quartz-exec/host.sock, where systemd starts one per connection as the user aegis-quartz-plugins with a cgroup of its own to divide per run."),

            Limits.TIMEOUT,
            Limits.CPU,
            Limits.KILL_GRACE,
            Limits.OUTPUT_MAX,
            b("limits", "memory_max", "128MiB", 0, 64 * GIB,
                    "Memory of one executable run, all its processes together (memory.max of the run's cgroup; swap not allowed). Past it the kernel kills the run. Enforced where the agent has a cgroup per run with the memory controller (the log says at start). 0: no limit of its own."),
            i("limits", "pids_max", "64", 0, 1_000_000,
                    "Processes and threads one executable run may have at once (pids.max of the run's cgroup); past it fork fails. Enforced where the agent has a cgroup per run with the pids controller (the log says at start). 0: no limit of its own."),
            Limits.MAX_SAMPLES,
            b("limits", "max_bytes", "2MiB", 1 * KIB, GIB,
                    "Size of the samples one run may emit (the characters of their names, texts and tags, plus 8 per value: docs/SAMPLES.md); the rest are dropped, the run says truncated and an error sample says how many."),
            b("limits", "mem", "64MiB", 0, 64 * GIB,
                    "Bytes a Groovy or JAR run may allocate, garbage included (its thread's allocation counter); past it the run is stopped with status mem_limit. 0: no allocation budget. Executables are not counted."),
            c("limits", "overlap", "skip", List.of("skip", "queue"),
                    "When a job fires while its previous run is still going: skip (record a 'skipped' sample) or queue (run once right after)."),
            c("limits", "misfire", "skip", List.of("skip", "run_once"),
                    "When fire times were missed (agent paused, all workers busy, clock jumped): skip them, or run once now. Never a burst."),
            d("limits", "splay", "0s", 0, DAY,
                    "Shifts each job's fire times by a stable offset from 0 up to this, derived from the host uuid and the job name, so that many hosts (and the jobs of one host) do not all fire in the same second. Never more than the shortest gap between the job's own fires. 0: fire exactly on the cron times."),
            i("limits", "backoff_after", "3", 1, 1_000,
                    "Consecutive failed runs (error, timeout, cpu_limit, mem_limit, killed) before the job is backed off."),
            d("limits", "backoff_max", "15m", 1_000, DAY,
                    "Longest pause of a failing job. The pause starts at two fire intervals and doubles with each further failure."),
            i("limits", "max_abandoned_threads", "4", 1, 1_000,
                    "In-JVM plugin threads that ignored an interrupt and were abandoned; past this many the agent restarts itself (exit code 75)."),

            i("governor", "cpu_max", "10", 0, 6_400,
                    "The agent's CPU budget in percent of one core (its threads and its plugin processes, not the uploader). Over it, the job that used the most CPU is shed. 0: no CPU budget."),
            b("governor", "memory_max", "200MiB", 0, 64 * GIB,
                    "The agent's resident memory budget. Over it the agent collects garbage, and if that is not enough for exit_after windows, restarts. 0: no memory budget."),
            d("governor", "window", "60s", 1_000, DAY,
                    "How often the governor looks, and the span its CPU figure is averaged over."),
            d("governor", "shed_for", "10m", 1_000, DAY,
                    "How long a shed job's fires are skipped (each with a 'skipped' sample saying why) before it may run again."),
            i("governor", "exit_after", "3", 1, 1_000,
                    "Consecutive windows over budget with no job left to shed before the agent restarts itself (exit code 75; no spooled sample is lost)."),
            d("governor", "restart_min_uptime", "1h", 0, 7 * DAY,
                    "The governor restarts the agent only after it has been up this long, so an agent over budget from its start is not restarted in a loop."),

            s("log", "file", Kind.PATH, "log/aegis_quartz.log", "The agent's log."),
            c("log", "level", "info", List.of("error", "warn", "info", "debug", "trace"), "Least severe level written to the log."),
            b("log", "max_size", "10MiB", 64 * KIB, GIB, "Size at which the log is rotated."),
            i("log", "max_files", "5", 1, 100, "Rotated logs kept (aegis_quartz.log.1 ... .N)."),
            c("log", "console", "auto", List.of("auto", "always", "never"),
                    "Also log to standard error: auto means when it is a terminal."),
            d("log", "failure_summary", "10m", 1_000, DAY,
                    "A job that keeps failing the same way is logged once, then summarised at most this often."),

            s("sink", "file", Kind.PATH, "log/samples.jsonl",
                    "Samples as JSON lines (docs/SAMPLES.md): the output named file that an agent with no other output has."),
            b("sink", "max_size", "50MiB", 64 * KIB, 64 * GIB, "Size at which the samples file is rotated."),
            i("sink", "max_files", "5", 1, 1_000, "Rotated samples files kept."),

            s("spool", "dir", Kind.PATH, "spool",
                    "Where every sample is stored first, crash-safe, until each output has sent it (docs/SPOOL.md)."),
            b("spool", "max_size", "256MiB", 1024 * KIB, 1024 * GIB,
                    "Most disk space the spool may use; past it the oldest samples are dropped (at most 1/16 of this at a time), and each output that had not sent them reports exactly how many in a 'dropped' sample."),
            b("spool", "min_free", "64MiB", 0, 1024 * GIB,
                    "Free space to leave on the spool's filesystem; below it the oldest samples are dropped as above."),

            c(OUTPUT_TEMPLATE, "type", "", List.of("aegis", "file", "influx", "prometheus", "otlp", "kafka"),
                    "Required: what the output NAME sends to. aegis: our protocol to a receiver (docs/PROTOCOL.md); file: a local JSON-lines file; influx: InfluxDB 1.x/2.x or VictoriaMetrics line protocol; prometheus: Prometheus remote write 1.0; otlp: OpenTelemetry OTLP/HTTP metrics; kafka: a Kafka topic (docs/OUTPUTS.md)."),
            s(OUTPUT_TEMPLATE, "endpoint", Kind.STRING, "",
                    "aegis, influx, prometheus, otlp (required): https://HOST[:PORT]/PATH. aegis: the receiver URL; influx: the server's base URL (the write path is added); prometheus: the remote-write URL (.../api/v1/write); otlp: the metrics URL (.../v1/metrics)."),
            s(OUTPUT_TEMPLATE, "bootstrap_servers", Kind.STRING, "",
                    "kafka (required): HOST:PORT[,HOST:PORT...], brokers the client starts from (it finds the others)."),
            s(OUTPUT_TEMPLATE, "topic", Kind.STRING, "",
                    "kafka (required): the topic (1-249 of a-z A-Z 0-9 . _ -). One record per sample, key the host uuid."),
            c(OUTPUT_TEMPLATE, "sasl_mechanism", "none", List.of("none", "plain", "scram-sha-256", "scram-sha-512"),
                    "kafka: SASL authentication, with username and password from credentials_file. none: no SASL (TLS alone, or mutual trust)."),
            s(OUTPUT_TEMPLATE, "allow_plaintext_loopback", Kind.BOOL, "false",
                    "kafka: talk without TLS, allowed only when every bootstrap server is a loopback address (for local testing). Otherwise TLS, verified."),
            s(OUTPUT_TEMPLATE, "credentials_file", Kind.PATH, "conf/credentials",
                    "aegis: access key id and secret, as [upload] credentials_file. influx, prometheus, otlp: read only when auth is not none ([credentials] username and password, token, or bearer_token; mode 0600). kafka: read only when sasl_mechanism is not none ([credentials] username and password)."),
            c(OUTPUT_TEMPLATE, "auth", "none", List.of("none", "basic", "token", "bearer"),
                    "influx, prometheus, otlp: how to authenticate, with the secrets of credentials_file: basic (username, password), token (Authorization: Token, InfluxDB), bearer (Authorization: Bearer)."),
            s(OUTPUT_TEMPLATE, "ca_file", Kind.STRING, "",
                    "aegis, influx, prometheus, otlp, kafka: PEM certificates to trust instead of the system trust store."),
            s(OUTPUT_TEMPLATE, "client_keystore", Kind.STRING, "",
                    "aegis, influx, prometheus, otlp: PKCS#12 client key and certificate for mutual TLS."),
            s(OUTPUT_TEMPLATE, "client_keystore_password_file", Kind.STRING, "",
                    "aegis, influx, prometheus, otlp: file whose first line is the client keystore's password (mode 0600)."),
            s(OUTPUT_TEMPLATE, "allow_http_loopback", Kind.BOOL, "false",
                    "aegis, influx, prometheus, otlp: allow a plain http:// endpoint on a loopback address."),
            c(OUTPUT_TEMPLATE, "flavour", "influxdb1", List.of("influxdb1", "influxdb2", "victoriametrics"),
                    "influx: the server: influxdb1 (/write, database), influxdb2 (/api/v2/write, org and bucket), victoriametrics (/write)."),
            s(OUTPUT_TEMPLATE, "database", Kind.STRING, "",
                    "influx, flavour influxdb1 (required): the database."),
            s(OUTPUT_TEMPLATE, "retention_policy", Kind.STRING, "",
                    "influx, flavour influxdb1: the retention policy; empty: the database's default."),
            s(OUTPUT_TEMPLATE, "org", Kind.STRING, "",
                    "influx, flavour influxdb2 (required): the organisation."),
            s(OUTPUT_TEMPLATE, "bucket", Kind.STRING, "",
                    "influx, flavour influxdb2 (required): the bucket."),
            c(OUTPUT_TEMPLATE, "precision", "ms", List.of("ns", "us", "ms", "s"),
                    "influx: unit of the timestamps written; samples carry milliseconds, so s keeps only the last of two points of a series in one second."),
            s(OUTPUT_TEMPLATE, "gzip", Kind.BOOL, "true",
                    "influx: gzip each request (about a ninth of the bytes, about 15% more CPU to encode)."),
            c(OUTPUT_TEMPLATE, "protocol", "http/protobuf", List.of("http/protobuf", "http/json"),
                    "otlp: the body's encoding."),
            i(OUTPUT_TEMPLATE, "batch_samples", "100", 1, 10_000, "aegis, influx, prometheus, otlp, kafka: most samples in one request."),
            b(OUTPUT_TEMPLATE, "batch_bytes", "500KB", 1024, 64 * 1024 * KIB,
                    "aegis, influx, prometheus, otlp, kafka: most bytes of sample JSON (before encoding) in one request."),
            i(OUTPUT_TEMPLATE, "rate", "20", 1, 10_000, "aegis, influx, prometheus, otlp, kafka: most requests per second."),
            d(OUTPUT_TEMPLATE, "backoff_max", "5m", 1_000, DAY,
                    "aegis, influx, prometheus, otlp, kafka: longest wait between retries; retries go on forever."),
            d(OUTPUT_TEMPLATE, "timeout", "30s", 1_000, 600_000, "aegis, influx, prometheus, otlp, kafka: connect and response timeout of one request."),
            d(OUTPUT_TEMPLATE, "linger", "15s", 0, 600_000,
                    "aegis, influx, prometheus, otlp, kafka: how long the oldest pending sample waits for others to share its request."),
            s(OUTPUT_TEMPLATE, "live", Kind.BOOL, "true",
                    "aegis, influx (influxdb1 and influxdb2 only): during a backlog, send the newest samples ahead of it (and again in order later; the backend keeps one copy)."),
            s(OUTPUT_TEMPLATE, "file", Kind.PATH, "",
                    "file (required): the JSON-lines file (docs/SAMPLES.md), rotated by size."),
            b(OUTPUT_TEMPLATE, "max_size", "50MiB", 64 * KIB, 64 * GIB, "file: size at which the file is rotated."),
            i(OUTPUT_TEMPLATE, "max_files", "5", 1, 1_000, "file: rotated files kept."),

            s("upload", "endpoint", Kind.STRING, "",
                    "Receiver URL (https://HOST[:PORT]/PATH, docs/PROTOCOL.md): the older way to configure the output named aegis, with the keys below (same as [output.NAME] of type aegis). Empty: no such output."),
            s("upload", "credentials_file", Kind.PATH, "conf/credentials",
                    "Access key id and secret ([credentials] access_key_id, access_key_secret, optional bearer_token); must be mode 0600 and owned by the agent's user."),
            s("upload", "ca_file", Kind.STRING, "",
                    "PEM certificates to trust for the receiver instead of the system trust store. Empty: the system trust store."),
            s("upload", "client_keystore", Kind.STRING, "",
                    "PKCS#12 file with a client key and certificate, for receivers that require mutual TLS. Empty: no client certificate."),
            s("upload", "client_keystore_password_file", Kind.STRING, "",
                    "File whose first line is the client keystore's password; must be mode 0600 and owned by the agent's user."),
            s("upload", "allow_http_loopback", Kind.BOOL, "false",
                    "Allow a plain http:// endpoint, only to a loopback address (for local testing). Anything else must be https://."),
            i("upload", "batch_samples", "100", 1, 10_000, "Most samples in one request."),
            b("upload", "batch_bytes", "500KB", 1024, 64 * 1024 * KIB, "Most bytes of sample JSON in one request, before compression."),
            i("upload", "rate", "20", 1, 10_000, "Most requests per second."),
            d("upload", "backoff_max", "5m", 1_000, DAY,
                    "Longest wait between retries while the receiver is unreachable or failing; retries go on forever."),
            d("upload", "timeout", "30s", 1_000, 600_000, "Connect and response timeout of one request."),
            d("upload", "linger", "15s", 0, 600_000,
                    "How long the oldest pending sample waits before a request goes out, so that jobs firing close together share one request. A full batch goes at once; on stop, waiting samples are sent first. 0: send every run's samples at once."),

            s("alert", "channels_file", Kind.PATH, "",
                    "The notification channels ([channel.NAME] sections, docs/ALERTS.md); must be mode 0600 and owned by the agent's user. Empty: aegis_notify.ini in the config directory."),
            s("alert", "notify", Kind.STRING, "",
                    "Channels (comma-separated names from the channels file) every job notifies unless its cron line says notify=. Empty: only jobs with notify= notify."),
            i("alert", "after", "1", 1, 1_000,
                    "Consecutive non-ok runs before a problem is hard and notified (a cron line's after= overrides it)."),
            d("alert", "repeat", "0s", 0, 30 * DAY,
                    "Notify again this often while a problem lasts (a cron line's repeat= overrides it). 0: once."),
            d("alert", "group_wait", "30s", 0, 3_600_000,
                    "Notifications that become due within this time go out as one message per channel."),
            i("alert", "max_per_hour", "20", 1, 3_600,
                    "Most messages a channel gets in any hour; what is held back goes, counted, into the next message."),
            d("alert", "give_up_after", "24h", 60_000, 30 * DAY,
                    "How long an undelivered message is retried (with backoff) before it is dropped, counted and logged."),
            i("alert", "flap_low", "5", 0, 100,
                    "A flapping job stops flapping when its state changes fall to this percentage of its last 21 runs (Nagios' low_service_flap_threshold)."),
            i("alert", "flap_high", "20", 1, 100,
                    "A job starts flapping when its state changes reach this percentage of its last 21 runs (Nagios' high_service_flap_threshold); it is notified once as flapping."),
            s("alert", "agent_notify", Kind.STRING, "",
                    "Channels for the agent's own events: a job quarantined (a run of it ended the agent) or shed by the governor, an output failing, samples the spool dropped, a reload with problems (docs/ALERTS.md). Empty: [alert] notify."),
            i("alert", "output_after", "3", 1, 1_000,
                    "Consecutive failed sends of an output (any [output.NAME], the upload included) before it is notified as failing, once, to the agent_notify channels; its first delivery after that is notified as its recovery.")
    );

    /** Keys of {@code [output.NAME]} by type; {@code type} itself goes with every type. */
    public static final Map<String, List<String>> OUTPUT_KEYS = Map.of(
            "aegis", List.of("type", "endpoint", "credentials_file", "ca_file", "client_keystore", "client_keystore_password_file",
                    "allow_http_loopback", "batch_samples", "batch_bytes", "rate", "backoff_max", "timeout", "linger", "live"),
            "file", List.of("type", "file", "max_size", "max_files"),
            "influx", List.of("type", "endpoint", "flavour", "database", "retention_policy", "org", "bucket", "precision", "gzip",
                    "auth", "credentials_file", "ca_file", "client_keystore", "client_keystore_password_file", "allow_http_loopback",
                    "batch_samples", "batch_bytes", "rate", "backoff_max", "timeout", "linger", "live"),
            "prometheus", List.of("type", "endpoint", "auth", "credentials_file", "ca_file", "client_keystore",
                    "client_keystore_password_file", "allow_http_loopback", "batch_samples", "batch_bytes", "rate", "backoff_max",
                    "timeout", "linger"),
            "otlp", List.of("type", "endpoint", "protocol", "auth", "credentials_file", "ca_file", "client_keystore",
                    "client_keystore_password_file", "allow_http_loopback", "batch_samples", "batch_bytes", "rate", "backoff_max",
                    "timeout", "linger"),
            "kafka", List.of("type", "bootstrap_servers", "topic", "sasl_mechanism", "credentials_file", "ca_file",
                    "allow_plaintext_loopback", "batch_samples", "batch_bytes", "rate", "backoff_max", "timeout", "linger"));

    /** The per-run limits, also used to check run-plugin's options. */
    public static final class Limits {
        public static final Setting TIMEOUT = d("limits", "timeout", "30s", 10 * MS, DAY,
                "Wall-time limit of one run. At the limit an in-JVM plugin is interrupted; an executable's process tree gets SIGTERM.");
        public static final Setting CPU = d("limits", "cpu", "10s", 10 * MS, DAY,
                "CPU-time limit of one run. Executables get RLIMIT_CPU (whole seconds, rounded up, per process).");
        public static final Setting KILL_GRACE = d("limits", "kill_grace", "2s", 0, 60_000,
                "After SIGTERM (or an interrupt), how long a run has to stop before SIGKILL (or abandonment).");
        public static final Setting OUTPUT_MAX = b("limits", "output_max", "1MiB", 1 * KIB, GIB,
                "Bytes of an executable's standard output kept per run. Past them the agent closes the pipe (the plugin gets SIGPIPE) and the samples say truncated.");
        public static final Setting MAX_SAMPLES = i("limits", "max_samples", "10000", 1, 10_000_000,
                "Samples kept per run; the rest are dropped and the run says truncated.");

        private Limits() {
        }
    }

    private static final Map<String, Setting> BY_ID = new LinkedHashMap<>();

    static {
        for (Setting s : ALL) {
            BY_ID.put(s.id(), s);
        }
    }

    private Settings() {
    }

    /** The setting "section.key", or null. */
    public static Setting byId(String id) {
        return BY_ID.get(id);
    }

    /** True for the settings of {@value #OUTPUT_TEMPLATE}, which are per output, not values of their own. */
    public static boolean isOutputTemplate(Setting s) {
        return s.section().equals(OUTPUT_TEMPLATE);
    }

    /** Section names in reference order. */
    public static Set<String> sections() {
        Set<String> out = new LinkedHashSet<>();
        ALL.forEach(s -> out.add(s.section()));
        return out;
    }

    /** Keys of one section in reference order. */
    public static List<String> keys(String section) {
        return ALL.stream().filter(s -> s.section().equals(section)).map(Setting::key).toList();
    }

    private static Setting s(String section, String key, Kind kind, String def, String doc) {
        return new Setting(section, key, kind, def, 0, Long.MAX_VALUE, List.of(), doc);
    }

    private static Setting i(String section, String key, String def, long min, long max, String doc) {
        return new Setting(section, key, Kind.INT, def, min, max, List.of(), doc);
    }

    private static Setting d(String section, String key, String def, long minMs, long maxMs, String doc) {
        return new Setting(section, key, Kind.DURATION, def, minMs, maxMs, List.of(), doc);
    }

    private static Setting b(String section, String key, String def, long min, long max, String doc) {
        return new Setting(section, key, Kind.BYTES, def, min, max, List.of(), doc);
    }

    private static Setting c(String section, String key, String def, List<String> choices, String doc) {
        return new Setting(section, key, Kind.CHOICE, def, 0, 0, choices, doc);
    }
}
