package io.aegisquartz.alert;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.aegisquartz.util.AtomicFiles;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * The alert state file ({@code STATE/alerts/state.json}): read once at start, replaced whole with
 * {@link AtomicFiles} (temporary file, fsync, rename, directory fsync) whenever it changed, so a crash
 * or {@code kill -9} leaves the previous version or the new one, never a mix. Mode 0600: messages
 * waiting for delivery quote plugin output.
 */
public final class AlertStore {

    private static final Logger LOG = LoggerFactory.getLogger("alert");
    /**
     * Made at the first read of an existing file or the first write, not at start: while nothing has
     * ever been wrong there is no file, and an agent that never needs one never loads Jackson's databind.
     */
    private static final class Json {
        static final ObjectMapper MAPPER = new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);
    }
    /** A state file larger than this is not ours (a few hundred series and a full outbox are well under 1 MiB). */
    static final long MAX_BYTES = 64L << 20;

    private final Path file;
    private long writes;

    public AlertStore(Path file) {
        this.file = file;
    }

    public Path file() {
        return file;
    }

    /**
     * The saved state; a new one if there is none. A file that cannot be read as state is moved aside
     * (to state.json.bad-TIME) and logged: alerting starts afresh rather than not at all.
     */
    public AlertState load() {
        try {
            if (Files.size(file) > MAX_BYTES) {
                throw new IOException("larger than " + (MAX_BYTES >> 20) + " MiB");
            }
            AlertState s = Json.MAPPER.readValue(Files.readAllBytes(file), AlertState.class);
            if (s.version != 1) {
                throw new IOException("format version " + s.version + ", this agent reads version 1");
            }
            return s;
        } catch (NoSuchFileException e) {
            return new AlertState();
        } catch (IOException | RuntimeException e) {
            Path aside = file.resolveSibling(file.getFileName() + ".bad-" + System.currentTimeMillis());
            try {
                Files.move(file, aside, StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException moveFailed) {
                aside = null;
            }
            LOG.error("alert state {} cannot be read ({}); starting with no alert state{}", file, e.getMessage(),
                    aside == null ? "" : ", the file kept as " + aside);
            return new AlertState();
        }
    }

    /** Replaces the file with {@code state}, durably. */
    public void save(AlertState state) throws IOException {
        write(serialize(state));
    }

    /** The file's bytes for {@code state} (taken under the caller's lock; written after it). */
    byte[] serialize(AlertState state) throws IOException {
        return Json.MAPPER.writeValueAsBytes(state);
    }

    /** Replaces the file with {@code bytes} from {@link #serialize}, durably. */
    synchronized void write(byte[] bytes) throws IOException {
        Files.createDirectories(file.getParent());
        AtomicFiles.write(file, bytes, PosixFilePermissions.fromString("rw-------"));
        writes++;
    }

    /** Saves since this store was opened (for tests and the benchmark). */
    public synchronized long writes() {
        return writes;
    }
}
