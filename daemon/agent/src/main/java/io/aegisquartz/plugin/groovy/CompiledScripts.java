package io.aegisquartz.plugin.groovy;

import groovy.lang.GroovySystem;
import io.aegisquartz.Version;
import io.aegisquartz.util.AtomicFiles;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The compiled classes of Groovy scripts, kept on disk so that a start does not run the Groovy
 * compiler: compiling the default plugins costs seconds of CPU and tens of MB of heap that a
 * monitoring agent should not spend on every restart.
 *
 * <p>An entry is keyed by a SHA-256 of everything that decides the bytecode: the script's text and
 * file name, the agent's version and build time (which fix the budget checks woven in) and Groovy's
 * and Java's versions. A changed script, an upgrade or a new JDK therefore never meets a stale entry, and old
 * entries of a script are deleted when its new one is written. An entry that cannot be read for any
 * reason is a miss: the script is compiled as if there were no cache. Writes go to a temp file that
 * is renamed into place, so a crash never leaves half an entry.
 *
 * <p>File format (big-endian, {@link DataOutputStream}): int magic {@code 0x41514743} ("AQGC"),
 * UTF main class name, int class count, then per class: UTF binary name, int length, bytes.
 */
public final class CompiledScripts {

    private static final int MAGIC = 0x41514743;

    /**
     * When the agent's own classes were built: a development build keeps its version number while
     * the budget checks woven into scripts change, and must not run scripts compiled by the old code.
     */
    private static final String BUILD = buildStamp();

    private static String buildStamp() {
        try {
            var src = CompiledScripts.class.getProtectionDomain().getCodeSource();
            return src == null ? "" : Long.toString(Files.getLastModifiedTime(Path.of(src.getLocation().toURI())).toMillis());
        } catch (Exception e) {
            return "";
        }
    }

    /**
     * Entries made at build time ({@link Precompile}) for the default plugins: "plugin-cache" next to
     * the agent's jar, read when the agent's own cache misses. None when the agent does not run from
     * a jar, or when a scratch cache is set (-Daegis.compiled-dir, the class-data training and tests
     * that must compile).
     */
    static final Path SEED_DIR = seedDir();

    private static Path seedDir() {
        try {
            var src = CompiledScripts.class.getProtectionDomain().getCodeSource();
            Path jar = src == null ? null : Path.of(src.getLocation().toURI());
            if (jar == null || !Files.isRegularFile(jar) || System.getProperty("aegis.compiled-dir") != null) {
                return null;
            }
            return jar.resolveSibling("plugin-cache");
        } catch (Exception e) {
            return null;
        }
    }

    private final Path dir;

    /** @param dir where entries live; created on the first write */
    CompiledScripts(Path dir) {
        this.dir = dir;
    }

    Path dir() {
        return dir;
    }

    /** The classes of a compiled script: the script class's name and every class's bytes. */
    public record Entry(String mainClass, Map<String, byte[]> classes) {
    }

    /** The cache key of {@code file} with {@code text}. */
    static String key(Path file, String text) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (String part : new String[] {Version.get(), BUILD, GroovySystem.getVersion(), Runtime.version().feature() + "",
                    file.getFileName().toString(), text}) {
                md.update(part.getBytes(StandardCharsets.UTF_8));
                md.update((byte) 0);
            }
            return HexFormat.of().formatHex(md.digest(), 0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JDK", e);
        }
    }

    /** The entry for {@code file} under {@code key}, or null (none, or unreadable). */
    /** Whether an entry for {@code file} with {@code key} is there (without reading it). */
    boolean has(Path file, String key) {
        return Files.isRegularFile(entry(file, key));
    }

    Entry read(Path file, String key) {
        Path p = entry(file, key);
        try {
            if (!Files.isRegularFile(p)) {
                return null;
            }
            try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(Files.readAllBytes(p)))) {
                if (in.readInt() != MAGIC) {
                    return null;
                }
                String main = in.readUTF();
                int n = in.readInt();
                Map<String, byte[]> classes = new LinkedHashMap<>();
                for (int i = 0; i < n; i++) {
                    String name = in.readUTF();
                    byte[] b = new byte[in.readInt()];
                    in.readFully(b);
                    classes.put(name, b);
                }
                return classes.containsKey(main) ? new Entry(main, classes) : null;
            }
        } catch (IOException | RuntimeException e) {
            return null; // a damaged entry is just a miss; the write after the compile replaces it
        }
    }

    /** Stores {@code entry}; failures (a read-only disk, a full one) only cost the next start a compile. */
    void write(Path file, String key, Entry entry) {
        try {
            Files.createDirectories(dir);
            ByteArrayOutputStream buf = new ByteArrayOutputStream();
            try (DataOutputStream out = new DataOutputStream(buf)) {
                out.writeInt(MAGIC);
                out.writeUTF(entry.mainClass());
                out.writeInt(entry.classes().size());
                for (Map.Entry<String, byte[]> c : entry.classes().entrySet()) {
                    out.writeUTF(c.getKey());
                    out.writeInt(c.getValue().length);
                    out.write(c.getValue());
                }
            }
            Path target = entry(file, key);
            // The agent's compiler process and a check-config may write the same entry at once: each has a temp file of
            // its own. Readable by others as a plain write would be (umask applies): root's check-config fills the agent's cache too.
            AtomicFiles.write(target, buf.toByteArray(), PosixFilePermissions.fromString("rw-r--r--"));
            // Older versions of this script are dead weight now.
            try (DirectoryStream<Path> old = Files.newDirectoryStream(dir, prefix(file) + "*.classes")) {
                for (Path o : old) {
                    if (!o.equals(target)) {
                        Files.deleteIfExists(o);
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            // Not worth a log line per compile: the cache only saves time.
        }
    }

    private Path entry(Path file, String key) {
        return dir.resolve(prefix(file) + key + ".classes");
    }

    /** File name plus a hash of the full path: default/x.groovy and user/x.groovy do not evict each other. */
    private static String prefix(Path file) {
        String abs = file.toAbsolutePath().normalize().toString();
        return file.getFileName() + "-" + Integer.toHexString(abs.hashCode()) + "-";
    }
}
