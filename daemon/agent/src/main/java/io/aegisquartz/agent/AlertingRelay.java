package io.aegisquartz.agent;

import io.aegisquartz.alert.Alerting;
import io.aegisquartz.output.OutputEvents;
import io.aegisquartz.pipeline.SampleTap;
import io.aegisquartz.sample.Sample;

import java.util.List;

/**
 * The pipeline's tap and the outputs' events, handed to alerting once there is alerting: the pipeline
 * and the workers are made at start, but alerting may begin at a later reload (a channels file written
 * after the start). Until then each call is one volatile read.
 */
final class AlertingRelay implements SampleTap, OutputEvents {

    private volatile Alerting alerting;

    void to(Alerting a) {
        this.alerting = a;
    }

    @Override
    public void stored(List<Sample> samples) {
        Alerting a = alerting;
        if (a != null) {
            a.stored(samples);
        }
    }

    @Override
    public void failed(String output, String type, int consecutive, String error, long unreported) {
        Alerting a = alerting;
        if (a != null) {
            a.failed(output, type, consecutive, error, unreported);
        }
    }

    @Override
    public void delivered(String output, String type) {
        Alerting a = alerting;
        if (a != null) {
            a.delivered(output, type);
        }
    }

    @Override
    public void dropped(Sample dropped) {
        Alerting a = alerting;
        if (a != null) {
            a.dropped(dropped);
        }
    }
}
