package io.aegisquartz.receive;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The receiver's output: accepted samples as JSON lines, each sample id stored once.
 *
 * <p>The agent delivers at least once (a batch whose response was lost is sent again), so the store
 * remembers every id it holds, including those in the file from earlier runs, and counts a repeat as a
 * duplicate instead of storing it again. A batch is written with one write and forced to disk before it
 * is acknowledged: an acknowledged sample is never lost, and one that was written but not acknowledged
 * comes back as a duplicate.
 */
final class SampleStore implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger("receive");
    private static final ObjectMapper MAPPER = new ObjectMapper();

    /** How one batch was stored. */
    record Result(int accepted, int duplicates) {
    }

    private final Path file;
    private final Set<String> ids = new HashSet<>();
    private final FileChannel channel;
    /** A failed write may have left half a line; the next write starts a new one. */
    private boolean needsNewline;

    SampleStore(Path file) throws IOException {
        this.file = file;
        Path dir = file.toAbsolutePath().getParent();
        if (dir != null) {
            Files.createDirectories(dir);
        }
        int broken = loadIds();
        if (broken > 0) {
            LOG.warn("{}: {} line(s) are not samples with an id and were skipped when loading stored ids", file, broken);
        }
        channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
        needsNewline = channel.size() > 0 && lastByte() != '\n';
    }

    private int loadIds() throws IOException {
        if (!Files.exists(file)) {
            return 0;
        }
        int broken = 0;
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            while ((line = r.readLine()) != null) {
                if (line.isBlank()) {
                    continue;
                }
                try {
                    JsonNode id = MAPPER.readTree(line).get("id");
                    if (id != null && id.isTextual()) {
                        ids.add(id.textValue());
                        continue;
                    }
                } catch (IOException e) {
                    // counted below: a line cut short by a crash does not parse
                }
                broken++;
            }
        }
        return broken;
    }

    private byte lastByte() throws IOException {
        try (FileChannel c = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(1);
            c.read(b, c.size() - 1);
            return b.get(0);
        }
    }

    /** Appends the samples whose ids are new (also within the batch) and returns the counts. */
    synchronized Result store(List<Batch.Sample> samples) throws IOException {
        StringBuilder sb = new StringBuilder();
        Set<String> fresh = new HashSet<>();
        int duplicates = 0;
        for (Batch.Sample s : samples) {
            if (ids.contains(s.id()) || !fresh.add(s.id())) {
                duplicates++;
                continue;
            }
            sb.append(s.json()).append('\n');
        }
        if (!fresh.isEmpty()) {
            ByteBuffer buf = ByteBuffer.wrap(((needsNewline ? "\n" : "") + sb).getBytes(StandardCharsets.UTF_8));
            needsNewline = true;
            while (buf.hasRemaining()) {
                channel.write(buf);
            }
            channel.force(false);
            needsNewline = false;
            ids.addAll(fresh);
        }
        return new Result(fresh.size(), duplicates);
    }

    synchronized int size() {
        return ids.size();
    }

    Path file() {
        return file;
    }

    @Override
    public synchronized void close() throws IOException {
        channel.close();
    }
}
