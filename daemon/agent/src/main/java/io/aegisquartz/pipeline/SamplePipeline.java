package io.aegisquartz.pipeline;

import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Sample;
import io.aegisquartz.sample.SampleJson;
import io.aegisquartz.sample.Status;
import io.aegisquartz.spool.Spool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The write path: stamp → append (durable) → taps. Callers stamp a run's measurements into samples
 * ({@link io.aegisquartz.sample.SampleStamper}: id, host, job, cost); {@link #write} appends them to
 * the spool as one append, which returns once they are on stable storage, and only then hands them
 * to the taps. That is when a run counts as collected. Outputs read the spool, each through its own
 * cursor, and are never called from here.
 *
 * <p>No lock of its own: runs that finish together append concurrently, so they share the spool's
 * fsync (group commit).
 *
 * <p>A sample whose JSON is larger than the spool's record limit (docs/SPOOL.md) is replaced by an
 * {@code error} sample of the same job and metric saying so, rather than failing the whole run.
 */
public final class SamplePipeline implements SampleSink {

    private static final Logger LOG = LoggerFactory.getLogger("spool");

    private final Spool spool;
    private final List<SampleTap> taps;
    private final AtomicLong lost = new AtomicLong();

    public SamplePipeline(Spool spool, List<SampleTap> taps) {
        this.spool = spool;
        this.taps = List.copyOf(taps);
    }

    @Override
    public boolean write(List<Sample> samples) {
        if (samples.isEmpty()) {
            return true;
        }
        List<Sample> stored = samples;
        List<byte[]> records = new ArrayList<>(samples.size());
        for (int i = 0; i < samples.size(); i++) {
            Sample s = samples.get(i);
            byte[] json = SampleJson.toJson(s).getBytes(StandardCharsets.UTF_8);
            if (json.length > spool.maxRecordBytes()) {
                if (stored == samples) {
                    stored = new ArrayList<>(samples);
                }
                LOG.warn("job {}: a sample of {} bytes (metric {}) is larger than the spool's record limit of {} bytes; "
                        + "stored as an error sample without its values", s.job(), json.length, s.metric(), spool.maxRecordBytes());
                Sample small = tooLarge(s, json.length);
                stored.set(i, small);
                json = SampleJson.toJson(small).getBytes(StandardCharsets.UTF_8);
            }
            records.add(json);
        }
        try {
            spool.append(records);
        } catch (IOException | RuntimeException e) {
            long total = lost.addAndGet(samples.size());
            LOG.error("{} sample(s) lost: the spool could not store them: {} ({} lost since start)", samples.size(),
                    e.getMessage(), total);
            return false;
        }
        tap(stored);
        return true;
    }

    /**
     * Hands samples that are durable without an append of theirs to the taps: the {@code dropped}
     * samples an output's worker builds from the spool's drop reports, which are kept in the cursor's
     * checkpoint (docs/SPOOL.md), not as records (a record would be charged to every output, and could
     * itself be dropped). A report taken again after a restart comes again, with the same sample id.
     */
    public void tap(List<Sample> samples) {
        for (SampleTap t : taps) {
            try {
                t.stored(samples);
            } catch (RuntimeException e) {
                LOG.error("sample tap {} failed", t.getClass().getName(), e);
            }
        }
    }

    private Sample tooLarge(Sample s, int bytes) {
        Measurement m = s.measurement();
        String why = "sample of " + bytes + " bytes is larger than the spool's record limit of " + spool.maxRecordBytes()
                + " bytes ([spool] max_size sets it, docs/SPOOL.md); its values, units and tags are not stored";
        String metric = m.metric().length() > 200 ? m.metric().substring(0, 200) : m.metric();
        return new Sample(s.id(), s.hostUuid(), s.hostname(), s.job(), s.plugin(), s.durationMs(), s.cpuMs(), s.truncated(),
                Measurement.status(m.timeMillis(), metric, Status.ERROR, why));
    }

    /** Samples lost because the spool refused them, since start. */
    public long lost() {
        return lost.get();
    }
}
