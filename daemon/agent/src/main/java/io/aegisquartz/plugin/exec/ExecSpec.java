package io.aegisquartz.plugin.exec;

import io.aegisquartz.config.RunAs;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * How to run one command.
 *
 * @param command   program and arguments (no shell)
 * @param workDir   working directory
 * @param env       the complete environment (nothing is inherited)
 * @param timeout   wall-time limit; every process of the run gets SIGTERM at it
 * @param cpu       CPU-time limit per process (RLIMIT_CPU, rounded up to whole seconds)
 * @param grace     time between SIGTERM and SIGKILL
 * @param outputMax bytes of standard output kept; past them the agent closes the pipe
 * @param user      the local user to run as; null: the agent's own
 * @param memoryMax memory.max of the run's cgroup in bytes, where the memory controller is on; 0: none
 * @param pidsMax   pids.max of the run's cgroup, where the pids controller is on; 0: none
 * @param owner     who the run is for (the job's key): pipe readers are capped per owner, so one job's
 *                  runs cannot take every reader; null: only the overall cap
 */
public record ExecSpec(List<String> command, Path workDir, Map<String, String> env, Duration timeout, Duration cpu,
                       Duration grace, long outputMax, RunAs user, long memoryMax, long pidsMax, Object owner) {

    /** A command run as the agent's own user, without cgroup limits or an owner. */
    public ExecSpec(List<String> command, Path workDir, Map<String, String> env, Duration timeout, Duration cpu,
                    Duration grace, long outputMax) {
        this(command, workDir, env, timeout, cpu, grace, outputMax, null, 0, 0, null);
    }

    public ExecSpec {
        command = List.copyOf(command);
        env = Map.copyOf(env);
    }
}
