package io.aegisquartz.upload;

import io.aegisquartz.spool.SpoolRecord;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.UUID;
import java.util.zip.GZIPOutputStream;

/**
 * The body of one request: {@code {"batch_id": ..., "samples": [...]}}, gzipped (docs/PROTOCOL.md).
 *
 * <p>The batch id is derived from the host and the spool position of the batch's first record and its
 * size, so a batch re-read after a crash, or retried, carries the same id.
 */
final class BatchBody {

    final String batchId;
    final byte[] gzipped;
    final int samples;

    private BatchBody(String batchId, byte[] gzipped, int samples) {
        this.batchId = batchId;
        this.gzipped = gzipped;
        this.samples = samples;
    }

    static BatchBody of(String hostUuid, List<SpoolRecord> records) {
        SpoolRecord first = records.get(0);
        String key = first.position() == null ? "dropped:" + new String(first.payload(), StandardCharsets.UTF_8).substring(7, 43)
                : first.position().segment() + ":" + first.position().offset();
        String id = UUID.nameUUIDFromBytes((hostUuid + "/" + key + "/" + records.size()).getBytes(StandardCharsets.UTF_8)).toString();
        return build(id, records);
    }

    /** A batch of live samples sent ahead of the backlog: not from a spool position, so a random id. */
    static BatchBody live(String hostUuid, List<SpoolRecord> records) {
        return build(UUID.randomUUID().toString(), records);
    }

    private static BatchBody build(String id, List<SpoolRecord> records) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(8 * 1024);
        try (GZIPOutputStream gz = new GZIPOutputStream(bytes, 8 * 1024)) {
            gz.write(("{\"batch_id\":\"" + id + "\",\"samples\":[").getBytes(StandardCharsets.UTF_8));
            for (int i = 0; i < records.size(); i++) {
                if (i > 0) {
                    gz.write(',');
                }
                gz.write(records.get(i).payload());
            }
            gz.write("]}".getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot happen writing to memory", e);
        }
        return new BatchBody(id, bytes.toByteArray(), records.size());
    }

    /** Payload bytes of the records, the measure of {@code maxBytes}. */
    static long payloadBytes(List<SpoolRecord> records) {
        long n = 0;
        for (SpoolRecord r : records) {
            n += r.payload().length + 1;
        }
        return n;
    }
}
