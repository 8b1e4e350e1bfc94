package io.aegisquartz.api;

/**
 * Outcome of {@link SampleContext#exec}.
 *
 * @param exitCode  the command's exit code; 128+N if killed by signal N; -1 if it could not start
 * @param stdout    standard output, decoded as UTF-8, cut at the run's output cap
 * @param stderr    the last few KiB of standard error
 * @param timedOut  true if the command was killed at its timeout
 * @param truncated true if stdout was cut at the output cap
 */
public record CommandResult(int exitCode, String stdout, String stderr, boolean timedOut, boolean truncated) {

    /** True if the command ran to completion with exit code 0. */
    public boolean ok() {
        return exitCode == 0 && !timedOut;
    }
}
