package io.aegisquartz.output;

import io.aegisquartz.sample.Sample;

/**
 * What an output's worker tells besides its log, for the agent's own alerts (docs/ALERTS.md, "The
 * agent's own events"): each send's outcome and each of the spool's drop reports it takes. Called on
 * the worker's thread, so an implementation must be quick and must not block; what it throws is
 * logged and ignored.
 */
public interface OutputEvents {

    /** Tells nobody. */
    OutputEvents NONE = new OutputEvents() {
    };

    /**
     * A send failed.
     *
     * @param consecutive failed sends since the last one that succeeded (since the start, if none has)
     * @param error       the reason as the log says it, URL credentials and secret query values masked
     * @param unreported  samples the spool has dropped for this output whose {@code dropped} report it has
     *                    not yet delivered (the report goes out with its next batch, after the outage)
     */
    default void failed(String output, String type, int consecutive, String error, long unreported) {
    }

    /** A send succeeded (called for every batch delivered: quick, no allocation expected). */
    default void delivered(String output, String type) {
    }

    /**
     * The spool dropped samples this output had not sent: {@code dropped} is the {@code dropped} sample
     * (docs/SAMPLES.md) built from the spool's report, now handed to the output. A report taken again
     * (after a restart, or a failed acknowledgement) is the same sample with the same id.
     */
    default void dropped(Sample dropped) {
    }
}
