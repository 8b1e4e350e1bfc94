package io.aegisquartz.cli;

import io.aegisquartz.agent.Delivery;
import io.aegisquartz.config.AgentSettings;
import io.aegisquartz.config.ConfigProblem;
import io.aegisquartz.config.CronFileParser;
import io.aegisquartz.config.HostIdentity;
import io.aegisquartz.config.JobSource;
import io.aegisquartz.config.JobSpec;
import io.aegisquartz.config.StrictModes;
import io.aegisquartz.config.Units;
import io.aegisquartz.plugin.catalog.PluginCatalog;
import io.aegisquartz.plugin.PluginException;
import io.aegisquartz.plugin.RunnerThreads;
import io.aegisquartz.schedule.ReloadPlan;
import io.aegisquartz.schedule.Splay;
import org.quartz.CronExpression;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Date;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Checks everything the agent reads, the way the agent would read it, and prints every problem, each
 * sorted into one of two kinds: what keeps the agent from starting at all, and what it skips.
 */
final class CheckConfigCommand implements Command {

    /** Exit code: the agent would start, but skip some cron lines or run some jobs only to record an error. */
    static final int SKIPPED = 4;

    @Override
    public String name() {
        return "check-config";
    }

    @Override
    public String summary() {
        return "Check aegis_config.ini, the cron files and their plugins; exit 1 if the agent cannot start, 4 if it would skip something";
    }

    @Override
    public String help() {
        return """
                Usage: aegis-quartz check-config [--quiet] [--startable]

                Reads aegis_config.ini, aegis_quartz.conf.default, aegis_quartz.conf.user and the
                drop-in files aegis_quartz.conf.d/*.conf as the agent would, compiles every Groovy
                plugin, opens every JAR plugin, checks that every other plugin is executable, that the
                host identity file and the state and log directories are usable, and checks each
                output as the agent's start does (credentials files, CA and client key files,
                endpoints, writable files) and the spool directory, changing nothing.
                Prints each problem as FILE:LINE:COLUMN: message, with the fix on the next line.

                Problems are of two kinds:
                  the agent cannot start   aegis_config.ini, the host identity file (uuid), the state
                                           or log directory, an output (credentials, TLS files,
                                           endpoint, file) or the spool directory
                  the agent skips          a cron line with an error (only that line's job is left
                                           out) and a job whose plugin is refused or does not load
                                           (it records an 'error' sample at each fire until fixed)

                Exit codes:
                  0  no problem
                  1  the agent cannot start
                  2  bad command line
                  4  the agent starts, and skips what is listed (0 with --startable)

                Options:
                  --quiet       print only problems (no job list)
                  --startable   exit 0 when the agent can start, even if it would skip lines or
                                jobs; exit 1 only when it cannot start. The service runs
                                'check-config --quiet --startable' before each start and reload:
                                a broken user cron line never stops the default jobs, and a
                                broken aegis_config.ini never reaches a running agent.
                """;
    }

    @Override
    public int run(Cli cli, List<String> args) throws UsageException {
        Args a = new Args(name(), args, Set.of(), Set.of("--quiet", "--startable"), false);
        AgentSettings settings = cli.settings();
        // What keeps the agent from starting: each of these is a StartException (or a refusal in
        // 'run') in the agent itself.
        List<ConfigProblem> fatal = new ArrayList<>(settings.problems());
        List<ConfigProblem> skipped = new ArrayList<>();

        ReloadPlan plan = ReloadPlan.compute(Map.of(), new CronFileParser(settings, new Date()).parseAll());
        skipped.addAll(plan.problems());
        skipped.addAll(notifyProblems(settings, plan.next().values()));

        Set<String> refused = new HashSet<>();
        try (RunnerThreads threads = new RunnerThreads(4); PluginCatalog catalog = PluginCatalog.create(threads, settings)) {
            for (JobSpec job : plan.next().values()) {
                try {
                    catalog.check(job);
                } catch (PluginException e) {
                    refused.add(job.key());
                    skipped.add(new ConfigProblem(job.file(), job.line(), job.pluginColumn(), e.getMessage(), e.fix()));
                }
            }
        }
        writable(settings, settings.log().file(), "[log] file", fatal);
        directory(settings, settings.stateDir(), "[agent] state_dir", fatal);
        ConfigProblem identity = HostIdentity.problem(settings.uuidFile());
        if (identity != null) {
            fatal.add(identity);
        }
        if (settings.problems().isEmpty()) {
            // Each output built as the agent's start builds it, and the spool's directory: what the start refuses.
            fatal.addAll(Delivery.check(settings));
        }

        List<ConfigProblem> all = new ArrayList<>(fatal);
        all.addAll(skipped);
        for (ConfigProblem p : all) {
            cli.out().println(p.format());
        }
        for (ConfigProblem w : plan.warnings()) {
            cli.out().println("warning: " + w.format());
        }
        StrictModes.Sweep writable = StrictModes.of(settings).sweep();
        if (writable != null) {
            cli.out().println(writable.message());
        }
        List<JobSpec> runnable = plan.next().values().stream().filter(j -> !refused.contains(j.key())).toList();
        String jobs = runnable.size() + " job(s) (" + counts(runnable) + ")";
        if (!fatal.isEmpty()) {
            cli.out().println(all.size() + " problem(s) found. The agent cannot start: fix the " + fatal.size()
                    + " problem(s) listed first" + (skipped.isEmpty() ? "" : "; the other " + skipped.size()
                    + " would only skip their own lines and jobs") + ".");
            return Cli.PROBLEMS;
        }
        if (!skipped.isEmpty()) {
            cli.out().println(skipped.size() + " problem(s) found. The agent starts and leaves out the lines and jobs above; it would run "
                    + jobs + (refused.isEmpty() ? "" : ", and record an error sample at each fire of the " + refused.size()
                    + " job(s) whose plugin cannot be loaded, until it is fixed") + ".");
            return a.flag("--startable") ? Cli.OK : SKIPPED;
        }
        cli.out().println("configuration OK: " + jobs);
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
    private static String counts(List<JobSpec> jobs) {
        Map<JobSource, Long> by = new java.util.EnumMap<>(JobSource.class);
        jobs.forEach(j -> by.merge(j.source(), 1L, Long::sum));
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

    /** A file the agent appends to: it, or the nearest existing directory above it, writable by this user. */
    /**
     * The channels file's problems, and every job naming (by notify= or [alert] notify) a channel it does not
     * have: the agent starts, without those channels (docs/ALERTS.md).
     */
    private static List<ConfigProblem> notifyProblems(AgentSettings settings, java.util.Collection<JobSpec> jobs) {
        io.aegisquartz.alert.channel.NotifyConfig channels = io.aegisquartz.alert.channel.NotifyConfig.load(settings.alert().channelsFile());
        List<ConfigProblem> out = new ArrayList<>(channels.problems());
        if (!channels.problems().isEmpty()) {
            return out; // a channel left out for a problem above is not "unknown" as well
        }
        for (String n : channels.unknown(settings.alert().agentRule().channels())) {
            out.add(new ConfigProblem(settings.file(), 0, 0, "[alert] agent_notify (or notify): no [channel." + n + "] in " + channels.file()
                    + "; the agent's own events would be dropped", "add the section (docs/ALERTS.md) or correct the name"));
        }
        for (JobSpec j : jobs) {
            for (String n : channels.unknown(j.alert().channels())) {
                out.add(new ConfigProblem(j.file(), j.line(), 1, "job " + j.name() + ": notify=" + n + ": no [channel." + n + "] in "
                        + channels.file() + "; its notifications would be dropped",
                        "add the section (docs/ALERTS.md) or correct the name" + (channels.channels().isEmpty() ? ""
                        : "; channels: " + String.join(", ", channels.channels().keySet()))));
            }
        }
        return out;
    }

    private static void writable(AgentSettings settings, Path file, String setting, List<ConfigProblem> problems) {
        Path dir = nearestExisting(file.getParent());
        boolean ok = dir != null && Files.isDirectory(dir) && Files.isWritable(dir) && (!Files.exists(file) || Files.isWritable(file));
        if (!ok) {
            problems.add(new ConfigProblem(settings.file(), 0, 0, setting + ": " + file + " is not writable by this user",
                    "fix the directory's owner or mode, or point " + setting.substring(setting.indexOf(']') + 2) + " elsewhere"));
        }
    }

    /** A directory the agent creates if needed and writes in. */
    private static void directory(AgentSettings settings, Path dir, String setting, List<ConfigProblem> problems) {
        Path existing = nearestExisting(dir);
        String problem = existing == null ? "cannot be created"
                : !Files.isDirectory(existing) ? (existing.equals(dir) ? "is not a directory" : existing + " is not a directory")
                : !Files.isWritable(existing) || !Files.isExecutable(existing) ? (existing.equals(dir) ? "is not writable by this user"
                : "does not exist and " + existing + " is not writable by this user") : null;
        if (problem != null) {
            problems.add(new ConfigProblem(settings.file(), 0, 0, setting + ": " + dir + " " + problem,
                    "create it for the agent's user, or point " + setting.substring(setting.indexOf(']') + 2) + " elsewhere"));
        }
    }

    private static Path nearestExisting(Path p) {
        while (p != null && !Files.exists(p)) {
            p = p.getParent();
        }
        return p;
    }
}
