package io.aegisquartz.output.influx;

import io.aegisquartz.output.EncodeReport;
import io.aegisquartz.output.EncodedBatch;

/**
 * One batch in line protocol.
 *
 * @param bytes   the request body (gzipped if {@code gzipped})
 * @param gzipped whether to send it with {@code Content-Encoding: gzip}
 * @param lines   points written (one line each)
 * @param report  samples refused and values left out
 */
public record InfluxBody(byte[] bytes, boolean gzipped, int lines, EncodeReport report) implements EncodedBatch {

    @Override
    public int points() {
        return lines;
    }
}
