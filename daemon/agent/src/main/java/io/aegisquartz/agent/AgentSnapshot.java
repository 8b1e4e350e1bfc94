package io.aegisquartz.agent;

import io.aegisquartz.governor.Governor;
import io.aegisquartz.schedule.JobStatus;
import io.aegisquartz.output.OutputState;

import java.nio.file.Path;
import java.util.List;

/**
 * The running agent at one moment, read-only: what {@code aegis-quartz status} reports
 * (docs/CONTROL.md). Taken without the agent's lock, so a reload compiling plugins never delays it.
 *
 * @param version       the agent's version
 * @param pid           its process id
 * @param startedMillis when it started (epoch ms)
 * @param takenMillis   when this snapshot was taken
 * @param started       false while the agent is still starting (loading plugins, scheduling jobs)
 * @param stopping      true once a stop has begun
 * @param home          the agent's home
 * @param settingsFile  aegis_config.ini
 * @param lastReload    the last (re)load of the cron files, start-up included
 * @param reloads       reloads since start (start-up not counted)
 * @param failedReloads reloads that found problems
 * @param governor      the governor's last reading, null before its first window
 * @param jobs          every scheduled job, in cron-file order
 * @param outputs       where samples go: each output's state (its pending samples, drops and failures are its own)
 * @param spool         the spool every output reads from, null before it is open
 */
public record AgentSnapshot(String version, long pid, long startedMillis, long takenMillis, boolean started, boolean stopping, Path home,
                            Path settingsFile, Reload lastReload, long reloads, long failedReloads, Governor.Reading governor,
                            List<JobStatus> jobs, List<OutputState> outputs, Spool spool) {

    public AgentSnapshot {
        jobs = List.copyOf(jobs);
        outputs = List.copyOf(outputs);
    }

    /**
     * One (re)load of the cron files and plugins.
     *
     * @param atMillis        when
     * @param why             what caused it ("start-up", "SIGHUP", the file that changed)
     * @param files           the cron files it read
     * @param problems        what it found wrong, one line each (file:line:column: message), at most {@value Agent#MAX_RELOAD_PROBLEMS}
     * @param problemCount    how many problems in all
     * @param added           jobs added
     * @param changed         jobs whose line changed
     * @param removed         jobs removed
     * @param settingsPending non-null if aegis_config.ini changed and waits for a restart: what to do
     */
    public record Reload(long atMillis, String why, List<Path> files, List<String> problems, int problemCount, int added,
                         int changed, int removed, String settingsPending) {

        public Reload {
            files = List.copyOf(files);
            problems = List.copyOf(problems);
        }

        /** This reload with its problems: the first {@value Agent#MAX_RELOAD_PROBLEMS} of {@code all}, and their count. */
        public Reload withProblems(List<String> all) {
            List<String> copy = List.copyOf(all);
            return new Reload(atMillis, why, files, copy.subList(0, Math.min(copy.size(), Agent.MAX_RELOAD_PROBLEMS)), copy.size(), added,
                    changed, removed, settingsPending);
        }
    }

    /**
     * The on-disk spool every output reads from (what each output has pending, and what the spool
     * dropped before it sent it, is in its {@link OutputState}).
     *
     * @param dir      its directory
     * @param bytes    its size on disk
     * @param maxBytes {@code [spool] max_size}
     * @param lost     samples the spool refused to store (a write failed), since start
     */
    public record Spool(Path dir, long bytes, long maxBytes, long lost) {
    }
}
