package io.aegisquartz.cli;

import io.aegisquartz.agent.Delivery;
import io.aegisquartz.config.AgentSettings;
import io.aegisquartz.config.ConfigProblem;
import io.aegisquartz.config.CronFile;
import io.aegisquartz.config.CronFileParser;
import io.aegisquartz.config.JobSource;
import io.aegisquartz.config.JobSpec;
import io.aegisquartz.plugin.catalog.PluginCatalog;
import io.aegisquartz.plugin.PluginException;
import io.aegisquartz.plugin.RunnerThreads;
import io.aegisquartz.schedule.ReloadPlan;
import org.quartz.CronExpression;

import java.nio.file.Files;
import java.nio.file.Path;
import java.text.SimpleDateFormat;
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

                Reads aegis_config.ini, aegis_quartz.conf.default and aegis_quartz.conf.user as the
                agent would, compiles every Groovy plugin, opens every JAR plugin, checks that every
                other plugin is executable, and checks what the agent's start checks of its outputs
                (credentials files, CA and client key files, endpoints, writable files) and of its
                log and spool directories, without changing anything.
                Prints each problem as FILE:LINE:COLUMN: message, with the fix on the next line.

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

        CronFileParser parser = new CronFileParser(settings, new Date());
        CronFile defaults = parser.parse(JobSource.DEFAULT);
        CronFile user = parser.parse(JobSource.USER);
        ReloadPlan plan = ReloadPlan.compute(Map.of(), defaults, user);
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
        String log = Delivery.unwritable(settings.log().file(), false);
        if (log != null) {
            problems.add(new ConfigProblem(settings.file(), 0, 0, "[log] file: " + log,
                    "fix the directory's owner or mode, or point [log] file elsewhere"));
        }
        // What the agent's start checks of its outputs and spool, checked the same way.
        problems.addAll(Delivery.check(settings));
        Path uuidDir = settings.uuidFile().getParent();
        if (!Files.exists(settings.uuidFile()) && !Files.isWritable(uuidDir)) {
            problems.add(new ConfigProblem(settings.uuidFile(), 0, 0, "the host identity file does not exist and "
                    + uuidDir + " is not writable, so it cannot be created", "create it or make the directory writable"));
        }

        for (ConfigProblem p : problems) {
            cli.out().println(p.format());
        }
        int d = (int) plan.next().values().stream().filter(j -> j.source() == JobSource.DEFAULT).count();
        int u = plan.next().size() - d;
        if (!problems.isEmpty()) {
            cli.out().println(problems.size() + " problem(s) found. Lines with problems are skipped; the agent would run "
                    + plan.next().size() + " job(s) (" + d + " default, " + u + " user).");
            return Cli.PROBLEMS;
        }
        cli.out().println("configuration OK: " + plan.next().size() + " job(s) (" + d + " default, " + u + " user)");
        if (!a.flag("--quiet")) {
            SimpleDateFormat fmt = new SimpleDateFormat("yyyy-MM-dd HH:mm:ss");
            for (JobSpec j : plan.next().values()) {
                cli.out().printf("  [%s] %s  next %s  (%s)%n", j.cron(), j.name(), next(j.cron(), fmt), j.where());
            }
        }
        return Cli.OK;
    }

    private static String next(String cron, SimpleDateFormat fmt) {
        try {
            Date d = new CronExpression(cron).getNextValidTimeAfter(new Date());
            return d == null ? "never" : fmt.format(d);
        } catch (java.text.ParseException e) {
            return "?";
        }
    }
}
