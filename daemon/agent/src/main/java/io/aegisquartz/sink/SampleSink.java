package io.aegisquartz.sink;

import io.aegisquartz.sample.Sample;

import java.util.List;

/** Where samples go once a run has produced them. */
public interface SampleSink extends AutoCloseable {

    /**
     * Writes the samples of one run. Does not throw for I/O problems: logs them and counts the loss.
     *
     * @return true if the samples were stored
     */
    boolean write(List<Sample> samples);

    /** Releases files; nothing is written after this. */
    @Override
    default void close() {
    }
}
