package io.aegisquartz.schedule;

import io.aegisquartz.config.ConfigProblem;
import io.aegisquartz.config.CronFile;
import io.aegisquartz.config.JobSource;
import io.aegisquartz.config.JobSpec;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a (re)load changes, computed from the jobs running now and the cron files as parsed.
 *
 * <p>The rules, per file, so that a broken file (the user file, a drop-in) never touches the jobs of
 * another:
 * <ul>
 *   <li>good lines define the file's jobs;</li>
 *   <li>a job whose line now has errors keeps its last good definition;</li>
 *   <li>if some bad line cannot even be identified (it may be an edit of any job), no job of that
 *       file is removed;</li>
 *   <li>a file that cannot be read keeps all of its jobs;</li>
 *   <li>a job with the same name (or, unnamed, the same plugin and arguments) as a job of a file
 *       read before it is an error on the later line, naming the earlier one. Files are read in the
 *       order given: the default file, the user file, then the drop-ins by name.</li>
 * </ul>
 */
public final class ReloadPlan {

    private final Map<String, JobSpec> next = new LinkedHashMap<>();
    private final List<JobSpec> added = new ArrayList<>();
    private final List<JobSpec[]> changed = new ArrayList<>();
    private final List<JobSpec> removed = new ArrayList<>();
    private final List<JobSpec> unchanged = new ArrayList<>();
    private final List<ConfigProblem> problems = new ArrayList<>();
    private final List<ConfigProblem> warnings = new ArrayList<>();
    private final List<String> kept = new ArrayList<>();

    private ReloadPlan() {
    }

    /**
     * @param current jobs scheduled now, by key (empty at start-up)
     * @param files   the cron files in the order they are read
     */
    public static ReloadPlan compute(Map<String, JobSpec> current, List<CronFile> files) {
        ReloadPlan p = new ReloadPlan();
        for (CronFile f : files) {
            p.file(current, f);
        }
        for (JobSpec j : p.next.values()) {
            JobSpec old = current.get(j.key());
            if (old == null) {
                p.added.add(j);
            } else if (!old.sameDefinition(j)) {
                p.changed.add(new JobSpec[] {old, j});
            } else {
                p.unchanged.add(j);
            }
        }
        for (JobSpec j : current.values()) {
            if (!p.next.containsKey(j.key())) {
                p.removed.add(j);
            }
        }
        return p;
    }

    private void file(Map<String, JobSpec> current, CronFile file) {
        Map<String, JobSpec> mine = new LinkedHashMap<>();
        current.values().stream().filter(file::defined).forEach(j -> mine.put(j.key(), j));
        problems.addAll(file.problems());
        warnings.addAll(file.warnings());
        if (!file.readable()) {
            mine.forEach(next::putIfAbsent);
            if (!mine.isEmpty()) {
                kept.add("keeping all " + mine.size() + " job(s) from " + file.file() + " until it can be read again");
            }
            return;
        }
        Map<String, JobSpec> desired = new LinkedHashMap<>();
        List<String> badKeys = new ArrayList<>(file.badKeys());
        for (JobSpec j : file.jobs()) {
            JobSpec clash = next.get(j.key());
            if (clash != null) {
                problems.add(new ConfigProblem(j.file(), j.line(), 1, "job '" + j.name() + "' is already defined in "
                        + clash.where(), clash.source() == JobSource.DEFAULT
                        ? "give this line a different name=..., or edit the default job instead"
                        : "give one of the two lines a different name=..., or remove one of them"));
                badKeys.add(j.key());
                continue;
            }
            desired.put(j.key(), j);
        }
        for (String key : badKeys) {
            JobSpec old = mine.get(key);
            if (old != null && !desired.containsKey(key) && !next.containsKey(key)) {
                desired.put(key, old);
                kept.add("job " + old.name() + ": its line now has errors; keeping its last good definition");
            }
        }
        if (file.unidentifiedBad()) {
            for (JobSpec old : mine.values()) {
                if (!desired.containsKey(old.key()) && !next.containsKey(old.key())) {
                    desired.put(old.key(), old);
                    kept.add("job " + old.name() + " is no longer in " + file.file()
                            + ", but that file has a line with errors that may be its edit; keeping it until the errors are fixed");
                }
            }
        }
        next.putAll(desired);
    }

    /** The jobs to run after this reload, by key. */
    public Map<String, JobSpec> next() {
        return Collections.unmodifiableMap(next);
    }

    public List<JobSpec> added() {
        return added;
    }

    /** Pairs of {old, new}. */
    public List<JobSpec[]> changed() {
        return changed;
    }

    public List<JobSpec> removed() {
        return removed;
    }

    public List<JobSpec> unchanged() {
        return unchanged;
    }

    public List<ConfigProblem> problems() {
        return problems;
    }

    /** Things worth fixing in the cron files that disable nothing. */
    public List<ConfigProblem> warnings() {
        return warnings;
    }

    /** Notes about jobs kept despite errors. */
    public List<String> kept() {
        return kept;
    }

    /** What differs between two definitions of a job, e.g. "cron [a] -> [b], timeout=5s -> timeout=10s". */
    public static String describeChange(JobSpec a, JobSpec b) {
        List<String> parts = new ArrayList<>();
        if (!a.cron().equals(b.cron())) {
            parts.add("cron [" + a.cron() + "] -> [" + b.cron() + "]");
        }
        if (!a.options().equals(b.options())) {
            parts.add(a.options().diff(b.options()));
        }
        if (!a.file().equals(b.file())) {
            parts.add("moved from " + a.file() + " to " + b.file());
        }
        if (!a.pluginRef().equals(b.pluginRef()) || !a.pluginPath().equals(b.pluginPath())) {
            parts.add("plugin " + a.pluginRef() + " -> " + b.pluginRef());
        }
        if (!a.args().equals(b.args())) {
            parts.add("arguments");
        }
        return parts.isEmpty() ? "definition" : String.join(", ", parts);
    }
}
