package io.aegisquartz.output;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.aegisquartz.sample.SampleJson;

import java.io.IOException;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Samples a backend rejected as invalid, kept with its reason instead of being retried forever or
 * thrown away: one JSON line each, {@code {"time", "output", "batch_id", "status", "reason", "sample"}}
 * ({@code batch_id} only where the output has batch ids; docs/PROTOCOL.md, "Dead letters").
 */
public final class DeadLetters {

    private static final JsonFactory JSON = new JsonFactory();
    private final Path file;
    private final String output;
    private long count;

    public DeadLetters(Path file, String output) {
        this.file = file;
        this.output = output;
    }

    /** Appends and fsyncs; the caller acknowledges the spool only after this returns. */
    synchronized void add(Item item, String batchId, int status, String reason) throws IOException {
        StringWriter w = new StringWriter();
        try (JsonGenerator g = JSON.createGenerator(w)) {
            g.writeStartObject();
            // The samples' own time format (docs/SAMPLES.md), not Instant.toString(), whose fraction
            // has 0 to 9 digits depending on the clock: one format for every time a reader parses.
            g.writeStringField("time", SampleJson.time(System.currentTimeMillis()));
            g.writeStringField("output", output);
            if (batchId != null) {
                g.writeStringField("batch_id", batchId);
            }
            g.writeNumberField("status", status);
            g.writeStringField("reason", reason);
            g.writeFieldName("sample");
            g.writeRawValue(new String(item.json(), StandardCharsets.UTF_8));
            g.writeEndObject();
        }
        Files.createDirectories(file.getParent());
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
            ByteBuffer b = ByteBuffer.wrap((w + "\n").getBytes(StandardCharsets.UTF_8));
            while (b.hasRemaining()) {
                ch.write(b);
            }
            ch.force(false);
        }
        count++;
    }

    synchronized long count() {
        return count;
    }

    public Path file() {
        return file;
    }
}
