package io.aegisquartz.output;

/** A batch as an encoder made it for a backend: the bytes to send, its points, and what was left out. */
public interface EncodedBatch {

    /** The request body, as sent. */
    byte[] bytes();

    /** Points (lines, samples, data points) in it; a batch without any is not sent. */
    int points();

    /** Samples refused and values left out. */
    EncodeReport report();
}
