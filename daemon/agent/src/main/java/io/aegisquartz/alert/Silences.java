package io.aegisquartz.alert;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.aegisquartz.util.AtomicFiles;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Silences set with {@code aegis-quartz silence}: {@code STATE/alerts/silences.json}, a JSON array,
 * changed by the command under a lock ({@link #update}: read, change, write whole and atomically) and
 * read by the agent when the file changes (no lock needed: it sees the old file or the new one). A
 * silence ends by itself at its end time; nothing needs to remove it. While a job is silenced its
 * notifications are not sent, and it is not marked as notified, so a problem that outlasts the silence
 * is notified when it ends.
 */
public final class Silences {

    /** The job name that silences everything, the agent's own events included. */
    public static final String ALL = "all";
    /** The job name of the agent's own events. */
    public static final String AGENT = "agent";

    /** Made at the first silence file read or written, not with the agent: most agents never have one. */
    private static final class Json {
        static final ObjectMapper MAPPER = new ObjectMapper();
    }
    /** One monitor per lock file: threads of one process must wait for each other before the file lock, which is per process. */
    private static final java.util.concurrent.ConcurrentMap<Path, Object> IN_PROCESS = new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * One silence.
     *
     * @param job         a job name as samples carry it, "agent", or "all"
     * @param startMillis when it was set
     * @param endMillis   when it ends
     * @param reason      what the operator said, or empty
     * @param by          who set it (the user name)
     */
    public record Silence(String job, long startMillis, long endMillis, String reason, String by) {
    }

    private final Path file;
    private long seenModified = -1;
    private long seenSize = -1;
    private List<Silence> cached = List.of();

    public Silences(Path file) {
        this.file = file;
    }

    public Path file() {
        return file;
    }

    /** Every silence in the file, ended ones included. */
    public List<Silence> read() throws IOException {
        try {
            byte[] b = Files.readAllBytes(file);
            if (b.length == 0) {
                return List.of();
            }
            return List.copyOf(Json.MAPPER.readValue(b, new TypeReference<List<Silence>>() { }));
        } catch (NoSuchFileException e) {
            return List.of();
        }
    }

    /**
     * Changes the silences as one step against every other writer: under an exclusive lock on
     * {@code silences.json.lock} (a file lock between processes, a monitor between threads of this
     * one, which a file lock does not cover), reads the file, applies {@code change} and writes the
     * result with {@link AtomicFiles}. Without it, two {@code silence} commands at the same instant
     * would both read the old list and the second rename would lose the first one's silence.
     *
     * @param change the new list from the current one, or null to leave the file as it is
     * @return the list now in the file
     */
    public List<Silence> update(java.util.function.UnaryOperator<List<Silence>> change, long nowMillis) throws IOException {
        Files.createDirectories(file.getParent());
        Path lockFile = file.resolveSibling(file.getFileName() + ".lock");
        synchronized (IN_PROCESS.computeIfAbsent(lockFile.toAbsolutePath().normalize(), k -> new Object())) {
            try (FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                 FileLock ignored = ch.lock()) {
                List<Silence> now = read();
                List<Silence> next = change.apply(now);
                if (next == null) {
                    return now;
                }
                write(next, nowMillis);
                return next;
            }
        }
    }

    /** Replaces the file's silences (dropping those that ended before {@code nowMillis}); {@link #update} is the safe way to change them. */
    public void write(List<Silence> silences, long nowMillis) throws IOException {
        List<Silence> keep = new ArrayList<>();
        for (Silence s : silences) {
            if (s.endMillis() > nowMillis) {
                keep.add(s);
            }
        }
        Files.createDirectories(file.getParent());
        AtomicFiles.write(file, Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(keep));
    }

    /**
     * The silence covering {@code job} at {@code nowMillis}, or null. Reads the file again only when it
     * changed (its size or modification time), so a check costs one stat.
     */
    public synchronized Silence covering(String job, long nowMillis) {
        refresh();
        Silence best = null;
        for (Silence s : cached) {
            if (s.startMillis() <= nowMillis && nowMillis < s.endMillis()
                    && (s.job().equals(ALL) || s.job().equals(job) || (job.startsWith(AGENT + "/") && s.job().equals(AGENT)))) {
                if (best == null || s.endMillis() > best.endMillis()) {
                    best = s;
                }
            }
        }
        return best;
    }

    private void refresh() {
        long modified;
        long size;
        try {
            modified = Files.getLastModifiedTime(file).toMillis();
            size = Files.size(file);
        } catch (IOException e) {
            cached = List.of();
            seenModified = -1;
            return;
        }
        if (modified == seenModified && size == seenSize) {
            return;
        }
        try {
            cached = read();
        } catch (IOException | RuntimeException e) {
            org.slf4j.LoggerFactory.getLogger("alert").warn("silences in {} cannot be read ({}); none applies until it is fixed", file,
                    e.getMessage());
            cached = List.of();
        }
        seenModified = modified;
        seenSize = size;
    }
}
