package io.aegisquartz.agent;

import io.aegisquartz.config.AgentSettings;
import io.aegisquartz.config.ConfigProblem;
import io.aegisquartz.config.OutputSettings;
import io.aegisquartz.config.SpoolSettings;
import io.aegisquartz.config.Units;
import io.aegisquartz.output.DeadLetters;
import io.aegisquartz.output.Output;
import io.aegisquartz.output.OutputEvents;
import io.aegisquartz.output.OutputState;
import io.aegisquartz.output.OutputWorker;
import io.aegisquartz.output.WorkerConfig;
import io.aegisquartz.output.aegis.AegisOutput;
import io.aegisquartz.output.aegis.Credentials;
import io.aegisquartz.output.aegis.CredentialsException;
import io.aegisquartz.output.file.FileOutput;
import io.aegisquartz.output.http.HttpAuth;
import io.aegisquartz.output.http.HttpTransport;
import io.aegisquartz.output.influx.InfluxFlavour;
import io.aegisquartz.output.influx.InfluxOutput;
import io.aegisquartz.output.influx.InfluxPrecision;
import io.aegisquartz.output.kafka.KafkaClientLoader;
import io.aegisquartz.output.kafka.KafkaOutput;
import io.aegisquartz.output.kafka.ProducerSettings;
import io.aegisquartz.output.kafka.bridge.KafkaBridge;
import io.aegisquartz.output.otlp.OtlpEncoder;
import io.aegisquartz.output.otlp.OtlpOutput;
import io.aegisquartz.output.prometheus.PrometheusOutput;
import io.aegisquartz.pipeline.SamplePipeline;
import io.aegisquartz.pipeline.SampleSink;
import io.aegisquartz.pipeline.SampleTap;
import io.aegisquartz.sample.SampleStamper;
import io.aegisquartz.spool.RecoveryReport;
import io.aegisquartz.spool.Spool;
import io.aegisquartz.spool.SpoolConfig;
import io.aegisquartz.spool.SpoolInspector;
import io.aegisquartz.util.ExponentialBackoff;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The back half of the agent, wired from the settings: the spool, one output and one worker per
 * configured output (each reading through its own cursor), and the pipeline runs write into.
 * Every configuration has a spool: the local samples file is an output like the others.
 */
public final class Delivery implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger("agent");

    private final Spool spool;
    private final SamplePipeline pipeline;
    private final List<OutputWorker<?>> workers;

    private Delivery(Spool spool, SamplePipeline pipeline, List<OutputWorker<?>> workers) {
        this.spool = spool;
        this.pipeline = pipeline;
        this.workers = workers;
    }

    /** One output as configured, not yet started. */
    private record Planned(Output<?> output, WorkerConfig config, String where) {
    }

    /** Why an output cannot be created, in one line naming what to fix. */
    private static final class Invalid extends Exception {
        Invalid(String message) {
            super(message, null, false, false);
        }
    }

    /**
     * Opens the spool with a cursor per output and starts a worker per output; samples written to
     * {@link #sink()} go to every output.
     */
    static Delivery start(AgentSettings settings, SampleStamper stamper, List<SampleTap> taps, OutputEvents events)
            throws Agent.StartException {
        List<Planned> planned = new ArrayList<>();
        try {
            for (OutputSettings o : settings.outputs()) {
                planned.add(plan(o, stamper.hostUuid(), true));
            }
        } catch (Invalid e) {
            planned.forEach(p -> p.output.close());
            throw new Agent.StartException(e.getMessage());
        }
        SpoolSettings ss = settings.spool();
        List<String> names = planned.stream().map(p -> p.output.name()).toList();
        Spool spool;
        try {
            spool = Spool.open(ss.dir(), SpoolConfig.forLimits(ss.maxBytes(), ss.minFreeBytes()), names, LEGACY_HEIR);
        } catch (IOException | IllegalArgumentException e) {
            planned.forEach(p -> p.output.close());
            throw new Agent.StartException("spool " + ss.dir() + ": " + e.getMessage());
        }
        RecoveryReport r = spool.recoveryReport();
        if (r.hasProblems()) {
            LOG.warn("spool {} opened after repairs: {}", ss.dir(), r.summary());
        } else if (r.recordsPending() > 0) {
            LOG.info("spool {}: samples waiting from before, per output: {}", ss.dir(), r.pendingByCursor());
        }
        SamplePipeline pipeline = new SamplePipeline(spool, taps);
        // The dropped samples a worker makes from the spool's reports pass the taps too (alerting
        // notifies them), when the worker takes the report: they are never appended to the spool.
        OutputEvents withDrops = new OutputEvents() {
            @Override
            public void failed(String output, String type, int consecutive, String error, long unreported) {
                events.failed(output, type, consecutive, error, unreported);
            }

            @Override
            public void delivered(String output, String type) {
                events.delivered(output, type);
            }

            @Override
            public void dropped(io.aegisquartz.sample.Sample dropped) {
                pipeline.tap(List.of(dropped));
                events.dropped(dropped);
            }
        };
        List<OutputWorker<?>> workers = new ArrayList<>();
        for (Planned p : planned) {
            workers.add(worker(p, spool, ss.dir(), stamper, withDrops).start());
            LOG.info("output {} ({}): {}", p.output.name(), p.output.type(), p.where);
        }
        LOG.info("samples are stored in the spool {} (cap {}) and sent from there to {} output(s)", ss.dir(),
                Units.formatBytes(ss.maxBytes()), workers.size());
        return new Delivery(spool, pipeline, workers);
    }

    /**
     * What starting would refuse, checked the same way without starting anything or changing a file:
     * each output is created (credentials read, TLS material loaded, endpoint and file checked) and
     * closed again, and the spool's directory is checked.
     */
    public static List<ConfigProblem> check(AgentSettings settings) {
        List<ConfigProblem> problems = new ArrayList<>();
        for (OutputSettings o : settings.outputs()) {
            try {
                // Not exclusive: a running agent holds its files' locks, and that is no problem of the configuration.
                plan(o, "00000000-0000-0000-0000-000000000000", false).output.close();
            } catch (Invalid e) {
                problems.add(new ConfigProblem(settings.file(), o.line(), 0, e.getMessage(), null));
            }
        }
        SpoolSettings ss = settings.spool();
        String spoolProblem = unwritable(ss.dir(), true);
        if (spoolProblem != null) {
            problems.add(new ConfigProblem(settings.file(), 0, 0, "[spool] dir: " + spoolProblem,
                    "fix the directory's owner or mode, or point [spool] dir elsewhere"));
        }
        return problems;
    }

    /** The output that takes over the checkpoint of a spool written by the single-reader version (the uploader's). */
    static final String LEGACY_HEIR = "aegis";

    private static <E> OutputWorker<E> worker(Planned p, Spool spool, Path dir, SampleStamper stamper, OutputEvents events) {
        @SuppressWarnings("unchecked")
        Output<E> output = (Output<E>) p.output;
        return new OutputWorker<>(output, spool.cursor(output.name()), p.config,
                new DeadLetters(dir.resolve(SpoolInspector.deadLetterFile(output.name())), output.name()), stamper, events);
    }

    /** The output {@code o} describes; with {@code exclusive}, a file output takes its file's lock (only the start does). */
    private static Planned plan(OutputSettings o, String hostUuid, boolean exclusive) throws Invalid {
        if (o instanceof OutputSettings.Aegis a) {
            Credentials credentials;
            try {
                credentials = Credentials.load(a.credentialsFile());
            } catch (CredentialsException e) {
                throw new Invalid("output " + a.name() + ": credentials: " + e.getMessage());
            }
            OutputSettings.Delivery d = a.delivery();
            WorkerConfig config = new WorkerConfig(d.batchSamples(), d.batchBytes(), d.rate(),
                    ExponentialBackoff.jittered(Duration.ofSeconds(1), d.backoffMax()), d.linger(), d.live());
            try {
                HttpTransport http = new HttpTransport(a.endpoint(), a.allowHttpLoopback(), a.caFile(), a.clientKeystore(),
                        a.clientKeystorePasswordFile(), d.timeout());
                return new Planned(new AegisOutput(a.name(), http, credentials, hostUuid), config, "samples go to " + a.endpoint()
                        + " as key " + credentials.accessKeyId() + (a.caFile() == null ? "" : ", trusting " + a.caFile()));
            } catch (IOException e) {
                throw new Invalid("output " + a.name() + ": " + a.endpoint() + ": " + e.getMessage());
            }
        }
        if (o instanceof OutputSettings.Influx in) {
            InfluxFlavour flavour = InfluxFlavour.valueOf(in.flavour().toUpperCase(Locale.ROOT));
            InfluxPrecision precision = InfluxPrecision.valueOf(in.precision().toUpperCase(Locale.ROOT));
            URI uri = InfluxOutput.writeUri(in.http().endpoint(), flavour, precision, in.database(), in.retention(), in.org(), in.bucket());
            return backend(in, in.http(), in.delivery(), uri, (http, auth) -> new InfluxOutput(in.name(), http, auth, flavour, precision,
                    in.gzip()), " (" + flavour.configName() + ", precision " + precision.configName() + (in.gzip() ? ", gzip" : "") + ")");
        }
        if (o instanceof OutputSettings.Prometheus p) {
            return backend(p, p.http(), p.delivery(), p.http().endpoint(), (http, auth) -> new PrometheusOutput(p.name(), http, auth),
                    " (remote write 1.0)");
        }
        if (o instanceof OutputSettings.Otlp ot) {
            OtlpEncoder.Encoding encoding = ot.json() ? OtlpEncoder.Encoding.JSON : OtlpEncoder.Encoding.PROTOBUF;
            return backend(ot, ot.http(), ot.delivery(), ot.http().endpoint(), (http, auth) -> new OtlpOutput(ot.name(), http, auth, encoding),
                    " (OTLP/HTTP, " + (ot.json() ? "http/json" : "http/protobuf") + ")");
        }
        if (o instanceof OutputSettings.Kafka k) {
            return kafka(k);
        }
        OutputSettings.File f = (OutputSettings.File) o;
        String problem = unwritable(f.file(), false);
        if (problem != null) {
            throw new Invalid("output " + f.name() + ": " + problem);
        }
        FileOutput out;
        try {
            out = exclusive ? FileOutput.exclusive(f.name(), f.file(), f.maxSize(), f.maxFiles())
                    : new FileOutput(f.name(), f.file(), f.maxSize(), f.maxFiles());
        } catch (IOException e) {
            throw new Invalid((f.line() == 0 ? "[sink] file" : "[output." + f.name() + "] file") + ": " + e.getMessage()
                    + "; give each agent a samples file of its own");
        }
        return new Planned(out, fileConfig(), "samples go to " + f.file() + ", rotated at " + Units.formatBytes(f.maxSize())
                + " x " + f.maxFiles());
    }

    /**
     * A kafka output: its SASL login read and the Kafka client's class loader made (lib/kafka checked);
     * the client itself, its threads and buffers, start at the first send.
     */
    private static Planned kafka(OutputSettings.Kafka k) throws Invalid {
        HttpAuth.UserPassword login = null;
        if (k.saslMechanism() != null) {
            try {
                login = HttpAuth.loadUserPassword(k.credentialsFile());
            } catch (HttpAuth.Problem e) {
                throw new Invalid("output " + k.name() + ": credentials: " + e.getMessage());
            }
        }
        if (k.caFile() != null && !Files.isReadable(k.caFile())) {
            throw new Invalid("output " + k.name() + ": ca_file " + k.caFile() + " cannot be read by this user");
        }
        KafkaBridge client;
        try {
            client = KafkaClientLoader.bridge(ProducerSettings.of(k, login), k.delivery().timeout());
        } catch (IOException e) { // KafkaClientLoader.Missing, not named here: see there
            throw new Invalid("output " + k.name() + ": " + e.getMessage());
        }
        OutputSettings.Delivery d = k.delivery();
        WorkerConfig config = new WorkerConfig(d.batchSamples(), d.batchBytes(), d.rate(),
                ExponentialBackoff.jittered(Duration.ofSeconds(1), d.backoffMax()), d.linger(), false);
        return new Planned(new KafkaOutput(k.name(), k.topic(), client), config, "samples go to topic " + k.topic() + " at "
                + String.join(",", k.bootstrapServers()) + (k.tls() ? " over TLS" : " without TLS (loopback)")
                + (k.saslMechanism() == null ? "" : ", SASL " + k.saslMechanism() + " as " + login.user())
                + (k.caFile() == null ? "" : ", trusting " + k.caFile()));
    }

    /** Makes an output to another backend from its transport and authorization. */
    @FunctionalInterface
    private interface BackendFactory {
        Output<?> create(HttpTransport http, HttpAuth auth);
    }

    /** An output to a backend over HTTP (influx, prometheus, otlp): its credentials read, its TLS material loaded, its URL checked. */
    private static Planned backend(OutputSettings o, OutputSettings.Http h, OutputSettings.Delivery d, URI uri, BackendFactory factory,
                                   String how) throws Invalid {
        HttpAuth auth;
        try {
            auth = HttpAuth.load(h.auth(), h.credentialsFile());
        } catch (HttpAuth.Problem e) {
            throw new Invalid("output " + o.name() + ": credentials: " + e.getMessage());
        }
        HttpTransport http;
        try {
            http = new HttpTransport(uri, h.allowHttpLoopback(), h.caFile(), h.clientKeystore(), h.clientKeystorePasswordFile(), d.timeout());
        } catch (IOException e) {
            throw new Invalid("output " + o.name() + ": " + h.endpoint() + ": " + e.getMessage());
        }
        WorkerConfig config = new WorkerConfig(d.batchSamples(), d.batchBytes(), d.rate(),
                ExponentialBackoff.jittered(Duration.ofSeconds(1), d.backoffMax()), d.linger(), d.live());
        return new Planned(factory.create(http, auth), config, "samples go to " + uri + how + ", auth " + auth
                + (h.caFile() == null ? "" : ", trusting " + h.caFile()));
    }

    /**
     * Why {@code path} (a file, or a directory if {@code isDir}) cannot be written or created by this
     * user, or null; creates nothing: what does not exist yet is judged by its nearest existing parent.
     */
    public static String unwritable(Path path, boolean isDir) {
        Path dir = isDir ? path : path.getParent();
        Path existing = dir;
        while (existing != null && !Files.exists(existing)) {
            existing = existing.getParent();
        }
        if (existing == null || !Files.isDirectory(existing) || !Files.isWritable(existing)) {
            return (existing == null ? dir : existing) + " is not a writable directory for this user, so " + path
                    + " cannot be " + (Files.exists(path) ? "written" : "created");
        }
        if (!isDir && Files.exists(path) && !Files.isWritable(path)) {
            return path + " is not writable by this user";
        }
        return null;
    }

    /** A local file takes what there is at once, in large batches, at any rate; it retries a failing disk every few seconds. */
    static WorkerConfig fileConfig() {
        return new WorkerConfig(1000, 1 << 20, 1_000_000, ExponentialBackoff.jittered(Duration.ofSeconds(1), Duration.ofMinutes(1)),
                Duration.ZERO, false);
    }

    /** Where runs write: stamp, append, taps. */
    SampleSink sink() {
        return pipeline;
    }

    /** The names of the outputs, in the order configured. */
    List<String> names() {
        return workers.stream().map(OutputWorker::name).toList();
    }

    /** The files of the file outputs. */
    List<Path> files() {
        return fileOutputs().map(FileOutput::file).toList();
    }

    /**
     * Reopens each file output's file that was moved or deleted (or every one, with {@code force});
     * returns the files it reopened.
     */
    List<Path> reopenFiles(boolean force) {
        return fileOutputs().filter(f -> f.reopen(force)).map(FileOutput::file).toList();
    }

    private java.util.stream.Stream<FileOutput> fileOutputs() {
        return workers.stream().map(OutputWorker::output).filter(FileOutput.class::isInstance).map(FileOutput.class::cast);
    }

    /** A snapshot of every output. */
    List<OutputState> states() {
        return workers.stream().map(OutputWorker::state).toList();
    }

    /** The spool's size and what it could not store, for status and the health samples. */
    AgentSnapshot.Spool spoolState(long maxBytes) {
        return new AgentSnapshot.Spool(spool.dir(), spool.stats().bytes(), maxBytes, pipeline.lost());
    }

    /** CPU time of all output threads so far, in nanoseconds. */
    long cpuNanos() {
        long n = 0;
        for (OutputWorker<?> w : workers) {
            n += w.cpuNanos();
        }
        return n;
    }

    /** Stops every output (each sends what is lingering, for a few seconds, all at once), then closes the spool. */
    @Override
    public void close() {
        List<Thread> closing = new ArrayList<>();
        for (OutputWorker<?> w : workers) {
            Thread t = new Thread(w::close, "aegis-close-" + w.name());
            t.start();
            closing.add(t);
        }
        for (Thread t : closing) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        try {
            spool.close();
        } catch (IOException e) {
            LOG.warn("spool did not close cleanly: {}", e.getMessage());
        }
    }
}
