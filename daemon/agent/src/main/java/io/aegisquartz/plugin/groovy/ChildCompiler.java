package io.aegisquartz.plugin.groovy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.aegisquartz.plugin.PluginException;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs the Groovy compiler in a short-lived JVM of its own, for the agent.
 *
 * <p>The compiler is most of Groovy. Once it has run, the agent would keep its classes and the caches
 * it holds in static fields (the AST of every class and extension method that static type checking
 * looked at) for good: about 25 MB of heap and class metadata, for a compile that happens once per
 * plugin edit. The child compiles exactly the text the agent read (it gets it on stdin), writes the
 * classes to the compiled-script cache ({@link CompiledScripts}) and exits; the agent then loads them
 * from there, as after a restart.
 *
 * <p>Protocol: {@code java [OPTIONS] -cp CLASSPATH io.aegisquartz.plugin.groovy.ChildCompiler CACHE_DIR FILE},
 * the script's text on stdin. Exit 0: the entry is in CACHE_DIR. Exit 3: a compile error, described on
 * stdout by one JSON object with {@code message}, {@code fix}, {@code line} and {@code column}. Any
 * other exit: the output says what went wrong.
 */
final class ChildCompiler {

    /** Far more than the largest plugin takes (the default ones: about 4 s together, cold). */
    static final Duration TIMEOUT = Duration.ofMinutes(2);
    private static final int COMPILE_ERROR = 3;
    private static final int OUTPUT_KEPT = 4096;

    /** The agent's own JVM options that suit the compiler too: class-data sharing, the collector, the JIT and heap caps. */
    private static final List<String> INHERITED = List.of("-XX:SharedArchiveFile=", "-Xshare:", "-Xlog:cds", "-XX:+UnlockDiagnosticVMOptions",
            "-XX:ArchiveRelocationMode=", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=", "-XX:-UsePerfData", "-XX:+IgnoreUnrecognizedVMOptions",
            "-Xmx", "-XX:MaxMetaspaceSize=", "-XX:+ExitOnOutOfMemoryError");

    private ChildCompiler() {
    }

    /**
     * Compiles {@code text} (the content of {@code file}) in a child JVM into {@code cache}.
     *
     * @return the entry, or null if the child compiled it but the cache could not keep it (a
     * read-only or full disk): the caller then compiles in its own JVM
     * @throws PluginException for a compile error (with its line and column), a compiler that took
     *                         longer than {@link #TIMEOUT}, or a child that failed
     */
    static CompiledScripts.Entry compile(Path file, String text, CompiledScripts cache, String key) throws PluginException {
        Path out;
        try {
            Files.createDirectories(cache.dir());
            out = Files.createTempFile(cache.dir(), ".compile-", ".out");
        } catch (IOException e) {
            return null;
        }
        try {
            Process p = new ProcessBuilder(command(file, cache.dir())).redirectErrorStream(true).redirectOutput(out.toFile()).start();
            try (OutputStream in = p.getOutputStream()) {
                in.write(text.getBytes(StandardCharsets.UTF_8));
            } catch (IOException e) {
                // The child ended before reading it all; its exit code and output say why.
            }
            if (!waitFor(p)) {
                throw new PluginException("compiling " + file + " took longer than " + TIMEOUT.toMinutes() + " minutes; the compiler was stopped",
                        "split the script or simplify it; 'aegis-quartz run-plugin' compiles it on its own");
            }
            String output = head(out);
            if (p.exitValue() == COMPILE_ERROR) {
                throw compileError(file, output);
            }
            if (p.exitValue() != 0) {
                throw new PluginException("the compiler process for " + file + " failed (exit " + p.exitValue() + "): " + output.strip(),
                        "run 'aegis-quartz run-plugin " + file + "' to see the whole error");
            }
            return cache.read(file, key);
        } catch (IOException e) {
            throw new PluginException("cannot start the compiler process for " + file + ": " + e.getMessage(),
                    "check that " + javaCommand() + " can be run by the agent's user");
        } finally {
            try {
                Files.deleteIfExists(out);
            } catch (IOException e) {
                // A leftover dot file in the cache directory; the next compile makes a new one.
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

    private static List<String> command(Path file, Path cacheDir) {
        List<String> cmd = new ArrayList<>();
        cmd.add(javaCommand());
        for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (INHERITED.stream().anyMatch(arg::startsWith)) {
                cmd.add(arg);
            }
        }
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(ChildCompiler.class.getName());
        cmd.add(cacheDir.toAbsolutePath().toString());
        cmd.add(file.toAbsolutePath().toString());
        return cmd;
    }

    private static String javaCommand() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    private static String head(Path out) throws IOException {
        try (InputStream in = Files.newInputStream(out)) {
            return new String(in.readNBytes(OUTPUT_KEPT), StandardCharsets.UTF_8);
        }
    }

    private static PluginException compileError(Path file, String output) {
        try {
            JsonNode n = new ObjectMapper().readTree(output);
            return new PluginException(n.path("message").asText(), n.path("fix").isNull() ? null : n.path("fix").asText(),
                    n.path("line").asInt(), n.path("column").asInt());
        } catch (IOException e) {
            return new PluginException("cannot compile " + file + ": " + output.strip(), "fix the script; run 'aegis-quartz run-plugin' to try it");
        }
    }

    /** The child: compiles stdin as the script {@code args[1]} into the cache of directory {@code args[0]}. */
    public static void main(String[] args) throws IOException {
        Path cacheDir = Path.of(args[0]);
        Path file = Path.of(args[1]);
        String text = new String(System.in.readAllBytes(), StandardCharsets.UTF_8);
        try {
            CompiledScripts.Entry entry = GroovyPlugin.compileToBytes(file, text);
            new CompiledScripts(cacheDir).write(file, CompiledScripts.key(file, text), entry);
        } catch (PluginException e) {
            Map<String, Object> error = new LinkedHashMap<>();
            error.put("message", e.getMessage());
            error.put("fix", e.fix());
            error.put("line", e.line());
            error.put("column", e.column());
            System.out.println(new ObjectMapper().writeValueAsString(error));
            System.out.flush();
            System.exit(COMPILE_ERROR);
        }
        System.exit(0);
    }
}
