package io.aegisquartz.config;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * One job as written on a line of a cron file.
 *
 * @param source       which cron file
 * @param file         that file's path
 * @param line         1-based line number
 * @param key          identity used to match jobs across reloads: the {@code name=} option, else the
 *                     plugin path and arguments as written (never logged: arguments may hold secrets)
 * @param name         display name: the {@code name=} option, else the plugin path and arguments with
 *                     anything that looks like a secret masked
 * @param cron         the Quartz cron expression
 * @param pluginRef    the plugin path as written: default/..., user/... or absolute
 * @param pluginPath   the resolved plugin file
 * @param pluginColumn column of the plugin path on the line, for errors found when loading the plugin
 * @param args         arguments after the plugin path
 * @param options      limits and policies after applying the line's options
 * @param alert        whom the job's problems are notified to, and when (notify=, after=, repeat=)
 */
public record JobSpec(JobSource source, Path file, int line, String key, String name, String cron,
                      String pluginRef, Path pluginPath, int pluginColumn, List<String> args, JobOptions options,
                      AlertRule alert) {

    public JobSpec {
        args = List.copyOf(args);
        alert = alert == null ? AlertRule.NONE : alert;
    }

    /** A job that notifies nobody (run-plugin, tests). */
    public JobSpec(JobSource source, Path file, int line, String key, String name, String cron,
                   String pluginRef, Path pluginPath, int pluginColumn, List<String> args, JobOptions options) {
        this(source, file, line, key, name, cron, pluginRef, pluginPath, pluginColumn, args, options, AlertRule.NONE);
    }

    /**
     * True if both run the same plugin with the same arguments on the same schedule and limits, and
     * come from the same file (a job moved to another file is rescheduled, so that messages name its
     * new place). The alert rule is left out: a changed notify= takes effect at the reload without
     * rescheduling the job.
     */
    public boolean sameDefinition(JobSpec other) {
        return file.equals(other.file) && cron.equals(other.cron) && pluginRef.equals(other.pluginRef) && pluginPath.equals(other.pluginPath)
                && args.equals(other.args) && options.equals(other.options) && Objects.equals(name, other.name);
    }

    /** "file:line" for messages. */
    public String where() {
        return file + ":" + line;
    }

    /** Metric name used for samples the agent itself writes for this job (failures, skips). */
    public String defaultMetric() {
        String f = pluginPath.getFileName().toString();
        int dot = f.lastIndexOf('.');
        return dot > 0 ? f.substring(0, dot) : f;
    }
}
