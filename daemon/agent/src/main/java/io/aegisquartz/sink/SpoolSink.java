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
    private long lost;

    public SpoolSink(Spool spool) {
        this.spool = spool;
    }

    @Override
    public synchronized boolean write(List<Sample> samples) {
        List<byte[]> records = new ArrayList<>(samples.size() + 1);
        for (Sample s : samples) {
            records.add(SampleJson.toJson(s).getBytes(StandardCharsets.UTF_8));
        }
        try {
            spool.append(records);
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
}
