package io.aegisquartz.config;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * A parsed cron file: the good jobs, the problems, and enough about the bad lines to reload safely.
 *
 * @param source          which file
 * @param file            its path
 * @param jobs            jobs from lines without problems
 * @param problems        every problem found
 * @param badKeys         keys of jobs whose lines have problems but could still be identified; on reload
 *                        such jobs keep their last good definition
 * @param unidentifiedBad true if some bad line could not even be identified; on reload no job of this
 *                        file is removed, since the bad line may be an edit of it
 * @param readable        false if the file could not be read at all
 */
public record CronFile(JobSource source, Path file, List<JobSpec> jobs, List<ConfigProblem> problems,
                       Set<String> badKeys, boolean unidentifiedBad, boolean readable) {
}
