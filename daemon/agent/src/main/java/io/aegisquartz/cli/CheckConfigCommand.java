package io.aegisquartz.cli;

import io.aegisquartz.config.AgentSettings;
import io.aegisquartz.config.ConfigProblem;
import io.aegisquartz.config.CronFile;
import io.aegisquartz.config.CronFileParser;
import io.aegisquartz.config.HostIdentity;
import io.aegisquartz.config.JobSource;
import io.aegisquartz.config.JobSpec;
import io.aegisquartz.plugin.PluginCatalog;
import io.aegisquartz.plugin.PluginException;
import io.aegisquartz.plugin.RunnerThreads;
import io.aegisquartz.schedule.ReloadPlan;
import io.aegisquartz.upload.Credentials;
import io.aegisquartz.upload.CredentialsException;
import org.quartz.CronExpression;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.SimpleDateFormat;
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

                Reads aegis_config.ini, aegis_quartz.conf.default and aegis_quartz.conf.user as the
                agent would, compiles every Groovy plugin, opens every JAR plugin, checks that every
                other plugin is executable, that the host identity file, the state, log and sample
                directories are usable and, when uploading, the credentials file and the spool.
                Prints each problem as FILE:LINE:COLUMN: message, with the fix on the next line.

                Problems are of two kinds:
                  the agent cannot start   aegis_config.ini, the host identity file (uuid), the state,
                                           log or sample directory, the upload credentials or spool
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

        CronFileParser parser = new CronFileParser(settings, new Date());
        CronFile defaults = parser.parse(JobSource.DEFAULT);
        CronFile user = parser.parse(JobSource.USER);
        ReloadPlan plan = ReloadPlan.compute(Map.of(), defaults, user);
        skipped.addAll(plan.problems());

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
        writable(settings, settings.path("log.file"), "[log] file", fatal);
        writable(settings, settings.path("sink.file"), "[sink] file", fatal);
        directory(settings, settings.stateDir(), "[agent] state_dir", fatal);
        identity(settings, fatal);
        if (settings.problems().isEmpty() && settings.uploadEndpoint() != null) {
            try {
                Credentials.load(settings.credentialsFile());
            } catch (CredentialsException e) {
                fatal.add(new ConfigProblem(settings.credentialsFile(), 0, 0, e.getMessage(), null));
            }
            directory(settings, settings.spoolDir(), "[spool] dir", fatal);
        }

        List<ConfigProblem> all = new ArrayList<>(fatal);
        all.addAll(skipped);
        for (ConfigProblem p : all) {
            cli.out().println(p.format());
        }
        List<JobSpec> runnable = plan.next().values().stream().filter(j -> !refused.contains(j.key())).toList();
        int d = (int) runnable.stream().filter(j -> j.source() == JobSource.DEFAULT).count();
        String jobs = runnable.size() + " job(s) (" + d + " default, " + (runnable.size() - d) + " user)";
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

    /** The host identity file: read as the agent reads it, if it exists; creatable, if it does not. */
    private static void identity(AgentSettings settings, List<ConfigProblem> problems) {
        Path uuid = settings.uuidFile();
        if (Files.isDirectory(uuid)) {
            problems.add(new ConfigProblem(uuid, 0, 0, "the host identity file " + uuid + " is a directory",
                    "remove it, or point [agent] uuid_file at a file"));
        } else if (Files.exists(uuid)) {
            try {
                HostIdentity.loadOrCreate(uuid); // only reads: the file exists
            } catch (IOException e) {
                problems.add(new ConfigProblem(uuid, 0, 0, "the host identity file cannot be read: " + e.getMessage(), null));
            }
        } else if (!Files.isWritable(uuid.getParent())) {
            problems.add(new ConfigProblem(uuid, 0, 0, "the host identity file does not exist and "
                    + uuid.getParent() + " is not writable, so it cannot be created", "create it or make the directory writable"));
        }
    }

    /** A file the agent appends to: it, or the nearest existing directory above it, writable by this user. */
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
