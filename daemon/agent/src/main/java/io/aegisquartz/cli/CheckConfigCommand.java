package io.aegisquartz.cli;

import io.aegisquartz.config.AgentSettings;
import io.aegisquartz.config.ConfigProblem;
import io.aegisquartz.config.CronFileParser;
import io.aegisquartz.config.JobSource;
import io.aegisquartz.config.HostIdentity;
import io.aegisquartz.config.JobSpec;
import io.aegisquartz.config.StrictModes;
import io.aegisquartz.config.Units;
import io.aegisquartz.plugin.PluginCatalog;
import io.aegisquartz.plugin.PluginException;
import io.aegisquartz.plugin.RunnerThreads;
import io.aegisquartz.schedule.ReloadPlan;
import io.aegisquartz.schedule.Splay;
import org.quartz.CronExpression;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Checks everything the agent reads, the way the agent would read it, and prints every problem. */
final class CheckConfigCommand implements Command {

    @Override
    public String name() {
        return "check-config";
    }

    @Override
    public String summary() {
        return "Check aegis_config.ini, the cron files and their plugins; exit 1 on any problem";
    }

    @Override
    public String help() {
        return """
                Usage: aegis-quartz check-config [--quiet]

                Reads aegis_config.ini, aegis_quartz.conf.default, aegis_quartz.conf.user and the
                drop-in files aegis_quartz.conf.d/*.conf as the agent would, compiles every Groovy
                plugin, opens every JAR plugin, checks that every other plugin is executable and that
                the log and sample directories are writable. Prints each problem as
                FILE:LINE:COLUMN: message, with the fix on the next line.

                Exits 0 if there is no problem, 1 otherwise. The service runs this before it starts
                and before it reloads, so a broken edit never reaches a running agent.

                Options:
                  --quiet   print only problems (no job list)
                """;
    }

    @Override
    public int run(Cli cli, List<String> args) throws UsageException {
        Args a = new Args(name(), args, Set.of(), Set.of("--quiet"), false);
        AgentSettings settings = cli.settings();
        List<ConfigProblem> problems = new ArrayList<>(settings.problems());

        ReloadPlan plan = ReloadPlan.compute(Map.of(), new CronFileParser(settings, new Date()).parseAll());
        problems.addAll(plan.problems());

        try (RunnerThreads threads = new RunnerThreads(4); PluginCatalog catalog = PluginCatalog.create(threads, settings)) {
            for (JobSpec job : plan.next().values()) {
                try {
                    catalog.check(job);
                } catch (PluginException e) {
                    problems.add(new ConfigProblem(job.file(), job.line(), job.pluginColumn(), e.getMessage(), e.fix()));
                }
            }
        }
        writable(settings, "log.file", problems);
        writable(settings, "sink.file", problems);
        ConfigProblem identity = HostIdentity.problem(settings.uuidFile());
        if (identity != null) {
            problems.add(identity);
        }

        for (ConfigProblem p : problems) {
            cli.out().println(p.format());
        }
        for (ConfigProblem w : plan.warnings()) {
            cli.out().println("warning: " + w.format());
        }
        StrictModes.Sweep refused = StrictModes.of(settings).sweep();
        if (refused != null) {
            cli.out().println(refused.message());
        }
        String counts = counts(plan);
        if (!problems.isEmpty()) {
            cli.out().println(problems.size() + " problem(s) found. Lines with problems are skipped; the agent would run "
                    + plan.next().size() + " job(s) (" + counts + ").");
            return Cli.PROBLEMS;
        }
        cli.out().println("configuration OK: " + plan.next().size() + " job(s) (" + counts + ")");
        if (!a.flag("--quiet")) {
            // With the identity the agent has, or will derive at its first start, the splayed times are the agent's own.
            String uuid = HostIdentity.peek(settings.uuidFile());
            for (JobSpec j : plan.next().values()) {
                cli.out().printf("  [%s] %s  next %s  (%s)%n", j.cron(), j.name(), next(j, uuid), j.where());
            }
        }
        return Cli.OK;
    }

    /** "2 default, 1 user" and ", 3 drop-in" when there are drop-in jobs. */
    private static String counts(ReloadPlan plan) {
        Map<JobSource, Long> by = new java.util.EnumMap<>(JobSource.class);
        plan.next().values().forEach(j -> by.merge(j.source(), 1L, Long::sum));
        return by.getOrDefault(JobSource.DEFAULT, 0L) + " default, " + by.getOrDefault(JobSource.USER, 0L) + " user"
                + (by.containsKey(JobSource.DROPIN) ? ", " + by.get(JobSource.DROPIN) + " drop-in" : "");
    }

    /** The job's next fire time as the agent would fire it: splayed, if the host's uuid can be known now. */
    private static String next(JobSpec j, String uuid) {
        try {
            CronExpression cron = new CronExpression(j.cron());
            Date now = new Date();
            if (uuid == null && !j.options().splay().isZero()) {
                return Splay.describe(cron.getTimeAfter(now), 0) + " (+ a splay of up to " + Units.format(j.options().splay())
                        + ", set by the host uuid made at the first start)";
            }
            long offset = j.options().splay().isZero() ? 0 : Splay.offsetMillis(uuid, j.name(), j.options().splay(), cron, now);
            return Splay.describe(Splay.next(cron, offset, now), offset);
        } catch (java.text.ParseException e) {
            return "?";
        }
    }

    private static void writable(AgentSettings settings, String id, List<ConfigProblem> problems) {
        Path file = settings.path(id);
        Path dir = file.getParent();
        while (dir != null && !Files.exists(dir)) {
            dir = dir.getParent();
        }
        boolean ok = dir != null && Files.isWritable(dir) && (!Files.exists(file) || Files.isWritable(file));
        if (!ok) {
            String[] parts = id.split("\\.");
            problems.add(new ConfigProblem(settings.file(), 0, 0, "[" + parts[0] + "] " + parts[1] + ": " + file
                    + " is not writable by this user", "fix the directory's owner or mode, or point " + parts[1] + " elsewhere"));
        }
    }
}
