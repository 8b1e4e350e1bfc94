package io.aegisquartz.output;

import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Sample;
import io.aegisquartz.sample.SampleIds;
import io.aegisquartz.sample.SampleJson;
import io.aegisquartz.sample.Status;
import io.aegisquartz.spool.DropReport;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The {@code dropped} sample (docs/SAMPLES.md) that tells one output's backend what the spool dropped
 * before that output had sent it. Everything in it comes from the report, so a report delivered
 * again after a restart is the same sample with the same id.
 */
public final class DroppedSamples {

    private DroppedSamples() {
    }

    /** The sample for {@code report} of the output {@code output}. */
    public static Sample of(DropReport report, String output, String hostUuid, String hostname) {
        Map<String, Double> values = new LinkedHashMap<>();
        values.put("count", (double) report.count());
        values.put("total", (double) report.total());
        values.put("first_time_ms", (double) report.firstTimeMillis());
        values.put("last_time_ms", (double) report.lastTimeMillis());
        String message = report.count() + " unsent sample(s) appended from " + SampleJson.time(report.firstTimeMillis()) + " to "
                + SampleJson.time(report.lastTimeMillis()) + " were dropped before output " + output + " sent them: "
                + (report.reason() == DropReport.Reason.SIZE_CAP ? "the spool reached [spool] max_size"
                : "free disk space fell below [spool] min_free");
        Measurement m = new Measurement(report.lastTimeMillis(), "spool", Status.DROPPED, message, values, Map.of(),
                Map.of("reason", report.reason().tag(), "output", output));
        String id = SampleIds.derived(report.lastTimeMillis(), hostUuid + "/" + output + "/dropped/" + report.number());
        return new Sample(id, hostUuid, hostname, "agent/spool", "agent", 0, 0, false, m);
    }
}
