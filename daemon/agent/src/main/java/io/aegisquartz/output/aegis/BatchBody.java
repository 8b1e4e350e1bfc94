package io.aegisquartz.output.aegis;

import io.aegisquartz.output.Item;

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
 * <p>The batch id is derived from the host, the key of the batch's first sample (its spool
 * position, or the drop report a {@code dropped} sample stands for) and the batch's size, so a batch
 * re-read after a crash, or retried, carries the same id. Live-lane copies have no key: a random id.
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

    static BatchBody of(String hostUuid, List<Item> items) {
        Item first = items.get(0);
        String id = first.key() == null ? UUID.randomUUID().toString()
                : UUID.nameUUIDFromBytes((hostUuid + "/" + first.key() + "/" + items.size()).getBytes(StandardCharsets.UTF_8)).toString();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(8 * 1024);
        try (GZIPOutputStream gz = new GZIPOutputStream(bytes, 8 * 1024)) {
            gz.write(("{\"batch_id\":\"" + id + "\",\"samples\":[").getBytes(StandardCharsets.UTF_8));
            for (int i = 0; i < items.size(); i++) {
                if (i > 0) {
                    gz.write(',');
                }
                gz.write(items.get(i).json());
            }
            gz.write("]}".getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot happen writing to memory", e);
        }
        return new BatchBody(id, bytes.toByteArray(), items.size());
    }
}
