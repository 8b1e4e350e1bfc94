package io.aegisquartz.bench;

import io.aegisquartz.spool.Spool;
import io.aegisquartz.spool.SpoolBatch;
import io.aegisquartz.spool.SpoolConfig;
import io.aegisquartz.spool.SpoolCursor;

import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.util.List;

/**
 * A spool under benchmark: this build's, or another version's (a baseline agent jar, e.g. main's),
 * loaded in a class loader of its own and driven through its public methods by reflection, so that
 * both run the same workload in the same JVM, alternately, and their figures are a ratio of one run.
 * The reader does what an output does: read a batch, acknowledge it, again.
 */
interface SpoolTarget extends AutoCloseable {

    void append(List<byte[]> records) throws Exception;

    void append(byte[] record) throws Exception;

    /** Reads up to {@code max} records and acknowledges them; returns how many (0: nothing there). */
    int readAndAck(int max) throws Exception;

    long forceCount() throws Exception;

    @Override
    void close() throws Exception;

    /** Opens a spool of this build in {@code dir}, with one cursor. */
    static SpoolTarget current(Path dir, long maxBytes) throws IOException {
        Spool spool = Spool.open(dir, SpoolConfig.defaults().withMaxBytes(maxBytes), List.of("bench"), null);
        SpoolCursor cursor = spool.cursor("bench");
        return new SpoolTarget() {
            @Override
            public void append(List<byte[]> records) throws IOException {
                spool.append(records);
            }

            @Override
            public void append(byte[] record) throws IOException {
                spool.append(record);
            }

            @Override
            public int readAndAck(int max) throws IOException {
                // As an output does: drop reports (if the cap is reached) go with the batch, or a read
                // would stop at a second gap until the first one's report is delivered (docs/SPOOL.md).
                List<io.aegisquartz.spool.DropReport> drops = cursor.takeDrops();
                SpoolBatch b = cursor.read(max, 1 << 20);
                if (!b.isEmpty() || !drops.isEmpty()) {
                    cursor.ack(b.isEmpty() ? null : b.end(), drops);
                }
                return b.size();
            }

            @Override
            public long forceCount() {
                return spool.forceCount();
            }

            @Override
            public void close() throws IOException {
                spool.close();
            }
        };
    }

    /**
     * Opens a spool of the version in {@code agentJar} in {@code dir}: that version's
     * {@code Spool.open(Path, SpoolConfig)}, {@code append}, {@code read(int, long)}, {@code ack} of the
     * batch's {@code end()} and {@code forceCount()} (the single-reader API of the versions before
     * named cursors).
     */
    static SpoolTarget baseline(Path agentJar, Path dir, long maxBytes) throws Exception {
        ClassLoader loader = new ChildFirst(agentJar.toUri().toURL(), SpoolTarget.class.getClassLoader());
        Class<?> configClass = loader.loadClass("io.aegisquartz.spool.SpoolConfig");
        Class<?> spoolClass = loader.loadClass("io.aegisquartz.spool.Spool");
        Class<?> batchClass = loader.loadClass("io.aegisquartz.spool.SpoolBatch");
        Class<?> positionClass = loader.loadClass("io.aegisquartz.spool.SpoolPosition");
        Object config = configClass.getMethod("withMaxBytes", long.class).invoke(configClass.getMethod("defaults").invoke(null), maxBytes);
        Object spool = spoolClass.getMethod("open", Path.class, configClass).invoke(null, dir, config);
        Method appendList = spoolClass.getMethod("append", List.class);
        Method appendOne = spoolClass.getMethod("append", byte[].class);
        Method read = spoolClass.getMethod("read", int.class, long.class);
        Method ack = spoolClass.getMethod("ack", positionClass);
        Method forces = spoolClass.getMethod("forceCount");
        Method close = spoolClass.getMethod("close");
        Method end = batchClass.getMethod("end");
        Method size = batchClass.getMethod("size");
        return new SpoolTarget() {
            @Override
            public void append(List<byte[]> records) throws Exception {
                call(appendList, spool, records);
            }

            @Override
            public void append(byte[] record) throws Exception {
                call(appendOne, spool, (Object) record);
            }

            @Override
            public int readAndAck(int max) throws Exception {
                Object b = call(read, spool, max, 1L << 20);
                int n = (Integer) call(size, b);
                if (n > 0) {
                    call(ack, spool, call(end, b));
                }
                return n;
            }

            @Override
            public long forceCount() throws Exception {
                return (Long) call(forces, spool);
            }

            @Override
            public void close() throws Exception {
                call(close, spool);
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

    /** Loads the agent's own classes from the baseline jar first; everything else (the JDK, logging) from the bench's. */
    final class ChildFirst extends URLClassLoader {
        ChildFirst(URL jar, ClassLoader parent) {
            super(new URL[] {jar}, parent);
        }

        @Override
        protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
            synchronized (getClassLoadingLock(name)) {
                Class<?> c = findLoadedClass(name);
                if (c == null && name.startsWith("io.aegisquartz.")) {
                    try {
                        c = findClass(name);
                    } catch (ClassNotFoundException e) {
                        c = null;
                    }
                }
                if (c == null) {
                    c = super.loadClass(name, false);
                }
                if (resolve) {
                    resolveClass(c);
                }
                return c;
            }
        }
    }
}
