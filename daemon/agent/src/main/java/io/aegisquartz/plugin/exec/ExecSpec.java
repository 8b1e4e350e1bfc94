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
 * @param timeout   wall-time limit; the whole process session gets SIGTERM at it
 * @param cpu       CPU-time limit per process (RLIMIT_CPU, rounded up to whole seconds)
 * @param grace     time between SIGTERM and SIGKILL
 * @param outputMax bytes of standard output kept; the rest is read and dropped
 * @param user      the local user to run as; null: the agent's own
 */
public record ExecSpec(List<String> command, Path workDir, Map<String, String> env, Duration timeout, Duration cpu,
                       Duration grace, long outputMax, RunAs user) {

    /** A command run as the agent's own user. */
    public ExecSpec(List<String> command, Path workDir, Map<String, String> env, Duration timeout, Duration cpu,
                    Duration grace, long outputMax) {
        this(command, workDir, env, timeout, cpu, grace, outputMax, null);
    }

    public ExecSpec {
        command = List.copyOf(command);
        env = Map.copyOf(env);
    }
}
