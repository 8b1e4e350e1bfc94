package io.aegisquartz.cli;

import io.aegisquartz.alert.Alerting;
import io.aegisquartz.alert.Silences;
import io.aegisquartz.config.AgentSettings;
import io.aegisquartz.config.CronFileParser;
import io.aegisquartz.config.JobSpec;
import io.aegisquartz.config.Units;
import io.aegisquartz.log.LogText;
import io.aegisquartz.schedule.ReloadPlan;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Silences: no notification for a job (or for everything) until a time, kept in
 * {@code STATE/alerts/silences.json}, which a running agent reads when it changes. A silence ends by
 * itself; a problem that outlasts it is notified when it ends (docs/ALERTS.md).
 */
final class SilenceCommand implements Command {

    static final Duration MAX = Duration.ofDays(30);

    @Override
    public String name() {
        return "silence";
    }

    @Override
    public String summary() {
        return "Silence a job's notifications for a while; list or clear silences";
    }

    @Override
    public String help() {
        return """
                Usage: aegis-quartz silence JOB|all --for DURATION [--reason TEXT]
                       aegis-quartz silence list
                       aegis-quartz silence clear [JOB|all]

                JOB is the job's name as samples and the log show it (name= on its cron line, else its
                plugin and arguments); 'all' silences every job. While a job is silenced its
                notifications are not sent and not marked as sent: a problem that outlasts the silence
                is notified when the silence ends, and a recovery within it is not notified at all
                unless its problem was. A silence ends by itself after DURATION (1m to 30d, e.g. 2h);
                silences survive restarts. A running agent sees a change within its next run.

                  --for D        how long (required for JOB|all)
                  --reason TEXT  shown by 'silence list' and in the agent's log

                'clear' without JOB removes every silence; with JOB (or all), the silences of that name.
                Works whether or not the agent runs; needs write access to [agent] state_dir.
                Exit codes: 0 done; 1 the file cannot be read or written, or nothing to clear;
                2 bad command line.
                """;
    }

    @Override
    public int run(Cli cli, List<String> args) throws Exception {
        Args a = new Args(name(), args, Set.of("--for", "--reason"), Set.of(), false);
        AgentSettings settings = cli.settings();
        Silences silences = new Silences(Alerting.silencesFile(settings.stateDir()));
        long now = System.currentTimeMillis();
        List<String> p = a.positional();
        if (p.size() == 1 && p.get(0).equals("list")) {
            return list(cli, silences, now);
        }
        if (!p.isEmpty() && p.get(0).equals("clear") && p.size() <= 2) {
            return clear(cli, silences, p.size() == 2 ? p.get(1) : null, now);
        }
        if (p.size() != 1) {
            throw new UsageException("silence: expected 'silence JOB|all --for DURATION', 'silence list' or 'silence clear [JOB]'");
        }
        String job = p.get(0);
        String forText = a.value("--for");
        if (forText == null) {
            throw new UsageException("silence: --for DURATION is required, e.g. --for 2h");
        }
        Duration d = Units.parseDuration(forText);
        if (d == null || d.compareTo(Duration.ofMinutes(1)) < 0 || d.compareTo(MAX) > 0) {
            throw new UsageException("silence: --for '" + forText + "' is not a duration from 1m to 30d, e.g. 2h");
        }
        String reason = a.value("--reason") == null ? "" : a.value("--reason");
        Silences.Silence added = new Silences.Silence(job, now, now + d.toMillis(), reason, System.getProperty("user.name", ""));
        silences.update(all -> {
            List<Silences.Silence> next = new ArrayList<>(all);
            next.add(added);
            return next;
        }, now);
        if (!job.equals(Silences.ALL) && !knownJobs(settings).contains(job)) {
            cli.err().println("warning: no job named '" + LogText.escape(job) + "' in the cron files now; silenced anyway (names: see check-config)");
        }
        cli.out().println("silenced " + LogText.escape(job) + " until " + Instant.ofEpochMilli(now + d.toMillis()) + " (" + Units.format(d) + ")"
                + (reason.isEmpty() ? "" : ": " + LogText.escape(reason)));
        return Cli.OK;
    }

    private static int list(Cli cli, Silences silences, long now) throws java.io.IOException {
        List<Silences.Silence> active = silences.read().stream().filter(s -> s.endMillis() > now).toList();
        if (active.isEmpty()) {
            cli.out().println("no silence (" + silences.file() + ")");
        }
        for (Silences.Silence s : active) {
            cli.out().println(LogText.escape(s.job()) + "  until " + Instant.ofEpochMilli(s.endMillis()) + "  ("
                    + Units.format(Duration.ofMillis(s.endMillis() - now).withNanos(0)) + " left)" + (s.by().isEmpty() ? "" : "  by " + s.by())
                    + (s.reason().isEmpty() ? "" : ": " + LogText.escape(s.reason())));
        }
        return Cli.OK;
    }

    private static int clear(Cli cli, Silences silences, String job, long now) throws java.io.IOException {
        int[] removed = new int[1];
        silences.update(all -> {
            List<Silences.Silence> keep = new ArrayList<>();
            for (Silences.Silence s : all) {
                if (job != null && !s.job().equals(job)) {
                    keep.add(s);
                }
            }
            removed[0] = (int) all.stream().filter(s -> s.endMillis() > now).count() - (int) keep.stream().filter(s -> s.endMillis() > now).count();
            return removed[0] == 0 ? null : keep;
        }, now);
        if (removed[0] == 0) {
            cli.err().println("aegis-quartz: no silence" + (job == null ? "" : " of '" + LogText.escape(job) + "'") + " to clear");
            return Cli.PROBLEMS;
        }
        cli.out().println("cleared " + removed[0] + " silence(s)");
        return Cli.OK;
    }

    /** The names of the jobs the cron files define now. */
    private static Set<String> knownJobs(AgentSettings settings) {
        Map<String, JobSpec> next = ReloadPlan.compute(Map.of(), new CronFileParser(settings, new Date()).parseAll()).next();
        Set<String> names = new java.util.HashSet<>();
        next.values().forEach(j -> names.add(j.name()));
        return names;
    }
}
