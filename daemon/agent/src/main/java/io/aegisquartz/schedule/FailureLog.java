package io.aegisquartz.schedule;

import io.aegisquartz.config.Units;
import io.aegisquartz.log.LogText;
import io.aegisquartz.sample.Status;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;

/**
 * Logs a job's failures the way a person tailing the log wants them: the first failure in full, a
 * change in how it fails, a periodic summary while it keeps failing, and the recovery. Everything in
 * between goes to debug.
 */
final class FailureLog {

    private static final Logger LOG = LoggerFactory.getLogger("job");
    private static final DateTimeFormatter CLOCK = DateTimeFormatter.ofPattern("HH:mm:ss").withZone(ZoneId.systemDefault());

    private final String job;
    private final long summaryMillis;
    private Status failingWith;
    private long since;
    private int count;
    private long lastLogged;

    FailureLog(String job, Duration summaryInterval) {
        this.job = job;
        this.summaryMillis = summaryInterval.toMillis();
    }

    /**
     * Records a run's outcome.
     *
     * @param backoffNote text about a backoff this run started, or null
     */
    synchronized void record(Status outcome, String rawReason, long nowMillis, String backoffNote) {
        // The reason quotes the plugin (its message, its exception, its stderr): escaped, one line.
        String reason = rawReason == null ? null : LogText.escape(rawReason);
        String suffix = backoffNote == null ? "" : "; " + backoffNote;
        if (!outcome.isRunFailure()) {
            if (failingWith != null) {
                LOG.info("job {} recovered after {} failed run(s) over {}", job, count, Units.format(Duration.ofMillis(nowMillis - since)));
                failingWith = null;
                count = 0;
            }
            return;
        }
        if (failingWith == null) {
            failingWith = outcome;
            since = nowMillis;
            count = 1;
            lastLogged = nowMillis;
            LOG.warn("job {} failed: {}{}", job, reason, suffix);
            return;
        }
        count++;
        if (outcome != failingWith) {
            failingWith = outcome;
            lastLogged = nowMillis;
            LOG.warn("job {} failed differently: {} ({} failures since {}){}", job, reason, count, clock(since), suffix);
        } else if (backoffNote != null) {
            lastLogged = nowMillis;
            LOG.warn("job {} failed {} times in a row since {}: {}{}", job, count, clock(since), reason, suffix);
        } else if (nowMillis - lastLogged >= summaryMillis) {
            lastLogged = nowMillis;
            LOG.warn("job {} still failing: {} failures since {}; last: {}", job, count, clock(since), reason);
        } else {
            LOG.debug("job {} failed again ({} since {}): {}", job, count, clock(since), reason);
        }
    }

    /** Local wall-clock time, HH:mm:ss. */
    static String clock(long epochMillis) {
        return CLOCK.format(Instant.ofEpochMilli(epochMillis));
    }
}
