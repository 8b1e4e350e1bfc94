package io.aegisquartz.sink;

import io.aegisquartz.sample.Sample;

import java.util.List;

/** Where samples go once a run has produced them. */
public interface SampleSink extends AutoCloseable {

    /** Writes the samples of one run. Must not throw for I/O problems: log them and count. */
    void write(List<Sample> samples);

    /** Releases files; nothing is written after this. */
    @Override
    default void close() {
    }
}
