package io.aegisquartz.plugin.exec;

import io.aegisquartz.api.CommandResult;
import io.aegisquartz.config.JobSpec;
import io.aegisquartz.plugin.CommandRunner;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

/** A command an in-JVM plugin runs, as a process in its own session under the job's limits. */
public final class ProcessCommands implements CommandRunner {

    private final ProcessRunner processes;

    public ProcessCommands(ProcessRunner processes) {
        this.processes = processes;
    }

    @Override
    public CommandResult run(JobSpec job, List<String> command, Duration limit) throws InterruptedException {
        ExecSpec spec = new ExecSpec(command, job.pluginPath().getParent(), ExecPlugin.environment(job, job.pluginPath().getParent()),
                limit, job.options().cpu(), job.options().killGrace(), job.options().outputMax(), null,
                job.options().memoryMax(), job.options().pidsMax(), job.key());
        ExecOutcome o = processes.run(spec);
        int code = o.ending() == ExecOutcome.Ending.EXITED ? o.exitCode() : o.ending() == ExecOutcome.Ending.NOT_STARTED ? -1
                : o.exitCode();
        String stderr = o.ending() == ExecOutcome.Ending.EXITED ? o.stderr() : (o.stderr() + "\n" + o.detail()).strip();
        return new CommandResult(code, new String(o.stdout(), StandardCharsets.UTF_8), stderr,
                o.ending() == ExecOutcome.Ending.TIMEOUT, o.truncated());
    }
}
