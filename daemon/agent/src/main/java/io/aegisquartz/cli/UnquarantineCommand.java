package io.aegisquartz.cli;

import io.aegisquartz.config.AgentSettings;
import io.aegisquartz.journal.QuarantineRecords;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Lists and releases the jobs held because a run of theirs ended the agent (docs/JOURNAL.md): removes
 * their records in STATE/quarantine/, which a running agent notices at the job's next fire.
 */
final class UnquarantineCommand implements Command {

    @Override
    public String name() {
        return "unquarantine";
    }

    @Override
    public String summary() {
        return "List or release jobs quarantined for ending the agent";
    }

    @Override
    public String help() {
        return """
                Usage: aegis-quartz unquarantine [--all] [JOB ...]

                A job whose run ended the agent (System.exit or Runtime.halt in a plugin, running the
                agent out of memory, freezing it until the watchdog killed it) is quarantined: its
                fires are skipped, each with a 'skipped' sample saying why, until its plugin file
                changes or this command releases it. It is never retried by itself.

                Without JOB, lists the quarantined jobs, and the suspects (jobs that were running
                with others when the agent ended; their runs run alone until one completes).
                With JOB (the name samples and the log use), releases that job: a running agent runs
                it again at its next fire, a stopped one at its next start.

                  --all   release every quarantined job and clear every suspect

                Works whether or not the agent runs; needs write access to [agent] state_dir.
                Exit codes: 0 done; 1 a JOB is not quarantined (the list is printed) or a record
                cannot be removed; 2 bad command line.
                """;
    }

    @Override
    public int run(Cli cli, List<String> args) throws Exception {
        Args a = new Args(name(), args, Set.of(), Set.of("--all"), false);
        AgentSettings settings = cli.settings();
        QuarantineRecords records = new QuarantineRecords(settings.stateDir());
        List<QuarantineRecords.Record> all = records.list();
        if (a.positional().isEmpty() && !a.flag("--all")) {
            if (all.isEmpty()) {
                cli.out().println("no job is quarantined (" + records.dir() + ")");
            }
            for (QuarantineRecords.Record r : all) {
                cli.out().println((r.kind() == QuarantineRecords.Kind.QUARANTINED ? "quarantined " : "suspect     ") + r.job()
                        + "  (" + r.plugin() + ", since " + Instant.ofEpochMilli(r.sinceMillis()) + "): " + r.reason());
            }
            return Cli.OK;
        }
        List<QuarantineRecords.Record> chosen = new ArrayList<>();
        int status = Cli.OK;
        if (a.flag("--all")) {
            chosen.addAll(all);
        }
        for (String job : a.positional()) {
            List<QuarantineRecords.Record> match = all.stream().filter(r -> r.job().equals(job)).toList();
            if (match.isEmpty()) {
                cli.err().println("aegis-quartz: job '" + job + "' is not quarantined" + (all.isEmpty() ? " (no job is)"
                        : "; quarantined: " + String.join(", ", all.stream().map(QuarantineRecords.Record::job).distinct().toList())));
                status = Cli.PROBLEMS;
            }
            chosen.addAll(match);
        }
        for (QuarantineRecords.Record r : chosen) {
            try {
                if (records.delete(r)) {
                    cli.out().println((r.kind() == QuarantineRecords.Kind.QUARANTINED ? "released " : "no longer a suspect: ") + r.job()
                            + "; a running agent runs it again at its next fire");
                }
            } catch (java.io.IOException e) {
                cli.err().println("aegis-quartz: cannot remove " + r.file() + ": " + e.getMessage());
                status = Cli.PROBLEMS;
            }
        }
        return status;
    }
}
