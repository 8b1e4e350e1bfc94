package io.aegisquartz.sink;

import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Sample;
import io.aegisquartz.sample.SampleJson;
import io.aegisquartz.sample.SampleStamper;
import io.aegisquartz.sample.Status;
import io.aegisquartz.spool.DropReport;
import io.aegisquartz.spool.Spool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Samples into the durable spool, from which the uploader sends them. A run's samples are one append,
 * durable when {@link #write} returns: that is when the run counts as collected.
 *
 * <p>When the spool had to drop unsent samples to stay within its limits, a {@code dropped} sample
 * saying how many, appended when and why goes in with the next write, so the receiver sees the gap.
 */
public final class SpoolSink implements SampleSink {

    private static final Logger LOG = LoggerFactory.getLogger("spool");

    private final Spool spool;
    private final SampleStamper stamper;
    private final java.util.function.Consumer<List<byte[]>> appended;
    private long lost;

    /** @param appended called with the records after every successful append (the uploader's live lane) */
    public SpoolSink(Spool spool, SampleStamper stamper, java.util.function.Consumer<List<byte[]>> appended) {
        this.spool = spool;
        this.stamper = stamper;
        this.appended = appended;
    }

    @Override
    public synchronized boolean write(List<Sample> samples) {
        List<byte[]> records = new ArrayList<>(samples.size() + 1);
        for (Sample s : samples) {
            records.add(SampleJson.toJson(s).getBytes(StandardCharsets.UTF_8));
        }
        try {
            spool.append(records);
            List<DropReport> drops = spool.drainDropped();
            if (!drops.isEmpty()) {
                spool.append(dropSamples(drops, spool.stats().dropped()));
            }
            appended.accept(records);
            return true;
        } catch (IOException | RuntimeException e) {
            lost += samples.size();
            LOG.error("{} sample(s) lost: the spool could not store them: {} ({} lost since start)", samples.size(),
                    e.getMessage(), lost);
            return false;
        }
    }

    /** Samples lost because the spool refused them, since start. */
    public synchronized long lost() {
        return lost;
    }

    /**
     * One {@code dropped} sample per drop. {@code total} is the running count since the spool was
     * opened: a later drop may take an earlier {@code dropped} sample with it, and the next one's
     * total still tells the receiver the whole gap.
     */
    private List<byte[]> dropSamples(List<DropReport> drops, long total) {
        List<byte[]> out = new ArrayList<>(drops.size());
        for (DropReport d : drops) {
            Map<String, Double> values = new LinkedHashMap<>();
            values.put("count", (double) d.count());
            values.put("total", (double) total);
            values.put("first_time_ms", (double) d.firstTimeMillis());
            values.put("last_time_ms", (double) d.lastTimeMillis());
            String reason = d.reason() == DropReport.Reason.SIZE_CAP ? "size_cap" : "disk_free";
            String message = d.count() + " unsent sample(s) appended from " + SampleJson.time(d.firstTimeMillis()) + " to "
                    + SampleJson.time(d.lastTimeMillis()) + " were dropped: " + (d.reason() == DropReport.Reason.SIZE_CAP
                    ? "the spool reached [spool] max_size" : "free disk space fell below [spool] min_free");
            Measurement m = new Measurement(System.currentTimeMillis(), "spool", Status.DROPPED, message, values,
                    Map.of(), Map.of("reason", reason));
            for (Sample s : stamper.stamp("agent/spool", "agent", List.of(m), 0, 0, false)) {
                out.add(SampleJson.toJson(s).getBytes(StandardCharsets.UTF_8));
            }
        }
        return out;
    }
}
