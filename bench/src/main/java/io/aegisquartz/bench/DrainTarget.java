package io.aegisquartz.bench;

import io.aegisquartz.output.DeadLetters;
import io.aegisquartz.output.OutputWorker;
import io.aegisquartz.output.WorkerConfig;
import io.aegisquartz.output.aegis.AegisOutput;
import io.aegisquartz.output.aegis.Credentials;
import io.aegisquartz.output.http.HttpTransport;
import io.aegisquartz.spool.Spool;
import io.aegisquartz.spool.SpoolConfig;
import io.aegisquartz.spool.SpoolCursor;
import io.aegisquartz.util.ExponentialBackoff;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * A spool and its sender to the reference receiver, of this build (an aegis output and its worker)
 * or of another version (its agent jar in a class loader of its own, driven by reflection: the
 * single-reader Spool and its Uploader), so that both drain the same backlog in one run.
 */
interface DrainTarget extends AutoCloseable {

    void append(List<byte[]> run) throws Exception;

    long pending() throws Exception;

    long forceCount() throws Exception;

    /** Starts sending, at most {@code batch} samples or {@code bytes} bytes per request and {@code rate} requests/s, linger 15 s. */
    void send(URI endpoint, Path caFile, String keyId, String secret, int batch, long bytes, double rate, Path deadLetters)
            throws Exception;

    /** The sender's counters, one line. */
    String counters() throws Exception;

    /** Stops the sender, then closes the spool. */
    @Override
    void close() throws Exception;

    static DrainTarget current(Path dir, long maxBytes) throws Exception {
        Spool spool = Spool.open(dir, SpoolConfig.forLimits(maxBytes, 0), List.of("aegis"), null);
        SpoolCursor cursor = spool.cursor("aegis");
        OutputWorker<?>[] worker = new OutputWorker<?>[1];
        return new DrainTarget() {
            @Override
            public void append(List<byte[]> run) throws Exception {
                spool.append(run);
            }

            @Override
            public long pending() {
                return cursor.stats().pendingRecords();
            }

            @Override
            public long forceCount() {
                return spool.forceCount();
            }

            @Override
            public void send(URI endpoint, Path caFile, String keyId, String secret, int batch, long bytes, double rate,
                             Path deadLetters) throws Exception {
                HttpTransport http = new HttpTransport(endpoint, false, caFile, null, null, Duration.ofSeconds(30));
                WorkerConfig c = new WorkerConfig(batch, bytes, rate, ExponentialBackoff.jittered(Duration.ofSeconds(1),
                        Duration.ofMinutes(5)), Duration.ofSeconds(15), true);
                worker[0] = new OutputWorker<>(new AegisOutput("aegis", http, Credentials.of(keyId, secret, null), Bench.HOST_UUID),
                        cursor, c, new DeadLetters(deadLetters, "aegis"), Bench.stamper()).start();
            }

            @Override
            public String counters() {
                var s = worker[0].state();
                return String.format("%,d requests, %,d accepted, %,d duplicates, %,d dead-lettered, %,d sent live", s.requests(),
                        s.sentSamples(), s.duplicates(), s.deadLettered(), s.liveSent());
            }

            @Override
            public void close() throws Exception {
                if (worker[0] != null) {
                    worker[0].close();
                }
                spool.close();
            }
        };
    }

    /** The single-reader version in {@code agentJar}: Spool.open(Path, SpoolConfig), Uploader.start(Spool, UploadConfig, Credentials, String). */
    static DrainTarget baseline(Path agentJar, Path dir, long maxBytes) throws Exception {
        ClassLoader l = new SpoolTarget.ChildFirst(agentJar.toUri().toURL(), DrainTarget.class.getClassLoader());
        Class<?> configClass = l.loadClass("io.aegisquartz.spool.SpoolConfig");
        Class<?> spoolClass = l.loadClass("io.aegisquartz.spool.Spool");
        Class<?> statsClass = l.loadClass("io.aegisquartz.spool.SpoolStats");
        Class<?> uploadConfig = l.loadClass("io.aegisquartz.upload.UploadConfig");
        Class<?> credentials = l.loadClass("io.aegisquartz.upload.Credentials");
        Class<?> uploader = l.loadClass("io.aegisquartz.upload.Uploader");
        Object config = configClass.getMethod("withMinFreeBytes", long.class).invoke(configClass.getMethod("withMaxBytes", long.class)
                .invoke(configClass.getMethod("defaults").invoke(null), maxBytes), 0L);
        Object spool = spoolClass.getMethod("open", Path.class, configClass).invoke(null, dir, config);
        Method append = spoolClass.getMethod("append", List.class);
        Method stats = spoolClass.getMethod("stats");
        Method pending = statsClass.getMethod("pendingRecords");
        Method forces = spoolClass.getMethod("forceCount");
        Object[] up = new Object[1];
        return new DrainTarget() {
            @Override
            public void append(List<byte[]> run) throws Exception {
                call(append, spool, run);
            }

            @Override
            public long pending() throws Exception {
                return (Long) call(pending, call(stats, spool));
            }

            @Override
            public long forceCount() throws Exception {
                return (Long) call(forces, spool);
            }

            @Override
            public void send(URI endpoint, Path caFile, String keyId, String secret, int batch, long bytes, double rate,
                             Path deadLetters) throws Exception {
                Object c = uploadConfig.getConstructors()[0].newInstance(endpoint, caFile, false, batch, bytes, rate,
                        Duration.ofSeconds(1), Duration.ofMinutes(5), Duration.ofSeconds(30), deadLetters, null, null,
                        Duration.ofSeconds(15));
                Object key = credentials.getMethod("of", String.class, String.class, String.class).invoke(null, keyId, secret, null);
                up[0] = uploader.getMethod("start", spoolClass, uploadConfig, credentials, String.class)
                        .invoke(null, spool, c, key, Bench.HOST_UUID);
                uploader.getMethod("wakeUp").invoke(up[0]);
            }

            @Override
            public String counters() throws Exception {
                return String.valueOf(uploader.getMethod("stats").invoke(up[0]));
            }

            @Override
            public void close() throws Exception {
                if (up[0] != null) {
                    uploader.getMethod("close").invoke(up[0]);
                }
                spoolClass.getMethod("close").invoke(spool);
            }
        };
    }

    private static Object call(Method m, Object target, Object... args) throws Exception {
        try {
            return m.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause() instanceof Exception x ? x : e;
        }
    }
}
