package io.aegisquartz.cli;

import io.aegisquartz.spool.EventInbox;

import java.io.IOException;
import java.nio.file.Path;
import java.time.DateTimeException;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Set;

/** 'aegis-quartz event': drops one custom event into the spool's incoming/ directory for the agent to send. */
final class EventCommand implements Command {

    @Override
    public String name() {
        return "event";
    }

    @Override
    public String summary() {
        return "Report a custom event (queued on disk; no network or running agent needed)";
    }

    @Override
    public String help() {
        return """
                Usage: aegis-quartz event --name NAME --content TEXT [--group GROUP] [--time TIME]
                                          [--dir DIR]

                Reports a custom event (a deployment, a backup that failed, a reboot) from a shell
                script. The event is written as one file into the spool's incoming/ directory
                (format: docs/SPOOL.md, "Incoming events"); neither the network nor a running agent
                is needed. The agent picks the file up when it runs, turns it into a sample (metric
                "event", status ok, message TEXT, tags name and group) and sends it with the rest.
                The file is written under a temporary name, fsynced and renamed, so the agent never
                sees half an event and an event is not lost once this command has returned 0.

                Options:
                  --name NAME      what happened: 1 to 128 characters, letters A-Z a-z, digits
                                   and _ . : -  (e.g. backup.failed)
                  --content TEXT   the details, at most 4096 characters (may be empty)
                  --group GROUP    optional grouping, at most 128 characters
                  --time TIME      when it happened: ISO-8601 with a zone (2026-11-22T01:02:03Z,
                                   2026-11-22T03:02:03.5+02:00) or epoch milliseconds
                                   (1795309323000); default: now
                  --dir DIR        the spool directory (default: [spool] dir of aegis_config.ini,
                                   relative to the agent's home; 'spool' if unset)

                Prints the file written. Run it as the agent's user (or one that shares its group):
                the agent must be able to read the file and delete it from incoming/.

                Exit codes: 0 written; 1 the file could not be written; 2 a bad command line or an
                invalid event (the message says which field and why).
                """;
    }

    @Override
    public int run(Cli cli, List<String> args) throws Exception {
        Args a = new Args(name(), args, Set.of("--name", "--content", "--group", "--time", "--dir"), Set.of(), false);
        if (!a.positional().isEmpty()) {
            throw new UsageException("event takes no arguments besides its options (got '" + a.positional().get(0)
                    + "'); quote TEXT with spaces: --content \"disk replaced\"");
        }
        String name = a.value("--name");
        String content = a.value("--content");
        if (name == null) {
            throw new UsageException("event needs --name NAME; see 'aegis-quartz event --help'");
        }
        if (content == null) {
            throw new UsageException("event needs --content TEXT; see 'aegis-quartz event --help'");
        }
        long time = a.value("--time") == null ? System.currentTimeMillis() : parseTime(a.value("--time"));
        String group = a.value("--group");
        String problem = EventInbox.problem(name, content, group == null || group.isEmpty() ? null : group, time);
        if (problem != null) {
            throw new UsageException("invalid event: " + problem);
        }
        Path dir = SpoolCommand.spoolDir(cli, a);
        Path file;
        try {
            file = EventInbox.write(dir, name, content, group, time);
        } catch (IOException e) {
            cli.err().println("aegis-quartz: cannot write the event into " + dir.resolve(EventInbox.INCOMING) + ": " + e);
            return Cli.PROBLEMS;
        }
        cli.out().println("event written to " + file);
        return Cli.OK;
    }

    /** ISO-8601 with a zone, or epoch milliseconds. */
    static long parseTime(String text) throws UsageException {
        String t = text.strip();
        if (t.matches("-?\\d+")) {
            try {
                return Long.parseLong(t);
            } catch (NumberFormatException e) {
                throw new UsageException("--time '" + text + "': epoch milliseconds out of range");
            }
        }
        try {
            return Instant.parse(t).toEpochMilli();
        } catch (DateTimeException e) {
            // try with an offset
        }
        try {
            return OffsetDateTime.parse(t).toInstant().toEpochMilli();
        } catch (DateTimeException e) {
            // explained below
        }
        try {
            LocalDateTime.parse(t);
            throw new UsageException("--time '" + text + "' has no zone: add Z for UTC (" + t + "Z) or an offset (" + t + "+02:00)");
        } catch (DateTimeException e) {
            throw new UsageException("--time '" + text + "' is neither an ISO-8601 time with a zone (e.g. 2026-11-22T01:02:03Z)"
                    + " nor epoch milliseconds");
        }
    }
}
