package io.aegisquartz.pipeline;

import io.aegisquartz.sample.Sample;

import java.util.List;

/** Where samples go once a run has produced and stamped them: {@link SamplePipeline}. */
public interface SampleSink extends AutoCloseable {

    /**
     * Stores the samples of one run. Does not throw for I/O problems: logs them and counts the loss.
     *
     * @return true if the samples were stored
     */
    boolean write(List<Sample> samples);

    /** Nothing is written after this. */
    @Override
    default void close() {
    }
}
