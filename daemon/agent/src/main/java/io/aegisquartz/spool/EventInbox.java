package io.aegisquartz.spool;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.SampleIds;
import io.aegisquartz.sample.Status;
import io.aegisquartz.util.AtomicFiles;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * Events dropped into {@code <spool dir>/incoming/} by {@code aegis-quartz event} (format:
 * docs/SPOOL.md, "Incoming events"), and the agent's side that picks them up.
 *
 * <p>The agent calls {@link #pending}, makes the events durable in the spool (as samples, see
 * {@link #toMeasurement}), then calls {@link #done}, which deletes the files. A crash between
 * the two delivers those events again (at-least-once, like the spool), with the same sample ids
 * ({@link #sampleId}), so the receiver keeps one copy. A file that cannot be read
 * or parsed is renamed to {@code NAME.bad} and logged once, never deleted.
 */
public final class EventInbox {

    /** The subdirectory of the spool directory. */
    public static final String INCOMING = "incoming";
    /** How a complete event file's name ends. */
    public static final String SUFFIX = ".event.json";
    public static final int MAX_NAME = 128;
    public static final int MAX_CONTENT = 4096;
    public static final int MAX_GROUP = 128;
    /** 9999-12-31T23:59:59.999Z: the last instant ISO-8601 writes without a sign. */
    public static final long MAX_TIME_MILLIS = 253_402_300_799_999L;
    /** Far above any valid event (4096 characters escaped as \\uXXXX are 24 KiB). */
    static final int MAX_FILE_BYTES = 64 << 10;

    private static final Logger LOG = LoggerFactory.getLogger("spool");
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_.:-]+");
    private static final Pattern SET_ASIDE = Pattern.compile(".*\\.bad(\\.\\d+)?");
    private static final JsonFactory JSON = new JsonFactory();

    /**
     * Built on the first event file, not with the class: an ObjectMapper loads about 280 classes, and
     * most agents never receive an event.
     */
    private static final class Reader {
        static final ObjectMapper MAPPER = new ObjectMapper()
                .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
                .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    }

    /**
     * One event file, parsed. {@code group} is null when the event has none; {@code sha256} is the
     * lower-case hex SHA-256 of the file's bytes, which with the file's name makes the event's
     * identity ({@link #sampleId}).
     */
    public record Event(Path file, String name, String content, String group, long timeMillis, String sha256) {
    }

    private final Path incoming;
    /** Files {@link #done} could not delete: skipped from now on so they are not delivered over and over. */
    private final Set<String> undeletable = new HashSet<>();

    /** The inbox of the spool in {@code spoolDir}. */
    public EventInbox(Path spoolDir) {
        this.incoming = spoolDir.resolve(INCOMING);
    }

    public Path dir() {
        return incoming;
    }

    /** True for the name of a complete event file (temporary files start with a dot). */
    public static boolean isEventFile(String fileName) {
        return fileName.endsWith(SUFFIX) && !fileName.startsWith(".");
    }

    /** True for the name of a file set aside as unreadable. */
    public static boolean isSetAside(String fileName) {
        return SET_ASIDE.matcher(fileName).matches();
    }

    /** Why these fields do not make a valid event, or null if they do. */
    public static String problem(String name, String content, String group, long timeMillis) {
        if (name == null || name.isEmpty() || name.length() > MAX_NAME) {
            return "name must be 1 to " + MAX_NAME + " characters" + (name == null || name.isEmpty() ? "" : ", not " + name.length());
        }
        if (!NAME.matcher(name).matches()) {
            int bad = 0;
            while (bad < name.length() && NAME.matcher(name.substring(bad, bad + 1)).matches()) {
                bad++;
            }
            return "name may contain only letters A-Z a-z, digits and _ . : - (character " + (bad + 1) + " is '"
                    + name.charAt(bad) + "')";
        }
        if (content == null) {
            return "content is missing";
        }
        int c = content.codePointCount(0, content.length());
        if (c > MAX_CONTENT) {
            return "content must be at most " + MAX_CONTENT + " characters, not " + c;
        }
        if (group != null && group.codePointCount(0, group.length()) > MAX_GROUP) {
            return "group must be at most " + MAX_GROUP + " characters, not " + group.codePointCount(0, group.length());
        }
        if (timeMillis < 0 || timeMillis > MAX_TIME_MILLIS) {
            return "time must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z (epoch ms 0 to "
                    + MAX_TIME_MILLIS + "), not " + timeMillis;
        }
        return null;
    }

    /**
     * Writes one event durably into {@code <spoolDir>/incoming/} (created if needed): a temporary
     * {@code .<uuid>.tmp}, fsync, rename to {@code <time-millis>-<uuid>.event.json}, fsync of the
     * directory. Safe without the spool lock and while the agent runs; the agent never sees a
     * partial file. {@code group} may be null or empty (no group).
     *
     * @return the file written
     * @throws IllegalArgumentException if the fields are not a valid event ({@link #problem})
     */
    public static Path write(Path spoolDir, String name, String content, String group, long timeMillis) throws IOException {
        String g = group == null || group.isEmpty() ? null : group;
        String problem = problem(name, content, g, timeMillis);
        if (problem != null) {
            throw new IllegalArgumentException(problem);
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(256 + content.length());
        try (JsonGenerator j = JSON.createGenerator(bytes)) {
            j.writeStartObject();
            j.writeStringField("name", name);
            j.writeStringField("content", content);
            if (g != null) {
                j.writeStringField("group", g);
            }
            j.writeNumberField("time", timeMillis);
            j.writeEndObject();
        }
        bytes.write('\n');

        Path dir = spoolDir.resolve(INCOMING);
        createDirectoriesDurably(dir);
        String uuid = UUID.randomUUID().toString();
        Path target = dir.resolve(String.format("%013d-%s%s", timeMillis, uuid, SUFFIX));
        AtomicFiles.write(target, bytes.toByteArray());
        return target;
    }

    /** Creates missing directories and fsyncs each new one's parent, so the new entries survive a crash. */
    private static void createDirectoriesDurably(Path dir) throws IOException {
        if (Files.isDirectory(dir)) {
            return;
        }
        List<Path> created = new ArrayList<>();
        for (Path p = dir.toAbsolutePath(); p != null && !Files.exists(p); p = p.getParent()) {
            created.add(0, p);
        }
        for (Path p : created) {
            try {
                Files.createDirectory(p);
            } catch (FileAlreadyExistsException raced) {
                if (!Files.isDirectory(p)) {
                    throw raced;
                }
            }
            AtomicFiles.syncDir(p.getParent());
        }
    }

    /**
     * Up to {@code max} events, oldest first (by the time in the file name, then the name). Files
     * that cannot be read or parsed are set aside as {@code *.bad} (one log line each) and skipped.
     * Returns the same events again until {@link #done} is called for them.
     */
    public synchronized List<Event> pending(int max) throws IOException {
        if (max < 1) {
            throw new IllegalArgumentException("max must be positive");
        }
        List<Path> files = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(incoming)) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                if (isEventFile(n) && !undeletable.contains(n)) {
                    files.add(p);
                }
            }
        } catch (NoSuchFileException e) {
            return List.of();
        }
        files.sort(Comparator.comparingLong(EventInbox::timePrefix).thenComparing(p -> p.getFileName().toString()));
        List<Event> out = new ArrayList<>();
        for (Path p : files) {
            if (out.size() >= max) {
                break;
            }
            Event e;
            try {
                e = parse(p);
            } catch (NoSuchFileException gone) {
                continue; // taken away meanwhile (by an operator, or another inbox on the same directory)
            } catch (IOException | RuntimeException bad) {
                setAside(p, bad instanceof IllegalArgumentException ? bad.getMessage() : bad.toString());
                continue;
            }
            out.add(e);
        }
        return out;
    }

    /**
     * Deletes the files of events the agent has made durable. A file that cannot be deleted is
     * logged and not returned by {@link #pending} again while this inbox lives (after a restart it
     * would be delivered once more).
     */
    public synchronized void done(List<Event> events) {
        boolean deleted = false;
        for (Event e : events) {
            try {
                deleted |= Files.deleteIfExists(e.file());
            } catch (IOException ex) {
                undeletable.add(e.file().getFileName().toString());
                LOG.warn("event file {} was delivered but cannot be deleted ({}); remove it by hand or it is delivered again"
                        + " after the agent restarts", e.file(), ex.toString());
            }
        }
        if (deleted) {
            try {
                AtomicFiles.syncDir(incoming);
            } catch (IOException ex) {
                // The files are gone for this run; after a crash some may come back and be delivered twice.
                LOG.warn("cannot fsync {} after deleting delivered event files: {}", incoming, ex.toString());
            }
        }
    }

    /**
     * The id of the sample an event becomes, the same at every delivery of that file: derived from
     * the host, the file's name and the SHA-256 of its bytes ({@link SampleIds#derived}; '/' appears
     * in none of the three, so the key names them unambiguously), with the
     * event's time first as in every sample id. A file delivered again (a crash between the spool
     * append and {@link #done}, or a file {@link #done} could not delete, read again after a restart)
     * therefore carries the id its first delivery had, and the receiver drops the copy. The host is
     * part of it so that two hosts given the same file name and content still send two events.
     */
    public static String sampleId(Event e, String hostUuid) {
        return SampleIds.derived(e.timeMillis(), hostUuid + "/event/" + e.file().getFileName() + "/" + e.sha256());
    }

    /** The sample an event becomes: metric {@code event}, status ok, message the content, tags name and group. */
    public static Measurement toMeasurement(Event e) {
        Map<String, String> tags = new LinkedHashMap<>();
        tags.put("name", e.name());
        if (e.group() != null) {
            tags.put("group", e.group());
        }
        return new Measurement(e.timeMillis(), "event", Status.OK, e.content().isEmpty() ? null : e.content(), Map.of(), Map.of(),
                tags);
    }

    /** Parses one file; IllegalArgumentException says why it is not an event. */
    static Event parse(Path file) throws IOException {
        long size = Files.size(file);
        if (size > MAX_FILE_BYTES) {
            throw new IllegalArgumentException("file of " + size + " bytes is larger than any event (" + MAX_FILE_BYTES + ")");
        }
        byte[] bytes = Files.readAllBytes(file);
        JsonNode root;
        try {
            root = Reader.MAPPER.readTree(bytes);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException("not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || root.isMissingNode() || !root.isObject()) {
            throw new IllegalArgumentException("not a JSON object");
        }
        String name = text(root, "name", true);
        String content = text(root, "content", true);
        String group = text(root, "group", false);
        JsonNode t = root.get("time");
        if (t == null || !t.isIntegralNumber() || !t.canConvertToLong()) {
            throw new IllegalArgumentException("\"time\" must be an integer (epoch milliseconds)");
        }
        long time = t.longValue();
        if (group != null && group.isEmpty()) {
            group = null;
        }
        String problem = problem(name, content, group, time);
        if (problem != null) {
            throw new IllegalArgumentException(problem);
        }
        return new Event(file, name, content, group, time, sha256Hex(bytes));
    }

    static String sha256Hex(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has SHA-256", e);
        }
    }

    private static String text(JsonNode root, String field, boolean required) {
        JsonNode n = root.get(field);
        if (n == null || n.isNull()) {
            if (required) {
                throw new IllegalArgumentException("\"" + field + "\" is missing");
            }
            return null;
        }
        if (!n.isTextual()) {
            throw new IllegalArgumentException("\"" + field + "\" must be a string");
        }
        return n.textValue();
    }

    private void setAside(Path file, String reason) {
        Path target = file.resolveSibling(file.getFileName() + ".bad");
        try {
            for (int i = 1; Files.exists(target); i++) {
                target = file.resolveSibling(file.getFileName() + ".bad." + i);
            }
            Files.move(file, target, StandardCopyOption.ATOMIC_MOVE);
            LOG.warn("event file {} is not a valid event ({}); set aside as {}", file, reason, target.getFileName());
        } catch (NoSuchFileException gone) {
            // removed meanwhile: nothing to set aside
        } catch (IOException e) {
            undeletable.add(file.getFileName().toString());
            LOG.warn("event file {} is not a valid event ({}) and cannot be renamed ({}); ignored until the agent restarts",
                    file, reason, e.toString());
        }
    }

    /** The epoch-ms prefix of an event file name, so names without zero padding still sort by time. */
    private static long timePrefix(Path p) {
        String n = p.getFileName().toString();
        int dash = n.indexOf('-');
        if (dash < 1 || dash > 18) {
            return Long.MAX_VALUE;
        }
        for (int i = 0; i < dash; i++) {
            if (n.charAt(i) < '0' || n.charAt(i) > '9') {
                return Long.MAX_VALUE;
            }
        }
        return Long.parseLong(n.substring(0, dash));
    }
}
