package io.aegisquartz.plugin.exec;

/**
 * How a command run ended and what it printed.
 *
 * @param ending    how it ended
 * @param exitCode  the command's exit code (128+N if a signal N ended it), -1 if it never started or
 *                  the agent had to stop it
 * @param detail    a short explanation for anything but a plain exit
 * @param stdout    standard output, at most the cap
 * @param truncated true if standard output was longer than the cap
 * @param stderr    the first and the last few KiB of the standard error the agent read (at most 1 MiB)
 * @param wallNanos wall time from start to end
 * @param cpuNanos  CPU time of the command and its children (with a cgroup per run: of every process of the
 *                  run, from cpu.stat), -1 if unknown
 */
public record ExecOutcome(Ending ending, int exitCode, String detail, byte[] stdout, boolean truncated, String stderr,
                          long wallNanos, long cpuNanos) {

    /** The ways a run can end. */
    public enum Ending {
        /** The command exited by itself (any exit code, including death by a signal we did not send). */
        EXITED,
        /** We stopped it at its wall-time limit. */
        TIMEOUT,
        /** RLIMIT_CPU stopped it. */
        CPU_LIMIT,
        /** A signal we did not send at a limit ended it (the OOM killer, SIGPIPE after an output cap, an operator), or its wrapper. */
        KILLED,
        /** It could not be started at all. */
        NOT_STARTED
    }
}
