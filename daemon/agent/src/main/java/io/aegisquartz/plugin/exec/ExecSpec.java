package io.aegisquartz.plugin.exec;

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
 */
public record ExecSpec(List<String> command, Path workDir, Map<String, String> env, Duration timeout, Duration cpu,
                       Duration grace, long outputMax) {

    public ExecSpec {
        command = List.copyOf(command);
        env = Map.copyOf(env);
    }
}
