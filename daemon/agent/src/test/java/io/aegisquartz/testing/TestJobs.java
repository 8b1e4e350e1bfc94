package io.aegisquartz.testing;

import io.aegisquartz.config.AgentSettings;
import io.aegisquartz.config.JobOptions;
import io.aegisquartz.config.JobSource;
import io.aegisquartz.config.JobSpec;
import io.aegisquartz.plugin.RunResult;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;

/** Builds jobs and plugin files for tests, the way a cron line and an operator would. */
public final class TestJobs {

    private TestJobs() {
    }

    /** The message of a run's last sample: where a run's outcome is told (an error, a kill, a limit). */
    public static String message(RunResult r) {
        return r.measurements().get(r.measurements().size() - 1).message();
    }

    /** The limits a job gets from an empty aegis_config.ini. */
    public static JobOptions defaults() {
        return AgentSettings.defaults(Path.of("/nonexistent"), Path.of("/nonexistent/conf")).defaultJobOptions();
    }

    /** A job running {@code plugin} with {@code args} under {@code options}. */
    public static JobSpec job(Path plugin, JobOptions options, String... args) {
        return new JobSpec(JobSource.USER, plugin.resolveSibling("aegis_quartz.conf.user"), 1, plugin.toString(),
                plugin.getFileName().toString(), "* * * * * ?", "user/" + plugin.getFileName(), plugin, 1, List.of(args), options);
    }

    /** Defaults with a wall-time and a CPU limit. */
    public static JobOptions limits(Duration timeout, Duration cpu) {
        return defaults().withTimeout(timeout).withCpu(cpu).withKillGrace(Duration.ofMillis(500));
    }

    /** Writes an executable script. */
    public static Path script(Path dir, String name, String text) {
        try {
            Path p = dir.resolve(name);
            Files.writeString(p, text);
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
            return p;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Pids listed one per line in {@code file} (written by test plugins with 'echo $$ >> file'). */
    public static List<Long> pids(Path file) {
        try {
            return Files.readAllLines(file).stream().map(String::strip).filter(s -> !s.isEmpty()).map(Long::valueOf).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** True if a process with this pid exists and is not a zombie. */
    public static boolean alive(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            return stat.charAt(stat.lastIndexOf(')') + 2) != 'Z';
        } catch (IOException e) {
            return false;
        }
    }
}
