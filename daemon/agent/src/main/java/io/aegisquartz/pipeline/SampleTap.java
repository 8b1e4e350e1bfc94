package io.aegisquartz.pipeline;

import io.aegisquartz.sample.Sample;

import java.util.List;

/**
 * Sees every run's samples once they are durable in the spool, on the thread that stored them (so it
 * must be quick, and must not block: hand real work to a thread of its own). The alerting feature
 * is one. A tap that throws is logged and does not stop the others or the run.
 */
public interface SampleTap {

    void stored(List<Sample> samples);
}
