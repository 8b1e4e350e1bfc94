package io.aegisquartz.config;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * A parsed cron file: the good jobs, the problems, and enough about the bad lines to reload safely.
 *
 * @param source          which file
 * @param file            its path (for a drop-in directory that cannot be listed, the directory's)
 * @param jobs            jobs from lines without problems
 * @param problems        every problem found; each disables its line (or, at line 0, the whole file)
 * @param warnings        things worth fixing that disable nothing (a job name cut to its maximum length)
 * @param badKeys         keys of jobs whose lines have problems but could still be identified; on reload
 *                        such jobs keep their last good definition
 * @param unidentifiedBad true if some bad line could not even be identified; on reload no job of this
 *                        file is removed, since the bad line may be an edit of it
 * @param readable        false if the file could not be read at all
 */
public record CronFile(JobSource source, Path file, List<JobSpec> jobs, List<ConfigProblem> problems, List<ConfigProblem> warnings,
                       Set<String> badKeys, boolean unidentifiedBad, boolean readable) {

    /**
     * Whether {@code job} was defined by this file: its path is the file's, or, for a drop-in directory
     * that could not be listed, lies inside it (so its jobs are kept until it can be read again).
     */
    public boolean defined(JobSpec job) {
        return job.file().startsWith(file);
    }
}
