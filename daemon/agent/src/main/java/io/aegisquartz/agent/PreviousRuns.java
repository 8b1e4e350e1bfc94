package io.aegisquartz.agent;

import io.aegisquartz.journal.CrashReview;
import io.aegisquartz.journal.PreviousExit;
import io.aegisquartz.journal.QuarantineRecords;
import io.aegisquartz.journal.RunJournal;
import io.aegisquartz.sample.Measurement;
import io.aegisquartz.pipeline.SampleSink;
import io.aegisquartz.sample.SampleStamper;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * At start: reports the runs the previous agent was doing when it ended (one sample and one log line
 * each), quarantines the run that ended it, then starts this agent's journal (docs/JOURNAL.md).
 */
final class PreviousRuns {

    private static final Logger LOG = LoggerFactory.getLogger("agent");

    private PreviousRuns() {
    }

    /**
     * @return this agent's journal, or null if the state directory cannot hold one (logged: runs then go
     * unrecorded, and a crash would lose them without a word, as before the journal existed)
     */
    static RunJournal recover(Path stateDir, int workers, PreviousExit exit, QuarantineRecords records, SampleStamper stamper,
                              SampleSink sink) {
        RunJournal journal;
        try {
            journal = RunJournal.open(stateDir, workers);
        } catch (IOException e) {
            LOG.error("cannot keep the journal of runs in progress in {} ({}); a run interrupted by a crash will not be reported",
                    stateDir, e.getMessage());
            return null;
        }
        RunJournal.Previous previous = journal.previous();
        CrashReview.Result result;
        try {
            result = CrashReview.review(previous, exit, records, System.currentTimeMillis());
        } catch (IOException e) {
            LOG.error("cannot write a quarantine record in {} ({}); the job that ended the previous agent is not held", records.dir(),
                    e.getMessage());
            result = null;
        }
        if (result != null) {
            if (result.summary() != null) {
                LOG.warn(result.summary());
            }
            for (CrashReview.Report r : result.reports()) {
                LOG.warn("job {} was interrupted: {}", r.run().job(), r.message());
                String metric = metric(r.run().plugin());
                List<Measurement> m = List.of(Measurement.status(System.currentTimeMillis(), metric, r.status(), r.message()));
                if (!sink.write(stamper.stamp(r.run().job(), r.run().plugin(), m, 0, -1, false))) {
                    LOG.error("the sample about job {}'s interrupted run could not be stored", r.run().job());
                }
            }
        }
        try {
            journal.reset();
        } catch (IOException e) {
            LOG.error("cannot start the journal of runs in progress {} ({}); a run interrupted by a crash will not be reported",
                    journal.file(), e.getMessage());
            journal.close();
            return null;
        }
        return journal;
    }

    /** The metric of the agent's own samples for a plugin: its file name without extension, as for a failed run. */
    private static String metric(String pluginRef) {
        String f = pluginRef.substring(pluginRef.lastIndexOf('/') + 1);
        int dot = f.lastIndexOf('.');
        String m = dot > 0 ? f.substring(0, dot) : f;
        return m.matches("[A-Za-z_][A-Za-z0-9_.:-]{0,199}") ? m : "interrupted_run";
    }
}
