package io.aegisquartz.config;

import io.aegisquartz.util.IoErrors;
import io.aegisquartz.util.AtomicFiles;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * The host's identity, kept in conf/uuid.
 *
 * <p>As in the aegis layout, the id comes from the machine rather than being invented, so that it
 * survives IP and hostname changes and a reinstall of the agent: the DMI product UUID if readable,
 * else /etc/machine-id, else a random UUID. It is written once; an existing file is never changed.
 */
public final class HostIdentity {

    private static final Pattern UUID_FORM =
            Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");

    /** Where the id came from, for the start banner. */
    public record Id(String uuid, String origin) {
    }

    private HostIdentity() {
    }

    /**
     * Reads {@code file}, or creates it from the machine's identity.
     *
     * @throws IOException with a message naming the file if it exists but is not a UUID, or cannot be written
     */
    public static Id loadOrCreate(Path file) throws IOException {
        return loadOrCreate(file, Path.of("/sys/class/dmi/id/product_uuid"), Path.of("/etc/machine-id"));
    }

    static Id loadOrCreate(Path file, Path dmiUuid, Path machineId) throws IOException {
        ConfigProblem p = existingProblem(file);
        if (p != null) {
            throw new IOException(p.oneLine());
        }
        try {
            return readOrCreate(file, dmiUuid, machineId);
        } catch (IOException e) {
            // Java's own messages often leave the path out ("Is a directory"): name it.
            throw new IOException(file + ": " + IoErrors.reason(e), e);
        }
    }

    /** Null if {@code file} holds an identity or can be created; else what is wrong with it. */
    public static ConfigProblem problem(Path file) {
        ConfigProblem p = existingProblem(file);
        if (p != null || Files.exists(file)) {
            return p;
        }
        Path dir = file.toAbsolutePath().getParent();
        return Files.isWritable(dir) ? null : new ConfigProblem(file, 0, 0, "the host identity file does not exist and " + dir
                + " is not writable, so it cannot be created", "create it or make the directory writable");
    }

    /** What is wrong with an existing identity file: a directory, unreadable, or not a UUID; null if fine or absent. */
    private static ConfigProblem existingProblem(Path file) {
        if (Files.isDirectory(file)) {
            return new ConfigProblem(file, 0, 0, "this is a directory; the host identity is a file",
                    "remove the directory, or point [agent] uuid_file at a file");
        }
        if (!Files.exists(file)) {
            return null;
        }
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8).strip().toLowerCase(Locale.ROOT);
        } catch (IOException e) {
            return new ConfigProblem(file, 0, 0, "cannot read the host identity: " + IoErrors.reason(e),
                    "let the agent's user read it");
        }
        if (!UUID_FORM.matcher(text).matches()) {
            return new ConfigProblem(file, 0, 0, "not a UUID ('" + abbreviate(text) + "'); it is the host's identity, so it is "
                    + "never rewritten automatically", "restore the old value, or delete the file to derive a new identity from the machine");
        }
        return null;
    }

    /**
     * The host uuid the agent has, or would derive at its first start, without creating the file;
     * null if it cannot be known before (unreadable, or it would be random).
     */
    public static String peek(Path file) {
        try {
            if (Files.exists(file)) {
                return existingProblem(file) == null ? read(file).uuid() : null;
            }
        } catch (IOException e) {
            return null;
        }
        Id id = fromMachine(Path.of("/sys/class/dmi/id/product_uuid"), Path.of("/etc/machine-id"));
        return id.origin().startsWith("a random") ? null : id.uuid();
    }

    private static Id read(Path file) throws IOException {
        return new Id(Files.readString(file, StandardCharsets.UTF_8).strip().toLowerCase(Locale.ROOT), file.toString());
    }

    private static Id readOrCreate(Path file, Path dmiUuid, Path machineId) throws IOException {
        if (Files.exists(file)) {
            return read(file);
        }
        Id id = fromMachine(dmiUuid, machineId);
        // Created whole or not at all, and never over an identity another process wrote meanwhile.
        if (!AtomicFiles.createNew(file, (id.uuid() + "\n").getBytes(StandardCharsets.US_ASCII))) {
            return loadOrCreate(file, dmiUuid, machineId);
        }
        return new Id(id.uuid(), "created from " + id.origin());
    }

    private static Id fromMachine(Path dmiUuid, Path machineId) {
        String dmi = readQuietly(dmiUuid);
        // Cheap boards ship all-zero or all-F DMI UUIDs; those are not identities.
        if (dmi != null && UUID_FORM.matcher(dmi).matches() && !dmi.matches("[0-]+|[f-]+")) {
            return new Id(dmi, dmiUuid.toString());
        }
        String mid = readQuietly(machineId);
        if (mid != null && mid.matches("[0-9a-f]{32}") && !mid.matches("0+")) {
            String u = mid.substring(0, 8) + "-" + mid.substring(8, 12) + "-" + mid.substring(12, 16) + "-"
                    + mid.substring(16, 20) + "-" + mid.substring(20);
            return new Id(u, machineId.toString());
        }
        return new Id(UUID.randomUUID().toString(), "a random UUID (no DMI product UUID or machine-id readable)");
    }

    private static String readQuietly(Path p) {
        try {
            return Files.readString(p, StandardCharsets.US_ASCII).strip().toLowerCase(Locale.ROOT);
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    private static String abbreviate(String s) {
        return s.length() > 40 ? s.substring(0, 40) + "..." : s;
    }
}
