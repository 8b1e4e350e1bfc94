package io.aegisquartz.agent;

import io.aegisquartz.config.AgentSettings;
import io.aegisquartz.config.Units;
import io.aegisquartz.output.DeadLetters;
import io.aegisquartz.output.Output;
import io.aegisquartz.output.OutputState;
import io.aegisquartz.output.OutputWorker;
import io.aegisquartz.output.WorkerConfig;
import io.aegisquartz.output.aegis.AegisOutput;
import io.aegisquartz.output.aegis.Credentials;
import io.aegisquartz.output.aegis.CredentialsException;
import io.aegisquartz.output.file.FileOutput;
import io.aegisquartz.output.http.HttpTransport;
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
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The back half of the agent, wired from the settings: the spool, one output and one worker per
 * configured output (each reading through its own cursor), and the pipeline runs write into.
 * Every configuration has a spool: the local samples file is an output like the others.
 */
final class Delivery implements AutoCloseable {

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

    /** Opens the spool and starts a worker per output; samples written to {@link #sink()} go to every output. */
    static Delivery start(AgentSettings settings, SampleStamper stamper, List<SampleTap> taps) throws Agent.StartException {
        List<Planned> planned = plan(settings, stamper);
        Path dir = settings.path("spool.dir");
        List<String> names = planned.stream().map(p -> p.output.name()).toList();
        Spool spool;
        try {
            spool = Spool.open(dir, SpoolConfig.forLimits(settings.bytes("spool.max_size"), settings.bytes("spool.min_free")), names,
                    "aegis");
        } catch (IOException | IllegalArgumentException e) {
            planned.forEach(p -> p.output.close());
            throw new Agent.StartException("spool " + dir + ": " + e.getMessage());
        }
        RecoveryReport r = spool.recoveryReport();
        if (r.hasProblems()) {
            LOG.warn("spool {} opened after repairs: {}", dir, r.summary());
        } else if (r.recordsPending() > 0) {
            LOG.info("spool {}: sample(s) waiting from before: {}", dir, r.pendingByCursor());
        }
        List<OutputWorker<?>> workers = new ArrayList<>();
        for (Planned p : planned) {
            workers.add(worker(p, spool, dir, stamper).start());
            LOG.info("output {} ({}): {}", p.output.name(), p.output.type(), p.where);
        }
        LOG.info("samples go to the spool {} (cap {}), then to {} output(s)", dir, Units.formatBytes(settings.bytes("spool.max_size")),
                workers.size());
        return new Delivery(spool, new SamplePipeline(spool, taps), workers);
    }

    private static <E> OutputWorker<E> worker(Planned p, Spool spool, Path dir, SampleStamper stamper) {
        @SuppressWarnings("unchecked")
        Output<E> output = (Output<E>) p.output;
        return new OutputWorker<>(output, spool.cursor(output.name()), p.config,
                new DeadLetters(dir.resolve(SpoolInspector.deadLetterFile(output.name())), output.name()), stamper);
    }

    private static List<Planned> plan(AgentSettings settings, SampleStamper stamper) throws Agent.StartException {
        List<Planned> out = new ArrayList<>();
        if (settings.uploadEndpoint() != null) {
            Credentials credentials;
            try {
                credentials = Credentials.load(settings.path("upload.credentials_file"));
            } catch (CredentialsException e) {
                throw new Agent.StartException("upload credentials: " + e.getMessage());
            }
            WorkerConfig config = new WorkerConfig(settings.integer("upload.batch_samples"), settings.bytes("upload.batch_bytes"),
                    settings.integer("upload.rate"), ExponentialBackoff.jittered(Duration.ofSeconds(1), settings.duration("upload.backoff_max")),
                    settings.duration("upload.linger"), true);
            try {
                HttpTransport http = new HttpTransport(settings.uploadEndpoint(), settings.bool("upload.allow_http_loopback"),
                        settings.caFile(), settings.optionalPath("upload.client_keystore"),
                        settings.optionalPath("upload.client_keystore_password_file"), settings.duration("upload.timeout"));
                out.add(new Planned(new AegisOutput("aegis", http, credentials, stamper.hostUuid()), config,
                        "samples go to " + settings.uploadEndpoint() + " as key " + credentials.accessKeyId()
                                + (settings.caFile() == null ? "" : ", trusting " + settings.caFile())));
            } catch (IOException e) {
                throw new Agent.StartException("upload to " + settings.uploadEndpoint() + ": " + e.getMessage());
            }
        } else {
            Path file = settings.path("sink.file");
            ensureWritableDir(file.getParent(), "[sink] file");
            out.add(new Planned(new FileOutput("file", file, settings.bytes("sink.max_size"), settings.integer("sink.max_files")),
                    fileConfig(), "samples go to " + file + ", rotated at " + Units.formatBytes(settings.bytes("sink.max_size")) + " x "
                    + settings.integer("sink.max_files")));
        }
        return out;
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

    /** A snapshot of every output. */
    List<OutputState> states() {
        return workers.stream().map(OutputWorker::state).toList();
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

    private static void ensureWritableDir(Path dir, String what) throws Agent.StartException {
        try {
            java.nio.file.Files.createDirectories(dir);
        } catch (IOException e) {
            throw new Agent.StartException(what + ": cannot create " + dir + ": " + e.getMessage());
        }
        if (!java.nio.file.Files.isWritable(dir)) {
            throw new Agent.StartException(what + ": " + dir + " is not writable by this user");
        }
    }
}
