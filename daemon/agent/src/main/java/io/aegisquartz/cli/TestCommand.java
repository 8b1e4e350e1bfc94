package io.aegisquartz.cli;

import io.aegisquartz.config.AgentSettings;
import io.aegisquartz.config.ConfigProblem;
import io.aegisquartz.config.CronFileParser;
import io.aegisquartz.config.JobSource;
import io.aegisquartz.config.JobSpec;
import io.aegisquartz.plugin.catalog.PluginCatalog;
import io.aegisquartz.plugin.RunnerThreads;
import io.aegisquartz.sample.SampleStamper;
import io.aegisquartz.sample.Status;
import io.aegisquartz.schedule.ReloadPlan;

import java.util.ArrayList;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Runs configured jobs once, without an agent, and prints their samples (as telegraf --test does). */
final class TestCommand implements Command {

    @Override
    public String name() {
        return "test";
    }

    @Override
    public String summary() {
        return "Run configured jobs once, without an agent, and print their samples";
    }

    @Override
    public String help() {
        return """
                Usage: aegis-quartz test [--json] [JOB...]

                Runs the jobs of the cron files once, in this process, one after the other, without
                an agent and without waiting for their schedule: every job, or only the JOBs named
                (a job's name as 'check-config' and 'status' list it). Each runs exactly as the agent
                would run it, with its cron line's options (timeout, cpu, kill_grace, output_max,
                max_samples, sampler, user). Prints, per job, a '== job' line, its samples as
                'run-plugin' prints them, and a summary line. Writes no samples file, no spool, and
                touches nothing of a running agent. Lines of the cron files with problems are
                reported on standard error and skipped.

                Options:
                  --json   print samples as JSON lines (the samples file format), without the
                           '== job' and summary lines

                Exit code: the worst status among all samples, Nagios style: 0 ok, 1 warning,
                2 critical, 3 anything else (unknown, error, timeout, cpu_limit, killed, a plugin that
                cannot be loaded); 2 also for a JOB that is not configured.

                A job whose plugin runs in this process (isolation=inproc, the default plugins) and
                ends the JVM (System.exit, Runtime.halt, running out of Java heap) is reported as an
                error sample and exit code 3, as run-plugin does; the jobs after it are not run.
                """;
    }

    @Override
    public int run(Cli cli, List<String> args) throws Exception {
        Args a = new Args(name(), args, Set.of(), Set.of("--json"), false);
        boolean json = a.flag("--json");
        AgentSettings settings = cli.settings();
        if (!settings.problems().isEmpty()) {
            settings.problems().forEach(p -> cli.err().println(p.format()));
            cli.err().println("aegis-quartz: fix " + settings.file() + " first (see above)");
            return Status.ERROR.exitCode();
        }
        // Every cron file the agent reads, drop-ins too.
        ReloadPlan plan = ReloadPlan.compute(Map.of(), new CronFileParser(settings, new Date()).parseAll());
        for (ConfigProblem p : plan.problems()) {
            cli.err().println(p.format());
        }
        for (ConfigProblem p : plan.warnings()) {
            cli.err().println(p.format());
        }
        Map<String, JobSpec> byName = new LinkedHashMap<>();
        plan.next().values().forEach(j -> byName.put(j.name(), j));
        List<JobSpec> jobs = new ArrayList<>();
        for (String name : a.positional()) {
            JobSpec j = byName.get(name);
            if (j == null) {
                List<String> close = byName.keySet().stream().filter(n -> n.contains(name) || name.contains(n)).limit(5).toList();
                throw new UsageException("no job is named '" + name + "'" + (close.isEmpty() ? "" : "; did you mean " + String.join(", ", close) + "?")
                        + " ('aegis-quartz check-config' lists the jobs)");
            }
            jobs.add(j);
        }
        if (a.positional().isEmpty()) {
            jobs.addAll(byName.values());
        }
        if (jobs.isEmpty()) {
            cli.err().println("aegis-quartz: no jobs in " + settings.confDir().resolve(JobSource.DEFAULT.fileName()) + ", "
                    + settings.confDir().resolve(JobSource.USER.fileName()) + " or " + settings.confDir().resolve(JobSource.DROPIN.fileName()));
            return Cli.OK;
        }
        // The plugin author wants to see log() and println lines too, not only warnings.
        ((ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger("plugin")).setLevel(ch.qos.logback.classic.Level.INFO);
        SampleStamper stamper = new SampleStamper(RunPluginCommand.hostUuid(settings), settings.hostname());
        Status worst = Status.OK;
        try (RunnerThreads threads = new RunnerThreads(8); PluginCatalog catalog = PluginCatalog.create(threads, settings)) {
            for (JobSpec j : jobs) {
                if (!json) {
                    cli.out().println("== job " + j.name() + " [" + j.cron() + "] " + j.options().describe() + " (" + j.where() + ")");
                }
                Status s = RunPluginCommand.runOnce(cli, name(), catalog, stamper, j, json);
                if (s.exitCode() > worst.exitCode()) {
                    worst = s;
                }
            }
        }
        return worst.exitCode();
    }
}
