package io.aegisquartz.testing;

import io.aegisquartz.api.Sampler;

import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;

/** Compiles Java sources with the JDK's compiler and packs them into a JAR, as a plugin author would. */
public final class JarBuilder {

    private JarBuilder() {
    }

    /** Where the plugin API classes are (a jar or a classes directory). */
    public static Path apiClasspath() {
        try {
            return Path.of(Sampler.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Compiles {@code sources} (file path like "com/x/A.java" to text) against the API and {@code extraClasspath},
     * into {@code classesDir}. Fails the test with the compiler's output if compilation fails.
     */
    public static void compile(Map<String, String> sources, Path classesDir, Path... extraClasspath) {
        try {
            Path src = Files.createTempDirectory("src");
            List<String> args = new ArrayList<>(List.of("-d", classesDir.toString(), "--release", "17", "-nowarn"));
            StringBuilder cp = new StringBuilder(apiClasspath().toString());
            for (Path p : extraClasspath) {
                cp.append(':').append(p);
            }
            args.add("-cp");
            args.add(cp.toString());
            for (Map.Entry<String, String> e : sources.entrySet()) {
                Path f = src.resolve(e.getKey());
                Files.createDirectories(f.getParent());
                Files.writeString(f, e.getValue());
                args.add(f.toString());
            }
            compileFiles(args);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Compiles every .java file under {@code sourceRoot} into {@code classesDir}. */
    public static void compileTree(Path sourceRoot, Path classesDir) {
        try (Stream<Path> files = Files.walk(sourceRoot)) {
            List<String> args = new ArrayList<>(List.of("-d", classesDir.toString(), "--release", "17", "-nowarn",
                    "-cp", apiClasspath().toString()));
            files.filter(p -> p.toString().endsWith(".java")).forEach(p -> args.add(p.toString()));
            compileFiles(args);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void compileFiles(List<String> args) {
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int rc = javac.run(null, OutputStream.nullOutputStream(), err, args.toArray(String[]::new));
        if (rc != 0) {
            throw new AssertionError("javac failed:\n" + err.toString(StandardCharsets.UTF_8));
        }
    }

    /** Packs every file under each of {@code roots} into {@code jar}. Later roots may add to earlier ones. */
    public static Path jar(Path jar, Path... roots) {
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar))) {
            List<String> seen = new ArrayList<>();
            for (Path root : roots) {
                try (Stream<Path> files = Files.walk(root)) {
                    for (Path f : (Iterable<Path>) files.filter(Files::isRegularFile).sorted()::iterator) {
                        String name = root.relativize(f).toString().replace('\\', '/');
                        if (seen.contains(name)) {
                            continue;
                        }
                        seen.add(name);
                        out.putNextEntry(new JarEntry(name));
                        Files.copy(f, out);
                        out.closeEntry();
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return jar;
    }

    /** Writes META-INF/services/io.aegisquartz.api.Sampler under {@code root}. */
    public static void services(Path root, String... classNames) {
        try {
            Path f = root.resolve("META-INF/services/io.aegisquartz.api.Sampler");
            Files.createDirectories(f.getParent());
            Files.writeString(f, String.join("\n", classNames) + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
