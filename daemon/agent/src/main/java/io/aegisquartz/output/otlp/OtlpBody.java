package io.aegisquartz.output.otlp;

import io.aegisquartz.output.EncodeReport;
import io.aegisquartz.output.EncodedBatch;

/**
 * One batch as an OTLP/HTTP export request.
 *
 * @param bytes       the request body
 * @param contentType {@code application/x-protobuf} or {@code application/json}
 * @param points      data points in it
 * @param report      samples refused and values left out
 */
public record OtlpBody(byte[] bytes, String contentType, int points, EncodeReport report) implements EncodedBatch {
}
