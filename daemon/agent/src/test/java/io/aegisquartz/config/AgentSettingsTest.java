package io.aegisquartz.config;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** aegis_config.ini checked against the settings schema: real files in a temporary agent home. */
class AgentSettingsTest {

    private static final String REF = "see the configuration reference in README.md";

    @TempDir
    Path home;

    private Path conf;
    private static final Path SHIPPED_INI = Path.of(System.getProperty("user.dir")).resolve("../../conf/aegis_config.ini").normalize();

    private Path ini;

    @BeforeEach
    void layout() throws IOException {
        conf = Files.createDirectories(home.resolve("conf"));
        ini = conf.resolve(AgentSettings.FILE_NAME);
    }

    private AgentSettings load(String text) throws IOException {
        Files.writeString(ini, text, StandardCharsets.UTF_8);
        return AgentSettings.load(home, conf);
    }

    /** Problems in file order (line, then column), formatted. */
    private static List<String> formatted(AgentSettings s) {
        return s.problems().stream()
                .sorted(Comparator.comparingInt(ConfigProblem::line).thenComparingInt(ConfigProblem::column))
                .map(ConfigProblem::format).toList();
    }

    private String f() {
        return ini.toString();
    }

    // ---------------------------------------------------------------- defaults

    @Test
    void defaultsWithoutAFile() {
        AgentSettings s = AgentSettings.defaults(home, conf);
        assertEquals(List.of(), s.problems());
        assertEquals(4, s.workers());
        assertEquals("", s.hostname());
        assertEquals(home.resolve("plugins-default"), s.defaultPluginDir());
        assertEquals(home.resolve("plugins-user"), s.userPluginDir());
        assertEquals(conf.resolve("uuid"), s.uuidFile());
        assertEquals(ini, s.file());
        assertEquals(new JobOptions(Duration.ofSeconds(30), Duration.ofSeconds(10), Duration.ofSeconds(2), 1_048_576, 10_000,
                JobOptions.Overlap.SKIP, JobOptions.Misfire.SKIP, null, null, 128L << 20, 64), s.defaultJobOptions());
        assertEquals(List.of(), s.nonDefaults());
        assertTrue(s.bool("plugins.watch"));
        assertEquals(Duration.ofMinutes(15), s.duration("limits.backoff_max"));
        assertEquals(50L * 1024 * 1024, s.bytes("sink.max_size"));
        assertEquals("info", s.string("log.level"));
    }

    @Test
    void unknownSettingIdIsAnError() {
        AgentSettings s = AgentSettings.defaults(home, conf);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> s.value("agent.wokers"));
        assertEquals("no such setting: agent.wokers", e.getMessage());
    }

    @Test
    void shippedConfigFileHasNoProblemsAndOnlyDefaults() throws IOException {
        Files.copy(SHIPPED_INI, ini);
        AgentSettings s = AgentSettings.load(home, conf);
        assertEquals(List.of(), formatted(s));
        assertEquals(List.of(), s.nonDefaults());
    }

    @Test
    void everySettingShownInTheShippedFileCanBeUncommentedWhereItStandsAndIsItsDefault() throws IOException {
        // A user edits by removing the '; ': each line must sit in the right section with the default value.
        StringBuilder uncommented = new StringBuilder();
        List<String> shown = new java.util.ArrayList<>();
        String section = "";
        for (String line : Files.readAllLines(SHIPPED_INI, StandardCharsets.UTF_8)) {
            if (line.matches("\\[[a-z_]+\\]")) {
                section = line.substring(1, line.length() - 1);
            } else if (line.matches("; [a-z_]+ =( .*)?")) {
                line = line.substring(2);
                shown.add(section + "." + line.substring(0, line.indexOf(' ')));
            }
            uncommented.append(line).append('\n');
        }
        AgentSettings s = load(uncommented.toString());
        assertEquals(List.of(), formatted(s));
        assertEquals(List.of(), s.nonDefaults());
        assertEquals(Settings.ALL.stream().filter(x -> !Settings.isOutputTemplate(x)).map(Setting::id).sorted().toList(),
                shown.stream().sorted().toList(), "every setting shown once");
    }

    @Test
    void theShippedExamplesOfOutputSectionsShowEveryKeyAndWorkUncommented() throws IOException {
        // The example sections are commented out as ';[output.X]' and ';key = value', up to the end of the file.
        StringBuilder examples = new StringBuilder();
        boolean in = false;
        for (String line : Files.readAllLines(SHIPPED_INI, StandardCharsets.UTF_8)) {
            in |= line.startsWith(";[output.");
            if (in && line.matches(";\\[?[a-z_.]+.*")) {
                examples.append(line.substring(1)).append('\n');
            }
        }
        AgentSettings s = load(examples.toString());
        assertEquals(List.of(), formatted(s));
        assertEquals(List.of("central", "local", "tsdb", "prom", "otel", "bus"), s.outputs().stream().map(OutputSettings::name).toList());
        List<String> keys = new java.util.ArrayList<>();
        for (String line : examples.toString().split("\n")) {
            if (line.matches("[a-z_]+ =.*")) {
                keys.add(line.substring(0, line.indexOf(' ')));
            }
        }
        for (Setting x : Settings.ALL) {
            if (Settings.isOutputTemplate(x)) {
                assertTrue(keys.contains(x.key()), "the shipped file shows [output.NAME] " + x.key());
            }
        }
    }

    // ---------------------------------------------------------------- outputs

    @Test
    void outputSectionsAreReadIntoTypedRecords() throws IOException {
        AgentSettings s = load("""
                [output.central]
                type = aegis
                endpoint = https://monitor.example.com/aegis/v1/samples
                linger = 1s
                live = false
                [output.local]
                type = file
                file = log/local.jsonl
                max_files = 2
                """);
        assertEquals(List.of(), formatted(s));
        assertEquals(List.of(
                new OutputSettings.Aegis("central", 1, java.net.URI.create("https://monitor.example.com/aegis/v1/samples"),
                        home.resolve("conf/credentials"), null, null, null, false,
                        new OutputSettings.Delivery(100, 500_000, 20, Duration.ofMinutes(5), Duration.ofSeconds(30), Duration.ofSeconds(1), false)),
                new OutputSettings.File("local", 6, home.resolve("log/local.jsonl"), 50L << 20, 2)), s.outputs());
        assertEquals(List.of("output.central.linger=1s", "output.central.live=false", "output.local.max_files=2"),
                s.nonDefaults().stream().filter(x -> !x.contains("endpoint") && !x.contains(".file=")).toList());
    }

    @Test
    void backendOutputsAreReadIntoTypedRecordsWithTheKeysOfTheirFlavour() throws IOException {
        AgentSettings s = load("""
                [output.tsdb]
                type = influx
                endpoint = https://influx.example.com:8086/proxy/
                database = metrics
                retention_policy = weekly
                precision = s
                auth = basic
                credentials_file = conf/influx.secret
                [output.v2]
                type = influx
                endpoint = https://influx2.example.com
                flavour = influxdb2
                org = ops
                bucket = hosts
                gzip = false
                auth = token
                live = false
                [output.prom]
                type = prometheus
                endpoint = http://127.0.0.1:9090/api/v1/write
                allow_http_loopback = true
                batch_samples = 500
                [output.otel]
                type = otlp
                endpoint = https://collector.example.com:4318/v1/metrics
                protocol = http/json
                auth = bearer
                """);
        assertEquals(List.of(), formatted(s));
        OutputSettings.Delivery defaults = new OutputSettings.Delivery(100, 500_000, 20, Duration.ofMinutes(5), Duration.ofSeconds(30),
                Duration.ofSeconds(15), false);
        OutputSettings.Delivery live = new OutputSettings.Delivery(100, 500_000, 20, Duration.ofMinutes(5), Duration.ofSeconds(30),
                Duration.ofSeconds(15), true);
        Path creds = home.resolve("conf/credentials");
        assertEquals(List.of(
                new OutputSettings.Influx("tsdb", 1, new OutputSettings.Http(java.net.URI.create("https://influx.example.com:8086/proxy/"),
                        OutputSettings.Auth.BASIC, home.resolve("conf/influx.secret"), null, null, null, false), "influxdb1", "metrics",
                        "weekly", "", "", "s", true, live),
                new OutputSettings.Influx("v2", 9, new OutputSettings.Http(java.net.URI.create("https://influx2.example.com"),
                        OutputSettings.Auth.TOKEN, creds, null, null, null, false), "influxdb2", "", "", "ops", "hosts", "ms", false, defaults),
                new OutputSettings.Prometheus("prom", 18, new OutputSettings.Http(java.net.URI.create("http://127.0.0.1:9090/api/v1/write"),
                        OutputSettings.Auth.NONE, creds, null, null, null, true),
                        new OutputSettings.Delivery(500, 500_000, 20, Duration.ofMinutes(5), Duration.ofSeconds(30), Duration.ofSeconds(15), false)),
                new OutputSettings.Otlp("otel", 23, new OutputSettings.Http(java.net.URI.create("https://collector.example.com:4318/v1/metrics"),
                        OutputSettings.Auth.BEARER, creds, null, null, null, false), true, defaults)), s.outputs());

        AgentSettings bad = load("""
                [output.nodb]
                type = influx
                endpoint = https://influx.example.com
                [output.mixed]
                type = influx
                endpoint = https://influx.example.com
                flavour = victoriametrics
                database = x
                [output.nolive]
                type = prometheus
                endpoint = https://p.example.com/api/v1/write
                live = true
                [output.noend]
                type = otlp
                protocol = grpc
                [output.userinfo]
                type = prometheus
                endpoint = https://aegis:hunter2@p.example.com/api/v1/write
                """);
        assertEquals(List.of(
                f() + ":1:1: [output.nodb] of flavour influxdb1 has no database\n    fix: add e.g. 'database = aegis'",
                f() + ":8:1: [output.mixed] database does not apply to flavour victoriametrics\n"
                        + "    fix: remove it, or set the flavour it belongs to (see the configuration reference in README.md)",
                f() + ":12:1: key 'live' does not apply to an output of type prometheus; keys of type prometheus: type, endpoint, auth, "
                        + "credentials_file, ca_file, client_keystore, client_keystore_password_file, allow_http_loopback, batch_samples, "
                        + "batch_bytes, rate, backoff_max, timeout, linger\n    fix: " + REF,
                f() + ":15:12: [output.noend] protocol: 'grpc' is not allowed; allowed: one of http/protobuf, http/json\n"
                        + "    fix: write e.g. 'protocol = http/protobuf' (the default)",
                f() + ":18:12: [output.userinfo] endpoint has a user name or password in it (USER:PASSWORD@); put credentials in "
                        + "credentials_file instead\n    fix: write e.g. 'endpoint = https://prometheus.example.com/api/v1/write'"),
                formatted(bad));
    }

    @Test
    void theReadmeBlockForEachBackendIsAValidConfiguration() throws IOException {
        String readme = Files.readString(SHIPPED_INI.getParent().getParent().resolve("README.md"), StandardCharsets.UTF_8);
        int section = readme.indexOf("### Outputs to InfluxDB");
        int from = readme.indexOf("```ini\n", section) + 7;
        AgentSettings s = load(readme.substring(from, readme.indexOf("```", from)));
        assertEquals(List.of(), formatted(s));
        assertEquals(List.of("influx", "influx", "influx", "prometheus", "otlp", "kafka"), s.outputs().stream().map(OutputSettings::type).toList());
    }

    @Test
    void anUploadEndpointIsTheOutputNamedAegisAndWithoutAnyOutputSamplesGoToTheSinkFile() throws IOException {
        AgentSettings up = load("[upload]\nendpoint = https://r.example.com/x\nlinger = 2s\nca_file = ca.pem\n");
        assertEquals(List.of(), formatted(up));
        assertEquals(List.of(new OutputSettings.Aegis("aegis", 2, java.net.URI.create("https://r.example.com/x"),
                home.resolve("conf/credentials"), home.resolve("ca.pem"), null, null, false,
                new OutputSettings.Delivery(100, 500_000, 20, Duration.ofMinutes(5), Duration.ofSeconds(30), Duration.ofSeconds(2), true))),
                up.outputs());
        AgentSettings none = AgentSettings.defaults(home, conf);
        assertEquals(List.of(new OutputSettings.File("file", 0, home.resolve("log/samples.jsonl"), 50L << 20, 5)), none.outputs());
        AgentSettings both = load("[upload]\nendpoint = https://r.example.com/x\n[output.local]\ntype = file\nfile = l.jsonl\n");
        assertEquals(List.of("aegis", "local"), both.outputs().stream().map(OutputSettings::name).toList(),
                "[sink] is the default only when nothing else is configured");
    }

    @Test
    void aKafkaOutputIsTlsUnlessEveryBrokerIsLoopbackAndPlaintextAllowed() throws IOException {
        AgentSettings s = load("""
                [output.bus]
                type = kafka
                bootstrap_servers = k1.example.com:9093, [2001:db8::1]:9093
                topic = aegis.samples
                sasl_mechanism = scram-sha-512
                ca_file = conf/kafka-ca.pem
                [output.local]
                type = kafka
                bootstrap_servers = 127.0.0.1:9092,localhost:9092
                topic = t
                allow_plaintext_loopback = true
                """);
        assertEquals(List.of(), s.problems());
        OutputSettings.Kafka bus = (OutputSettings.Kafka) s.outputs().get(0);
        assertEquals(List.of("k1.example.com:9093", "[2001:db8::1]:9093"), bus.bootstrapServers());
        assertEquals("aegis.samples", bus.topic());
        assertTrue(bus.tls());
        assertEquals("SCRAM-SHA-512", bus.saslMechanism());
        assertEquals(home.resolve("conf/kafka-ca.pem"), bus.caFile());
        assertFalse(bus.delivery().live(), "Kafka keeps every copy: no live lane");
        OutputSettings.Kafka local = (OutputSettings.Kafka) s.outputs().get(1);
        assertFalse(local.tls());
        assertNull(local.saslMechanism());

        AgentSettings bad = load("""
                [output.a]
                type = kafka
                bootstrap_servers = k1.example.com:9093,10.0.0.1:9092
                topic = t
                allow_plaintext_loopback = true
                [output.b]
                type = kafka
                bootstrap_servers = k1.example.com
                topic = t
                [output.c]
                type = kafka
                bootstrap_servers = k1.example.com:9093
                topic = no spaces
                [output.d]
                type = kafka
                bootstrap_servers = 127.0.0.1:9092
                topic = t
                endpoint = https://x.example.com
                """);
        assertEquals(List.of(
                f() + ":5:28: [output.a] allow_plaintext_loopback: not every bootstrap server is a loopback address, and anything else"
                        + " is spoken to over TLS only\n    fix: remove allow_plaintext_loopback (TLS, verified), or use only"
                        + " 127.0.0.1/localhost brokers",
                f() + ":8:21: [output.b] bootstrap_servers: 'k1.example.com' is not HOST:PORT\n"
                        + "    fix: write e.g. 'bootstrap_servers = kafka1.example.com:9093'",
                f() + ":13:9: [output.c] topic 'no spaces' is not a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)\n"
                        + "    fix: add e.g. 'topic = aegis-samples'",
                f() + ":18:1: key 'endpoint' does not apply to an output of type kafka; keys of type kafka: type, bootstrap_servers,"
                        + " topic, sasl_mechanism, credentials_file, ca_file, allow_plaintext_loopback, batch_samples, batch_bytes, rate,"
                        + " backoff_max, timeout, linger\n    fix: " + REF),
                formatted(bad));
    }

    @Test
    void everyBadOutputSectionIsOneProblemWithItsLineAndFix() throws IOException {
        AgentSettings s = load("""
                [upload]
                endpoint = https://r.example.com/x
                [output.Main]
                type = file
                [output.untyped]
                file = a.jsonl
                [output.later]
                type = kafka
                [output.odd]
                type = graphite
                [output.mixed]
                type = file
                file = b.jsonl
                endpoint = https://r.example.com/x
                [output.noend]
                type = aegis
                [output.plain]
                type = aegis
                endpoint = http://192.0.2.1/x
                [output.nofile]
                type = file
                [output.aegis]
                type = file
                file = c.jsonl
                [output.first]
                type = file
                file = d.jsonl
                [output.twin]
                type = file
                file = d.jsonl
                [output.typo]
                type = aegis
                endpoint = https://r.example.com/y
                lingr = 1s
                """);
        assertEquals(List.of(
                f() + ":3:2: output name 'Main' must be 1-32 of a-z 0-9 _ - and start with a letter or digit\n"
                        + "    fix: rename the section, e.g. [output.main]",
                f() + ":5:1: [output.untyped] has no type\n    fix: add 'type = aegis' or 'type = file'",
                f() + ":7:1: [output.later] of type kafka has no bootstrap_servers\n"
                        + "    fix: add e.g. 'bootstrap_servers = kafka1.example.com:9093,kafka2.example.com:9093'",
                f() + ":10:8: [output.odd] type: 'graphite' is not allowed; allowed: aegis, file, influx, kafka, otlp, prometheus\n"
                        + "    fix: write 'type = aegis'",
                f() + ":14:1: key 'endpoint' does not apply to an output of type file; keys of type file: type, file, max_size, max_files\n"
                        + "    fix: " + REF,
                f() + ":15:1: [output.noend] of type aegis has no endpoint\n"
                        + "    fix: add 'endpoint = https://monitor.example.com/aegis/v1/samples'",
                f() + ":19:12: [output.plain] endpoint http://192.0.2.1/x uses plain http:// to a host that is not loopback; use https://\n"
                        + "    fix: write e.g. 'endpoint = https://monitor.example.com/aegis/v1/samples'",
                f() + ":20:1: [output.nofile] of type file has no file\n    fix: add e.g. 'file = log/nofile.jsonl'",
                f() + ":22:1: output aegis is defined twice: by [upload] endpoint and by [output.aegis]\n"
                        + "    fix: move the [upload] keys into [output.aegis] and remove [upload] endpoint",
                f() + ":28:1: [output.twin] writes " + home.resolve("d.jsonl") + ", as output first does\n"
                        + "    fix: give each file output a file of its own",
                f() + ":34:1: unknown key 'lingr' in [output.typo]; keys of type aegis: type, endpoint, credentials_file, ca_file, "
                        + "client_keystore, client_keystore_password_file, allow_http_loopback, batch_samples, batch_bytes, rate, "
                        + "backoff_max, timeout, linger, live\n    fix: did you mean 'linger'? " + REF), formatted(s));
    }

    @Test
    void missingFileIsAProblem() {
        AgentSettings s = AgentSettings.load(home, conf);
        assertEquals(List.of(f() + ": file not found\n"
                + "    fix: create it, or start with --conf pointing at the config directory"), formatted(s));
        assertEquals(4, s.workers());
    }

    // ---------------------------------------------------------------- unknown sections and keys

    @Test
    void unknownSectionListsAllowedAndSuggests() throws IOException {
        AgentSettings s = load("""
                [agent]
                workers = 2

                [agnet]
                workers = 3
                """);
        assertEquals(List.of(f() + ":4:1: unknown section [agnet]; allowed: agent, plugins, plugin_host, limits, governor, log, sink, spool, output.NAME, upload, alert\n"
                + "    fix: did you mean 'agent'? " + REF), formatted(s));
        // Keys of an unknown section are not applied and not reported one by one.
        assertEquals(2, s.workers());
    }

    @Test
    void unknownSectionWithoutCloseMatchHasNoSuggestion() throws IOException {
        AgentSettings s = load("[database]\nhost = x\n");
        assertEquals(List.of(f() + ":1:1: unknown section [database]; allowed: agent, plugins, plugin_host, limits, governor, log, sink, spool, output.NAME, upload, alert\n"
                + "    fix: " + REF), formatted(s));
    }

    @Test
    void unknownKeySuggestsTheClosestKeyOnItsLine() throws IOException {
        AgentSettings s = load("""
                # agent settings
                [agent]
                hostname = web-1
                wokers = 8
                """);
        assertEquals(List.of(f() + ":4:1: unknown key 'wokers' in [agent]; allowed: hostname, workers, uuid_file, state_dir, watchdog, health_interval\n"
                + "    fix: did you mean 'workers'? " + REF), formatted(s));
        assertEquals(4, s.workers());
        assertEquals("web-1", s.hostname());
    }

    @Test
    void unknownIndentedKeyPointsAtTheKey() throws IOException {
        AgentSettings s = load("[limits]\n    timout = 5s\n");
        // Four blanks: the key starts at column 5.
        assertEquals(List.of(f() + ":2:5: unknown key 'timout' in [limits]; allowed: timeout, cpu, kill_grace, output_max, "
                + "memory_max, pids_max, max_samples, max_bytes, mem, overlap, misfire, splay, backoff_after, backoff_max, max_abandoned_threads\n"
                + "    fix: did you mean 'timeout'? " + REF), formatted(s));
    }

    // ---------------------------------------------------------------- bad values

    @Test
    void wrongTypeNamesValueColumnAndAllowedValues() throws IOException {
        AgentSettings s = load("[agent]\nworkers = many\n");
        // "workers = " is 10 chars: the value starts at column 11.
        assertEquals(List.of(f() + ":2:11: [agent] workers: 'many' is not a whole number; allowed: a whole number from 1 to 64\n"
                + "    fix: write e.g. 'workers = 4' (the default)"), formatted(s));
        assertEquals(4, s.workers());
    }

    @Test
    void outOfRangeNamesValueColumnAndRange() throws IOException {
        AgentSettings s = load("[agent]\n  workers=0\n");
        // "  workers=" is 10 chars: column 11.
        assertEquals(List.of(f() + ":2:11: [agent] workers: 0 is out of range; allowed: a whole number from 1 to 64\n"
                + "    fix: write e.g. 'workers = 4' (the default)"), formatted(s));
        assertEquals(4, s.workers());
    }

    @Test
    void upperBoundIsInclusiveAndOneMoreIsRejected() throws IOException {
        assertEquals(64, load("[agent]\nworkers = 64\n").workers());
        AgentSettings s = load("[agent]\nworkers = 65\n");
        assertEquals(List.of(f() + ":2:11: [agent] workers: 65 is out of range; allowed: a whole number from 1 to 64\n"
                + "    fix: write e.g. 'workers = 4' (the default)"), formatted(s));
    }

    @Test
    void durationForms() throws IOException {
        AgentSettings s = load("""
                [limits]
                timeout = 500ms
                cpu = 1.5m
                kill_grace = 45
                backoff_max = 2h
                [log]
                failure_summary = 1d
                """);
        assertEquals(List.of(), s.problems());
        assertEquals(Duration.ofMillis(500), s.duration("limits.timeout"));
        assertEquals(Duration.ofSeconds(90), s.duration("limits.cpu"));
        // A bare number means seconds; kill_grace allows up to 1m.
        assertEquals(Duration.ofSeconds(45), s.duration("limits.kill_grace"));
        assertEquals(Duration.ofHours(2), s.duration("limits.backoff_max"));
        assertEquals(Duration.ofDays(1), s.duration("log.failure_summary"));
        assertEquals(List.of("limits.timeout=500ms", "limits.cpu=1m30s", "limits.kill_grace=45s", "limits.backoff_max=2h",
                "log.failure_summary=1d"), s.nonDefaults());
    }

    @Test
    void sizeForms() throws IOException {
        AgentSettings s = load("""
                [limits]
                output_max = 64KiB
                [log]
                max_size = 1MB
                [sink]
                max_size = 1.5GiB
                [spool]
                max_size = 2048M
                """);
        assertEquals(List.of(), s.problems());
        assertEquals(65_536L, s.bytes("limits.output_max"));
        assertEquals(1_000_000L, s.bytes("log.max_size"));
        assertEquals(1_610_612_736L, s.bytes("sink.max_size"));
        assertEquals(2048L * 1024 * 1024, s.bytes("spool.max_size"));
        assertEquals(65_536L, s.defaultJobOptions().outputMax());
    }

    @Test
    void badDurationAndSizeSayWhatIsAllowed() throws IOException {
        AgentSettings s = load("""
                [limits]
                timeout = 5 minutes
                kill_grace = 2m
                output_max = lots
                """);
        assertEquals(List.of(
                f() + ":2:11: [limits] timeout: '5 minutes' is not a duration; allowed: a number with a unit: ms, s, m, h or d "
                        + "(e.g. 500ms, 30s, 5m); a bare number means seconds, from 10ms to 1d\n"
                        + "    fix: write e.g. 'timeout = 30s' (the default)",
                f() + ":3:14: [limits] kill_grace: 2m is out of range; allowed: from 0ms to 1m\n"
                        + "    fix: write e.g. 'kill_grace = 2s' (the default)",
                f() + ":4:14: [limits] output_max: 'lots' is not a size; allowed: a number with a unit: B, KiB, MiB, GiB, TiB "
                        + "(or KB, MB, GB, TB = powers of 1000), e.g. 64KiB; a bare number means bytes, from 1KiB to 1GiB\n"
                        + "    fix: write e.g. 'output_max = 1MiB' (the default)"), formatted(s));
        assertEquals(Duration.ofSeconds(30), s.duration("limits.timeout"));
        assertEquals(Duration.ofSeconds(2), s.duration("limits.kill_grace"));
        assertEquals(1_048_576L, s.bytes("limits.output_max"));
    }

    @Test
    void choicesAndBooleans() throws IOException {
        AgentSettings s = load("""
                [log]
                level = DEBUG
                console = never
                [plugins]
                watch = off
                [limits]
                misfire = run_once
                """);
        assertEquals(List.of(), s.problems());
        assertEquals("debug", s.string("log.level"));
        assertEquals("never", s.string("log.console"));
        assertFalse(s.bool("plugins.watch"));
        assertEquals(JobOptions.Misfire.RUN_ONCE, s.defaultJobOptions().misfire());
    }

    @Test
    void badChoiceAndBoolean() throws IOException {
        AgentSettings s = load("[log]\nlevel = verbose\n[plugins]\nwatch = maybe\n");
        assertEquals(List.of(
                f() + ":2:9: [log] level: 'verbose' is not allowed; allowed: one of error, warn, info, debug, trace\n"
                        + "    fix: write e.g. 'level = info' (the default)",
                f() + ":4:9: [plugins] watch: 'maybe' is not a boolean; allowed: true or false\n"
                        + "    fix: write e.g. 'watch = true' (the default)"), formatted(s));
    }

    @Test
    void quotedValuesWithHashAndTrailingComments() throws IOException {
        AgentSettings s = load("""
                [agent]
                hostname = "web #1"   # the box under the stairs
                [sink]
                file = samples/out.jsonl ; relative to home
                """);
        assertEquals(List.of(), s.problems());
        assertEquals("web #1", s.hostname());
        assertEquals(home.resolve("samples/out.jsonl"), s.path("sink.file"));
    }

    @Test
    void emptyHostnameWithTrailingCommentMeansTheKernelsName() throws IOException {
        // What a user gets by uncommenting the shipped "; hostname =            ; empty: ..." line.
        AgentSettings s = load("[agent]\nhostname =            ; empty: the kernel's host name\n");
        assertEquals(List.of(), s.problems());
        assertEquals("", s.hostname());
    }

    @Test
    void absolutePathSettingIsKept() throws IOException {
        AgentSettings s = load("[plugins]\nuser_dir = /opt/plugins/../checks\n");
        assertEquals(Path.of("/opt/checks"), s.userPluginDir());
    }

    @Test
    void uuidFileIsNextToTheConfigUnlessMoved() throws IOException {
        assertEquals(conf.resolve("uuid"), load("[agent]\nuuid_file =\n").uuidFile());
        // The RPM's layout: the config is read-only to the agent, its identity lives with its state.
        assertEquals(Path.of("/var/lib/aegis-quartz/uuid"), load("[agent]\nuuid_file = /var/lib/aegis-quartz/uuid\n").uuidFile());
        assertEquals(home.resolve("state/uuid"), load("[agent]\nuuid_file = state/uuid\n").uuidFile());
    }

    @Test
    void bomAndCrlf() throws IOException {
        AgentSettings s = load("\uFEFF[agent]\r\nworkers = 9\r\n[log]\r\nlevel = warn\r\nmax_files = x\r\n");
        assertEquals(9, s.workers());
        assertEquals("warn", s.string("log.level"));
        assertEquals(List.of(f() + ":5:13: [log] max_files: 'x' is not a whole number; allowed: a whole number from 1 to 100\n"
                + "    fix: write e.g. 'max_files = 5' (the default)"), formatted(s));
    }

    @Test
    void duplicateKeyAndDuplicateSectionAreReported() throws IOException {
        AgentSettings s = load("""
                [agent]
                workers = 2
                workers = 3
                [log]
                [agent]
                """);
        assertEquals(List.of(
                f() + ":3:1: key 'workers' in [agent] is already set on line 2\n    fix: keep one of the two lines",
                f() + ":5:1: section [agent] already started on line 1\n    fix: merge the two [agent] sections into one"),
                formatted(s));
        assertEquals(2, s.workers());
    }

    @Test
    void keyBeforeAnySection() throws IOException {
        AgentSettings s = load("workers = 2\n[agent]\n");
        assertEquals(List.of(f() + ":1:1: key 'workers' appears before any [section]\n"
                + "    fix: move it under the section it belongs to, e.g. [agent]"), formatted(s));
        assertEquals(4, s.workers());
    }

    @Test
    void plainHttpEndpointToARemoteHostIsRefusedWithItsPlace() throws IOException {
        AgentSettings s = load("[upload]\nendpoint = http://monitor.example.com/aegis/v1/samples\n");
        // "endpoint = " is 11 chars: column 12.
        assertEquals(List.of(f() + ":2:12: [upload] endpoint http://monitor.example.com/aegis/v1/samples uses plain http:// "
                + "to a host that is not loopback; use https://\n"
                + "    fix: write e.g. 'endpoint = https://monitor.example.com/aegis/v1/samples'"), formatted(s));
    }

    @Test
    void httpsEndpointIsAcceptedAndLoopbackHttpOnlyWhenAllowed() throws IOException {
        assertEquals(List.of(), load("[upload]\nendpoint = https://monitor.example.com/x\n").problems());
        assertEquals(1, load("[upload]\nendpoint = http://127.0.0.1:8080/x\n").problems().size());
        assertEquals(List.of(), load("[upload]\nendpoint = http://127.0.0.1:8080/x\nallow_http_loopback = true\n").problems());
    }

    @Test
    void emptyQuotedUploadEndpointIsFine() throws IOException {
        AgentSettings s = load("[upload]\nendpoint = \"\"\ncredentials_file = conf/creds\n");
        assertEquals(List.of(), s.problems());
        assertEquals(home.resolve("conf/creds"), s.path("upload.credentials_file"));
    }

    @Test
    void allProblemsOfAFileAreReportedInOnePassAndGoodValuesStillApply() throws IOException {
        AgentSettings s = load("""
                [agent]
                wokers = 8
                hostname = web-1
                [limits]
                timeout = 0
                cpu = 3s
                overlap = sometimes
                [logs]
                level = debug
                [log]
                level = debug
                max_files = 0
                [upload]
                endpoint = http://x
                [sink]
                max_files = 7
                """);
        // Line:column of each problem, by hand: unknown key (2:1), timeout value (5:11), overlap value (7:11),
        // unknown section (8:1), max_files value (12:13), endpoint value (14:12).
        assertEquals(List.of("2:1", "5:11", "7:11", "8:1", "12:13", "14:12"),
                s.problems().stream()
                        .sorted(Comparator.comparingInt(ConfigProblem::line))
                        .map(p -> p.line() + ":" + p.column()).toList());
        // Bad values keep their defaults; good values around them are applied.
        assertEquals(4, s.workers());
        assertEquals("web-1", s.hostname());
        assertEquals(Duration.ofSeconds(30), s.duration("limits.timeout"));
        assertEquals(Duration.ofSeconds(3), s.duration("limits.cpu"));
        assertEquals("skip", s.string("limits.overlap"));
        assertEquals("debug", s.string("log.level"));
        assertEquals(5, s.integer("log.max_files"));
        assertEquals(7, s.integer("sink.max_files"));
    }

    // ---------------------------------------------------------------- units on their own

    @Test
    void unitsParseAndFormat() {
        assertEquals(Duration.ofMillis(1500), Units.parseDuration("1.5s"));
        assertEquals(Duration.ofSeconds(30), Units.parseDuration(" 30 s "));
        assertEquals(null, Units.parseDuration("30S"));
        assertEquals(null, Units.parseDuration("-1s"));
        assertEquals(1536L, Units.parseBytes("1.5k"));
        assertEquals(3_000L, Units.parseBytes("3 KB"));
        assertEquals(1L << 40, Units.parseBytes("1TiB"), "the documented maximum of [spool] max_size, as the reference prints it");
        assertEquals(Units.parseBytes(Units.formatBytes(1L << 40)), 1L << 40);
        assertEquals(2_000_000_000_000L, Units.parseBytes("2TB"));
        assertEquals(-1L, Units.parseBytes("1PiB"));
        assertEquals("250ms", Units.format(Duration.ofMillis(250)));
        assertEquals("1.5s", Units.format(Duration.ofMillis(1500)));
        assertEquals("2h30m", Units.format(Duration.ofMinutes(150)));
        assertEquals("1d1h1m1s", Units.format(Duration.ofSeconds(90_061)));
        assertEquals("1000B", Units.formatBytes(1000));
        assertEquals("64KiB", Units.formatBytes(65_536));
        assertEquals("1536KiB", Units.formatBytes(1_572_864));
    }

    @Test
    void everySettingsDefaultIsValidForItsOwnType() {
        for (Setting s : Settings.ALL) {
            if (!(Settings.isOutputTemplate(s) && s.defaultValue().isEmpty())) { // required keys of [output.NAME] have none
                s.convert(s.defaultValue());
            }
            assertEquals(s, Settings.byId(s.section() + "." + s.key()));
        }
        assertEquals(List.of("agent", "plugins", "plugin_host", "limits", "governor", "log", "sink", "spool", "output.NAME", "upload", "alert"),
                List.copyOf(Settings.sections()));
    }
}
