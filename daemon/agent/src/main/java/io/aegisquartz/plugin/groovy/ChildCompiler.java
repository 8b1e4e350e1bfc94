package io.aegisquartz.plugin.groovy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.aegisquartz.plugin.CappedOutput;
import io.aegisquartz.plugin.ChildJvm;
import io.aegisquartz.plugin.PluginException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.File;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Runs the Groovy compiler in a short-lived JVM of its own, for the agent.
 *
 * <p>The compiler is most of Groovy. Once it has run, the agent would keep its classes and the caches
 * it holds in static fields (the AST of every class and extension method that static type checking
 * looked at) for good: about 25 MB of heap and class metadata, for a compile that happens once per
 * plugin edit. The child compiles exactly the text the agent read, writes the classes to the
 * compiled-script cache ({@link CompiledScripts}) and exits; the agent then loads them from there, as
 * after a restart. One child at a time, with a 64 MiB heap: the agent's cgroup (MemoryMax in the
 * unit) must hold the agent and a child.
 *
 * <p>Protocol: {@code java [OPTIONS] -cp CLASSPATH io.aegisquartz.plugin.groovy.ChildCompiler CACHE_DIR FILE TEXT ERROR},
 * where TEXT is a file holding the script's text (UTF-8) and ERROR a file for a compile error. Exit
 * 0: the entry is in CACHE_DIR. Exit {@value #COMPILE_ERROR}: a compile error, described in ERROR by
 * one UTF-8 JSON object with {@code message}, {@code fix}, {@code line} and {@code column}. Any other
 * exit: stdout and stderr say what went wrong; the child prints at most {@value #OUTPUT_MAX} bytes
 * of its own (what the JVM itself prints, such as an out-of-memory message, comes on top).
 */
final class ChildCompiler {

    private static final Logger LOG = LoggerFactory.getLogger(ChildCompiler.class);

    /** Far more than the largest plugin takes (the default ones: about 2.5 s each, cold). */
    static final Duration TIMEOUT = Duration.ofMinutes(2);
    /** Not 1 (an uncaught exception) nor 3 (what -XX:+ExitOnOutOfMemoryError exits with). */
    private static final int COMPILE_ERROR = 65;
    private static final int OUTPUT_KEPT = 2048;
    /** What the child may print in all (its stdout and stderr share one file in the state directory). */
    static final int OUTPUT_MAX = 64 * 1024;
    private static final String PREFIX = ".compile-";
    private static final Object ONE_AT_A_TIME = new Object();
    /** Child JVMs that delivered a result (classes or a compile error); for tests, which cannot tell them from the in-process fallback otherwise. */
    static final AtomicInteger RESULTS = new AtomicInteger();

    private ChildCompiler() {
    }

    /**
     * Compiles {@code text} (the content of {@code file}) in a child JVM into {@code cache}.
     *
     * @return the entry, or null if the child could not do it for a reason other than the script (the
     * cache is not writable, the JVM could not start or ran out of memory): the caller then compiles
     * in its own JVM, and the reason has been logged
     * @throws PluginException for a compile error (with its line and column), or a compiler that took
     *                         longer than {@link #TIMEOUT} (code that runs at compile time and loops)
     */
    static CompiledScripts.Entry compile(Path file, String text, CompiledScripts cache, String key) throws PluginException {
        synchronized (ONE_AT_A_TIME) {
            Path dir = cache.dir();
            Path textFile = null;
            Path errorFile = null;
            Path out = null;
            try {
                Files.createDirectories(dir);
                removeLeftovers(dir);
                textFile = Files.createTempFile(dir, PREFIX, ".groovy");
                errorFile = Files.createTempFile(dir, PREFIX, ".json");
                out = Files.createTempFile(dir, PREFIX, ".out");
                Files.writeString(textFile, text, StandardCharsets.UTF_8);
            } catch (IOException e) {
                LOG.warn("{}: the compiled classes cannot be kept in {} ({}); compiling in the agent's own JVM, which keeps about "
                        + "25 MB of the compiler's memory until a restart (fix: make the folder writable by the agent's user)", file, dir, e.toString());
                delete(textFile, errorFile, out);
                return null;
            }
            try {
                Process p = ChildJvm.builder(ChildJvm.SHARED, List.of("-Xmx64m"), ChildCompiler.class.getName(),
                                List.of(dir.toAbsolutePath().toString(), file.toAbsolutePath().toString(), textFile.toAbsolutePath().toString(),
                                        errorFile.toAbsolutePath().toString()))
                        .redirectErrorStream(true).redirectOutput(out.toFile()).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                        .start();
                if (!waitFor(p)) {
                    throw new PluginException("compiling " + file + " took longer than " + TIMEOUT.toMinutes() + " minutes; the compiler was stopped",
                            "look for code that runs at compile time (AST transformations); 'aegis-quartz run-plugin' compiles it on its own");
                }
                if (p.exitValue() == COMPILE_ERROR) {
                    PluginException error = compileError(errorFile);
                    if (error != null) {
                        RESULTS.incrementAndGet();
                        throw error;
                    }
                }
                if (p.exitValue() == 0) {
                    CompiledScripts.Entry entry = cache.read(file, key);
                    if (entry != null) {
                        RESULTS.incrementAndGet();
                        return entry;
                    }
                    LOG.warn("{}: the compiler process wrote no readable entry in {}; compiling in the agent's own JVM", file, dir);
                    return null;
                }
                LOG.warn("{}: the compiler process failed (exit {}): {}; compiling in the agent's own JVM", file, p.exitValue(),
                        io.aegisquartz.log.LogText.escape(excerpt(out).strip(), OUTPUT_KEPT + 64));
                return null;
            } catch (IOException e) {
                LOG.warn("{}: cannot start the compiler process ({}); compiling in the agent's own JVM", file, e.getMessage());
                return null;
            } finally {
                delete(textFile, errorFile, out);
            }
        }
    }

    /** Files of compiles that a killed agent left behind. */
    private static void removeLeftovers(Path dir) {
        long old = System.currentTimeMillis() - 2 * TIMEOUT.toMillis();
        try (DirectoryStream<Path> leftovers = Files.newDirectoryStream(dir, PREFIX + "*")) {
            for (Path f : leftovers) {
                if (Files.getLastModifiedTime(f).toMillis() < old) {
                    Files.deleteIfExists(f);
                }
            }
        } catch (IOException e) {
            // Only litter; the next compile tries again.
        }
    }

    private static void delete(Path... files) {
        for (Path f : files) {
            try {
                if (f != null) {
                    Files.deleteIfExists(f);
                }
            } catch (IOException e) {
                // Removed as a leftover by a later compile.
            }
        }
    }

    /** Waits for the child; false if it ran past the timeout and was killed. An interrupt kills it too. */
    private static boolean waitFor(Process p) throws PluginException {
        try {
            if (p.waitFor(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                return true;
            }
            p.destroyForcibly();
            p.waitFor();
            return false;
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new PluginException("compile interrupted (the agent is stopping)", null);
        }
    }

    /**
     * The child's output for the log: all of it up to {@value #OUTPUT_KEPT} bytes, else its first and
     * last halves of that. Both ends matter: what the script printed comes first, and the JVM's own
     * last words (an uncaught exception, out of memory) come at the end.
     */
    private static String excerpt(Path out) throws IOException {
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(out.toFile(), "r")) {
            long size = f.length();
            if (size <= OUTPUT_KEPT) {
                byte[] all = new byte[(int) size];
                f.readFully(all);
                return new String(all, StandardCharsets.UTF_8);
            }
            byte[] head = new byte[OUTPUT_KEPT / 2];
            byte[] tail = new byte[OUTPUT_KEPT / 2];
            f.readFully(head);
            f.seek(size - tail.length);
            f.readFully(tail);
            return new String(head, StandardCharsets.UTF_8) + " [... " + (size - OUTPUT_KEPT) + " bytes not shown ...] "
                    + new String(tail, StandardCharsets.UTF_8);
        }
    }

    /** The compile error the child described, or null if its description cannot be read. */
    private static PluginException compileError(Path errorFile) {
        try {
            JsonNode n = new ObjectMapper().readTree(Files.readString(errorFile, StandardCharsets.UTF_8));
            if (n == null || !n.hasNonNull("message")) {
                return null;
            }
            return new PluginException(n.path("message").asText(), n.path("fix").isNull() ? null : n.path("fix").asText(),
                    n.path("line").asInt(), n.path("column").asInt());
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** The child: compiles the text in {@code args[2]} as the script {@code args[1]} into the cache of directory {@code args[0]}. */
    public static void main(String[] args) throws IOException {
        // Code that runs at compile time (an AST transformation) can print without end; the file it
        // goes to is on the agent's state disk.
        PrintStream capped = new PrintStream(new CappedOutput(new FileOutputStream(FileDescriptor.out), OUTPUT_MAX), true,
                StandardCharsets.UTF_8);
        System.setOut(capped);
        System.setErr(capped);
        Path cacheDir = Path.of(args[0]);
        Path file = Path.of(args[1]);
        String text = Files.readString(Path.of(args[2]), StandardCharsets.UTF_8);
        try {
            CompiledScripts.Entry entry = GroovyPlugin.compileToBytes(file, text);
            new CompiledScripts(cacheDir).write(file, CompiledScripts.key(file, text), entry);
        } catch (PluginException e) {
            Map<String, Object> error = new LinkedHashMap<>();
            error.put("message", e.getMessage());
            error.put("fix", e.fix());
            error.put("line", e.line());
            error.put("column", e.column());
            Files.write(Path.of(args[3]), new ObjectMapper().writeValueAsBytes(error));
            System.exit(COMPILE_ERROR);
        }
        System.exit(0);
    }
}
