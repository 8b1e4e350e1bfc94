package io.aegisquartz.plugin;

import io.aegisquartz.api.CommandResult;
import io.aegisquartz.config.JobSpec;

import java.time.Duration;
import java.util.List;

/**
 * Runs a command for an in-JVM plugin ({@code exec} of the plugin API) under the job's limits. An
 * interface here, implemented by the executable runner ({@code plugin.exec.ProcessCommands}), so
 * that the plugin core does not depend on one of its runners.
 */
public interface CommandRunner {

    /** Runs {@code command} for {@code job}, for at most {@code limit}; its output is capped as the job's. */
    CommandResult run(JobSpec job, List<String> command, Duration limit) throws InterruptedException;
}
