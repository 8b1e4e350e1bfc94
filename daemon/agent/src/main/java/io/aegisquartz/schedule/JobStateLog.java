package io.aegisquartz.schedule;

import io.aegisquartz.config.Units;
import io.aegisquartz.log.LogText;
import io.aegisquartz.plugin.RunResult;
import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Status;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;

/**
 * A job's results in the log, the way Nagios logs its SERVICE ALERT lines: one line each time the
 * job's state changes, never one per run.
 *
 * <p>A job's state is that of its last run: the failure status if the run failed (error, timeout,
 * cpu_limit, killed), else the worst status among the samples it emitted (ok &lt; warning &lt;
 * critical &lt; unknown, as Nagios exit codes rank them). One state per job, not per metric: a job
 * that reports 300 processes would otherwise log a line for every one that flaps, and an operator
 * thinks in checks, not metrics. The line carries the message of the sample that set the state.
 *
 * <p>Lines, all on the {@code job} logger:
 * <ul>
 *   <li>{@code job NAME: OLD -> NEW: MESSAGE (OLD for DURATION, N runs)} at each change; WARN, or
 *       INFO when NEW is ok. OLD is {@code pending} for the first run after a start, which is logged
 *       only if it is not ok.</li>
 *   <li>while a job keeps failing the same way: a line when a backoff starts, then a summary at most
 *       every {@code [log] failure_summary}; the runs in between go to DEBUG.</li>
 * </ul>
 * Every run failure is in exactly one of these lines; there is no second style of failure line.
 */
final class JobStateLog {

    private static final Logger LOG = LoggerFactory.getLogger("job");
    private static final DateTimeFormatter CLOCK = DateTimeFormatter.ofPattern("HH:mm:ss").withZone(ZoneId.systemDefault());

    private final long summaryMillis;
    /** The last run's state; null before the first run since the agent started. */
    private Status state;
    private long since;
    private long runsInState;
    private long lastLogged;

    JobStateLog(Duration summaryInterval) {
        this.summaryMillis = summaryInterval.toMillis();
    }

    /** The state of a finished run: its failure status, else the worst status among its samples. */
    static Status stateOf(RunResult r) {
        return decisive(r).status();
    }

    /** The sample that sets a run's state: the failure's, else the first with the worst status. */
    static Measurement decisive(RunResult r) {
        Measurement worst = null;
        for (Measurement m : r.measurements()) {
            if (r.failed() ? m.status() == r.outcome() : worst == null || m.status().exitCode() > worst.status().exitCode()) {
                worst = m;
                if (r.failed()) {
                    break;
                }
            }
        }
        // RunResult always holds at least one measurement, and the failure's own when it failed.
        return worst != null ? worst : Measurement.status(System.currentTimeMillis(), "", r.outcome(), r.reason());
    }

    /** The state of the last run, or null before the first. */
    synchronized Status state() {
        return state;
    }

    /**
     * Records a run that ended in {@code now}.
     *
     * @param job         the job's name as logged
     * @param message     the message of the sample that set the state (plugin text: escaped here), or null
     * @param backoffNote text about a backoff this run started, or null
     */
    synchronized void record(String job, Status now, String message, long nowMillis, String backoffNote) {
        String text = message == null || message.isEmpty() ? "" : ": " + LogText.escape(message);
        String suffix = backoffNote == null ? "" : "; " + backoffNote;
        if (now != state) {
            if (state != null || now != Status.OK) {
                long seconds = Math.max(0, nowMillis - since) / 1000;
                String was = state == null ? "" : " (" + state.wire() + " for " + (seconds == 0 ? "0s" : Units.format(Duration.ofSeconds(seconds)))
                        + ", " + runsInState + (runsInState == 1 ? " run)" : " runs)");
                String line = "job " + job + ": " + (state == null ? "pending" : state.wire()) + " -> " + now.wire() + text + was + suffix;
                if (now == Status.OK) {
                    LOG.info(line);
                } else {
                    LOG.warn(line);
                }
            }
            state = now;
            since = nowMillis;
            runsInState = 1;
            lastLogged = nowMillis;
            return;
        }
        runsInState++;
        if (!now.isRunFailure()) {
            return;
        }
        if (backoffNote != null) {
            lastLogged = nowMillis;
            LOG.warn("job {}: still {}, {} runs since {}{}{}", job, now.wire(), runsInState, clock(since), text, suffix);
        } else if (nowMillis - lastLogged >= summaryMillis) {
            lastLogged = nowMillis;
            LOG.warn("job {}: still {}, {} runs since {}; last{}", job, now.wire(), runsInState, clock(since), text);
        } else {
            LOG.debug("job {}: still {} ({} runs since {}){}", job, now.wire(), runsInState, clock(since), text);
        }
    }

    /** Local wall-clock time, HH:mm:ss. */
    static String clock(long epochMillis) {
        return CLOCK.format(Instant.ofEpochMilli(epochMillis));
    }
}
