package io.aegisquartz.output.prometheus;

import io.aegisquartz.output.EncodeReport;
import io.aegisquartz.output.EncodedBatch;

/**
 * One batch as a remote-write request.
 *
 * @param bytes  the snappy-compressed protobuf WriteRequest
 * @param series time series in it
 * @param points samples in it (one per value and point in time)
 * @param report samples refused and points left out
 */
public record RemoteWriteBody(byte[] bytes, int series, int points, EncodeReport report) implements EncodedBatch {
}
