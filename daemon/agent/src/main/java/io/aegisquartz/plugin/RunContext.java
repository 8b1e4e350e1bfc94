package io.aegisquartz.plugin;

import io.aegisquartz.api.CommandResult;
import io.aegisquartz.api.SampleBuilder;
import io.aegisquartz.api.SampleContext;
import io.aegisquartz.config.JobSpec;
import io.aegisquartz.log.LogText;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.List;
import java.util.Map;

/** The {@link SampleContext} an in-JVM plugin sees during one run. */
public final class RunContext implements SampleContext {

    /** Log lines one run may write; a plugin logging in a loop must not flood the agent log. */
    static final int MAX_LOG_LINES = 20;
    private static final Logger LOG = LoggerFactory.getLogger("plugin");

    private final JobSpec job;
    private final JobMemory memory;
    private final MeasurementCollector collector;
    private final CommandRunner commands;
    private volatile RunBudget budget;
    private int logLines;

    public RunContext(JobSpec job, JobMemory memory, MeasurementCollector collector, CommandRunner commands) {
        this.job = job;
        this.memory = memory;
        this.collector = collector;
        this.commands = commands;
    }

    void bind(RunBudget b) {
        this.budget = b;
    }

    @Override
    public List<String> args() {
        return job.args();
    }

    @Override
    public String job() {
        return job.name();
    }

    @Override
    public SampleBuilder sample(String metric) {
        return collector.builder(metric);
    }

    @Override
    public void log(String message) {
        if (allowLog()) {
            LOG.info("job {}: {}", job.name(), LogText.escape(message));
        }
    }

    @Override
    public void warn(String message) {
        if (allowLog()) {
            LOG.warn("job {}: {}", job.name(), LogText.escape(message));
        }
    }

    private synchronized boolean allowLog() {
        logLines++;
        if (logLines == MAX_LOG_LINES + 1) {
            LOG.warn("job {}: more than {} log lines in one run; the rest of this run's are dropped", job.name(), MAX_LOG_LINES);
        }
        return logLines <= MAX_LOG_LINES;
    }

    @Override
    public Map<String, Object> state() {
        return memory.state();
    }

    @Override
    public Duration timeLeft() {
        RunBudget b = budget;
        return b == null ? job.options().timeout() : Duration.ofNanos(b.remainingNanos());
    }

    @Override
    public boolean stopRequested() {
        RunBudget b = budget;
        return (b != null && b.stopReason() != null) || Thread.currentThread().isInterrupted();
    }

    @Override
    public CommandResult exec(List<String> command, Duration timeout) throws InterruptedException {
        if (command.isEmpty()) {
            throw new IllegalArgumentException("exec needs a command");
        }
        Duration limit = timeout.compareTo(timeLeft()) < 0 ? timeout : timeLeft();
        CommandResult r = commands.run(job, command, limit);
        if (r.truncated()) {
            collector.markTruncated();
        }
        return r;
    }
}
