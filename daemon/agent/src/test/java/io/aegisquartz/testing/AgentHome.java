package io.aegisquartz.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.aegisquartz.config.AgentSettings;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/** A complete agent home in a temporary directory: conf/, plugins-default/, plugins-user/, log/. */
public final class AgentHome {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path home;

    public AgentHome(Path home, String ini) {
        this.home = home;
        try {
            Files.createDirectories(conf());
            Files.createDirectories(home.resolve("plugins-default"));
            Files.createDirectories(home.resolve("plugins-user"));
            Files.writeString(conf().resolve("aegis_config.ini"), ini);
            Files.writeString(conf().resolve("aegis_quartz.conf.default"), "");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public Path home() {
        return home;
    }

    public Path conf() {
        return home.resolve("conf");
    }

    public Path samplesFile() {
        return home.resolve("log/samples.jsonl");
    }

    public AgentSettings settings() {
        return AgentSettings.load(home, conf());
    }

    /** Replaces a cron file atomically, as editors that write a temp file and rename do. */
    public void cron(String fileName, String text) {
        write(conf().resolve(fileName), text);
    }

    /** Writes conf/credentials, the upload key, with the given permissions (the agent wants "rw-------"). */
    public Path credentials(String keyId, String secret, String mode) {
        Path creds = conf().resolve("credentials");
        try {
            Files.writeString(creds, "[credentials]\naccess_key_id = " + keyId + "\naccess_key_secret = " + secret + "\n");
            Files.setPosixFilePermissions(creds, PosixFilePermissions.fromString(mode));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return creds;
    }

    public Path userPlugin(String name, String text) {
        return TestJobs.script(home.resolve("plugins-user"), name, text);
    }

    public static void write(Path file, String text) {
        try {
            Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
            Files.writeString(tmp, text);
            Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Adds write for the group to everything in the home, as a clone made under umask 002 has it. */
    public void groupWritable() {
        try (var all = Files.walk(home)) {
            for (Path p : all.toList()) {
                var perms = Files.getPosixFilePermissions(p);
                perms.add(java.nio.file.attribute.PosixFilePermission.GROUP_WRITE);
                Files.setPosixFilePermissions(p, perms);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The text of a file another process writes, or "" while it does not exist (or has just been moved away). */
    public static String text(Path file) {
        try {
            return Files.exists(file) ? Files.readString(file) : "";
        } catch (IOException e) {
            return "";
        }
    }

    /**
     * The complete lines of a file another thread or process is appending to: a line whose newline
     * has not been written yet is left out rather than read half.
     */
    public static List<String> wholeLines(Path file) {
        try {
            if (!Files.exists(file)) {
                return List.of();
            }
            String text = Files.readString(file);
            String whole = text.substring(0, text.lastIndexOf('\n') + 1);
            return whole.isEmpty() ? List.of() : List.of(whole.split("\n"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Every sample written so far. */
    public List<JsonNode> samples() {
        List<JsonNode> out = new ArrayList<>();
        if (!Files.exists(samplesFile())) {
            return out;
        }
        try {
            for (String line : wholeLines(samplesFile())) {
                if (!line.isBlank()) {
                    out.add(JSON.readTree(line));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    /** Samples of one job matching {@code filter}. */
    public List<JsonNode> samples(String job, Predicate<JsonNode> filter) {
        return samples().stream().filter(s -> s.get("job").asText().equals(job)).filter(filter).toList();
    }

    /** Samples of one job with one status. */
    public List<JsonNode> samples(String job, String status) {
        return samples(job, s -> s.get("status").asText().equals(status));
    }
}
