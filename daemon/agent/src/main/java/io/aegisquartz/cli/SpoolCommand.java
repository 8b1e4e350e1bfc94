package io.aegisquartz.cli;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.aegisquartz.config.AgentSettings;
import io.aegisquartz.config.ConfigProblem;
import io.aegisquartz.config.Units;
import io.aegisquartz.sample.SampleJson;
import io.aegisquartz.spool.EventInbox;
import io.aegisquartz.spool.SpoolInspector;
import io.aegisquartz.spool.SpoolInspector.Problem;
import io.aegisquartz.spool.SpoolInspector.Region;
import io.aegisquartz.spool.SpoolInspector.Report;
import io.aegisquartz.spool.SpoolInspector.Segment;

import java.io.IOException;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/** 'aegis-quartz spool stat|verify': a read-only look at the spool, safe while the agent runs. */
final class SpoolCommand implements Command {

    private static final JsonFactory JSON = new JsonFactory();

    @Override
    public String name() {
        return "spool";
    }

    @Override
    public String summary() {
        return "Show the spool's backlog (stat) or check every record (verify)";
    }

    @Override
    public String help() {
        return """
                Usage: aegis-quartz spool stat [--dir DIR] [--json]
                       aegis-quartz spool verify [--dir DIR] [--json]

                Looks at the on-disk spool (format: docs/SPOOL.md) without changing anything: it
                never takes the spool's lock and never writes, renames or truncates a file, so it is
                safe while the agent runs (what it shows is then a snapshot).

                stat     The backlog, per output: samples and bytes its backend has not yet
                         acknowledged, the age of the oldest, samples the spool dropped before
                         it sent them (size cap or free-disk guard; 'unreported' while its
                         'dropped' sample is not yet delivered) and samples its backend
                         rejected (lines in dead-letter-NAME.jsonl). For the whole spool: what
                         the slowest output has pending, segment files, segments set aside as
                         unreadable (*.bad), events waiting in incoming/ (see 'aegis-quartz
                         event'), and whether an agent owns the spool (holds the lock on
                         spool.lock) and its pid.
                         Exit 0 (also when the directory does not exist yet: nothing is spooled).

                verify   Reads every segment, checks each header and each record's CRC-32C and
                         the checkpoints, and prints every problem as FILE: offset N: what is wrong
                         (corrupt regions, torn tails, unreadable headers, set-aside or missing
                         segments, an unusable checkpoint). Bytes at the end of the newest segment
                         of a spool in use may be a write in progress; they are reported as a note.
                         Exit 0 if there is no problem, 1 if there is one (or no spool directory).

                Options:
                  --dir DIR   the spool directory (default: [spool] dir of aegis_config.ini,
                              relative to the agent's home; 'spool' if unset)
                  --json      print one JSON object instead of text: stat gives the counts
                              above (outputs [{name, pending_samples, oldest_pending_age_ms,
                              dropped, ...}], pending_samples, owned, owner_pid, ...); verify
                              gives every segment, the checkpoints and a list of problems
                              {file, offset, kind, message}
                """;
    }

    @Override
    public int run(Cli cli, List<String> args) throws Exception {
        Args a = new Args(name(), args, Set.of("--dir"), Set.of("--json"), false);
        if (a.positional().size() != 1 || !Set.of("stat", "verify").contains(a.positional().get(0))) {
            throw new UsageException(a.positional().isEmpty() ? "spool needs an action: stat or verify; see 'aegis-quartz spool --help'"
                    : "spool: unknown action '" + String.join(" ", a.positional()) + "'; use stat or verify");
        }
        Path dir = spoolDir(cli, a);
        Report r;
        try {
            r = SpoolInspector.inspect(dir);
        } catch (IOException e) {
            cli.err().println("aegis-quartz: cannot read the spool directory " + dir + ": " + e.getMessage());
            return Cli.PROBLEMS;
        }
        boolean json = a.flag("--json");
        if (a.positional().get(0).equals("stat")) {
            cli.out().print(json ? statJson(r, System.currentTimeMillis()) : statText(r, System.currentTimeMillis()));
            return Cli.OK;
        }
        if (!r.exists()) {
            if (json) {
                cli.out().print(verifyJson(r));
            }
            cli.err().println("aegis-quartz: no spool directory at " + dir);
            return Cli.PROBLEMS;
        }
        cli.out().print(json ? verifyJson(r) : verifyText(r));
        return r.problems().isEmpty() ? Cli.OK : Cli.PROBLEMS;
    }

    /** --dir, else [spool] dir; config problems are warned about, not fatal (the spool may matter most when config is broken). */
    static Path spoolDir(Cli cli, Args a) {
        String dir = a.value("--dir");
        if (dir != null) {
            return Path.of(dir).toAbsolutePath().normalize();
        }
        AgentSettings settings = cli.settings();
        List<ConfigProblem> problems = settings.problems();
        if (!problems.isEmpty()) {
            cli.err().println("aegis-quartz: warning: " + settings.file() + " has " + problems.size() + " problem(s) (see 'aegis-quartz"
                    + " check-config'); using spool directory " + settings.spool().dir());
        }
        return settings.spool().dir();
    }

    // ---- stat ----------------------------------------------------------------------------

    static String statText(Report r, long now) {
        StringBuilder sb = new StringBuilder();
        sb.append("spool ").append(r.dir()).append('\n');
        if (!r.exists()) {
            sb.append("  does not exist: nothing spooled yet\n");
            return sb.toString();
        }
        line(sb, "owner", r.owner().owned() ? "an agent owns it" + (r.owner().pid() > 0 ? " (pid " + r.owner().pid() + ")" : "")
                : "no agent owns it");
        for (SpoolInspector.Cursor c : r.cursors()) {
            line(sb, "output " + c.name(), c.problem() != null ? "checkpoint unusable (" + c.problem() + "): everything is sent again"
                    : c.pendingRecords() + " sample(s) pending, " + bytes(c.pendingBytes()));
            line(sb, "", "oldest " + (c.oldestPendingTimeMillis() < 0 ? "-"
                    : SampleJson.time(c.oldestPendingTimeMillis()) + " (" + age(now - c.oldestPendingTimeMillis()) + ")")
                    + "; dropped " + c.dropped() + (c.dropsUndelivered() > 0 ? " (" + c.dropsUndelivered() + " not yet reported)" : "")
                    + "; dead-lettered " + Math.max(0, c.deadLetters()));
        }
        if (r.cursors().isEmpty()) {
            line(sb, "outputs", "none yet (no agent has read this spool since the upgrade, or none ever ran)");
        }
        line(sb, "pending", r.pendingRecords() + " sample(s), " + bytes(r.pendingBytes()) + " (the slowest output)");
        line(sb, "oldest", r.oldestPendingTimeMillis() < 0 ? "-"
                : SampleJson.time(r.oldestPendingTimeMillis()) + " (" + age(now - r.oldestPendingTimeMillis()) + ")");
        line(sb, "segments", r.segments().size() + ", " + bytes(r.bytes()));
        line(sb, "set aside", r.setAside().isEmpty() ? "0" : r.setAside().size() + ": "
                + String.join(", ", r.setAside().stream().map(p -> p.getFileName().toString()).toList()));
        if (!r.missingSegments().isEmpty()) {
            line(sb, "missing", r.missingSegments().size() + " segment id(s): " + r.missingSegments());
        }
        if (r.deadLetters() >= 0) {
            line(sb, "dead-lettered", r.deadLetters() + " sample(s) in " + SpoolInspector.DEAD_LETTER_FILE + " (before the upgrade)");
        }
        line(sb, "incoming", r.incomingEvents() + " event(s) waiting in " + EventInbox.INCOMING + "/"
                + (r.incomingBad() > 0 ? ", " + r.incomingBad() + " set aside as unreadable" : ""));
        if (r.checkpoint().present()) {
            line(sb, "checkpoint", checkpoint(r) + " (single-reader version; output aegis takes it over at the next start)");
        }
        line(sb, "problems", r.problems().isEmpty() ? "none found" : r.problems().size() + " (see 'aegis-quartz spool verify')");
        return sb.toString();
    }

    static String statJson(Report r, long now) throws IOException {
        StringWriter w = new StringWriter();
        try (JsonGenerator g = JSON.createGenerator(w).useDefaultPrettyPrinter()) {
            g.writeStartObject();
            g.writeStringField("dir", r.dir().toString());
            g.writeBooleanField("exists", r.exists());
            g.writeBooleanField("owned", r.owner().owned());
            if (r.owner().owned() && r.owner().pid() > 0) {
                g.writeNumberField("owner_pid", r.owner().pid());
            } else {
                g.writeNullField("owner_pid");
            }
            g.writeArrayFieldStart("outputs");
            for (SpoolInspector.Cursor c : r.cursors()) {
                g.writeStartObject();
                g.writeStringField("name", c.name());
                g.writeNumberField("pending_samples", c.pendingRecords());
                g.writeNumberField("pending_bytes", c.pendingBytes());
                if (c.oldestPendingTimeMillis() >= 0) {
                    g.writeStringField("oldest_pending_time", SampleJson.time(c.oldestPendingTimeMillis()));
                    g.writeNumberField("oldest_pending_age_ms", now - c.oldestPendingTimeMillis());
                } else {
                    g.writeNullField("oldest_pending_time");
                    g.writeNullField("oldest_pending_age_ms");
                }
                g.writeNumberField("dropped", c.dropped());
                g.writeNumberField("dropped_unreported", c.dropsUndelivered());
                g.writeNumberField("dead_lettered", Math.max(0, c.deadLetters()));
                g.writeObjectFieldStart("checkpoint");
                writePosition(g, c.valid(), c.segment(), c.offset(), c.problem());
                g.writeEndObject();
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeNumberField("pending_samples", r.pendingRecords());
            g.writeNumberField("pending_bytes", r.pendingBytes());
            if (r.oldestPendingTimeMillis() >= 0) {
                g.writeStringField("oldest_pending_time", SampleJson.time(r.oldestPendingTimeMillis()));
                g.writeNumberField("oldest_pending_age_ms", now - r.oldestPendingTimeMillis());
            } else {
                g.writeNullField("oldest_pending_time");
                g.writeNullField("oldest_pending_age_ms");
            }
            g.writeNumberField("segments", r.segments().size());
            g.writeNumberField("segment_bytes", r.bytes());
            g.writeArrayFieldStart("set_aside");
            for (Path p : r.setAside()) {
                g.writeString(p.getFileName().toString());
            }
            g.writeEndArray();
            g.writeArrayFieldStart("missing_segments");
            for (long id : r.missingSegments()) {
                g.writeNumber(id);
            }
            g.writeEndArray();
            g.writeNumberField("dead_lettered", Math.max(0, r.deadLetters()));
            g.writeNumberField("incoming_events", r.incomingEvents());
            g.writeNumberField("incoming_bad", r.incomingBad());
            writeCheckpoint(g, r);
            g.writeNumberField("problems", r.problems().size());
            g.writeEndObject();
        }
        return w + "\n";
    }

    // ---- verify --------------------------------------------------------------------------

    static String verifyText(Report r) {
        StringBuilder sb = new StringBuilder();
        sb.append("spool ").append(r.dir()).append(r.owner().owned() ? " (in use by an agent" + (r.owner().pid() > 0
                ? ", pid " + r.owner().pid() : "") + ")" : "").append('\n');
        for (Segment s : r.segments()) {
            sb.append("  ").append(s.name()).append(": ");
            if (s.headerProblem() != null) {
                sb.append(s.size()).append(" byte(s), unusable header");
            } else {
                sb.append(s.records()).append(" record(s), ").append(s.validBytes()).append(" valid byte(s)");
                if (!s.corrupt().isEmpty()) {
                    sb.append(", ").append(s.corrupt().size()).append(" corrupt region(s) at offset(s) ")
                            .append(String.join(", ", s.corrupt().stream().map(x -> Long.toString(x.offset())).toList()));
                }
                if (s.tornTailBytes() > 0) {
                    sb.append(", ").append(s.tornTailBytes()).append(" torn tail byte(s) at offset ").append(s.tornTailOffset());
                }
                if (s.acknowledged()) {
                    sb.append(", all acknowledged");
                } else if (s.pendingRecords() > 0) {
                    sb.append(", ").append(s.pendingRecords()).append(" pending");
                }
            }
            sb.append('\n');
        }
        for (SpoolInspector.Cursor c : r.cursors()) {
            sb.append("  output ").append(c.name()).append(": ").append(c.valid() ? "checkpoint at segment " + c.segment() + ", offset "
                    + c.offset() + ", " + c.pendingRecords() + " pending" : "checkpoint unusable (" + c.problem() + ")").append('\n');
        }
        if (r.checkpoint().present()) {
            sb.append("  checkpoint: ").append(checkpoint(r)).append('\n');
        }
        for (Problem p : r.problems()) {
            sb.append("problem: ").append(p.format()).append('\n');
        }
        for (String n : r.notes()) {
            sb.append("note: ").append(n).append('\n');
        }
        if (r.problems().isEmpty()) {
            sb.append("OK: ").append(r.segments().size()).append(" segment(s), ").append(r.records())
                    .append(" record(s), every CRC matches\n");
        } else {
            sb.append(r.problems().size()).append(" problem(s) found\n");
        }
        return sb.toString();
    }

    static String verifyJson(Report r) throws IOException {
        StringWriter w = new StringWriter();
        try (JsonGenerator g = JSON.createGenerator(w).useDefaultPrettyPrinter()) {
            g.writeStartObject();
            g.writeStringField("dir", r.dir().toString());
            g.writeBooleanField("exists", r.exists());
            g.writeBooleanField("ok", r.exists() && r.problems().isEmpty());
            g.writeBooleanField("owned", r.owner().owned());
            g.writeNumberField("records", r.records());
            g.writeArrayFieldStart("segments");
            for (Segment s : r.segments()) {
                g.writeStartObject();
                g.writeStringField("file", s.name());
                g.writeNumberField("id", s.id());
                g.writeNumberField("size", s.size());
                if (s.headerProblem() != null) {
                    g.writeStringField("header_problem", s.headerProblem());
                } else {
                    g.writeNullField("header_problem");
                }
                g.writeNumberField("records", s.records());
                g.writeNumberField("valid_bytes", s.validBytes());
                g.writeArrayFieldStart("corrupt");
                for (Region x : s.corrupt()) {
                    g.writeStartObject();
                    g.writeNumberField("offset", x.offset());
                    g.writeNumberField("length", x.length());
                    g.writeStringField("reason", x.reason());
                    g.writeEndObject();
                }
                g.writeEndArray();
                g.writeNumberField("torn_tail_bytes", s.tornTailBytes());
                if (s.tornTailBytes() > 0) {
                    g.writeNumberField("torn_tail_offset", s.tornTailOffset());
                }
                g.writeBooleanField("acknowledged", s.acknowledged());
                g.writeNumberField("pending_records", s.pendingRecords());
                g.writeNumberField("pending_bytes", s.pendingBytes());
                g.writeEndObject();
            }
            g.writeEndArray();
            writeCheckpoint(g, r);
            g.writeArrayFieldStart("outputs");
            for (SpoolInspector.Cursor c : r.cursors()) {
                g.writeStartObject();
                g.writeStringField("name", c.name());
                g.writeBooleanField("valid", c.valid());
                if (c.valid()) {
                    g.writeNumberField("segment", c.segment());
                    g.writeNumberField("offset", c.offset());
                } else {
                    g.writeStringField("problem", c.problem());
                }
                g.writeNumberField("pending_records", c.pendingRecords());
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeArrayFieldStart("problems");
            for (Problem p : r.problems()) {
                g.writeStartObject();
                g.writeStringField("file", p.file());
                if (p.offset() >= 0) {
                    g.writeNumberField("offset", p.offset());
                } else {
                    g.writeNullField("offset");
                }
                g.writeStringField("kind", p.kind());
                g.writeStringField("message", p.message());
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeArrayFieldStart("notes");
            for (String n : r.notes()) {
                g.writeString(n);
            }
            g.writeEndArray();
            g.writeEndObject();
        }
        return w + "\n";
    }

    // ---- shared --------------------------------------------------------------------------

    private static void writeCheckpoint(JsonGenerator g, Report r) throws IOException {
        SpoolInspector.CheckpointInfo c = r.checkpoint();
        g.writeObjectFieldStart("checkpoint");
        g.writeBooleanField("present", c.present());
        writePosition(g, c.valid(), c.segment(), c.offset(), c.problem());
        g.writeEndObject();
    }

    /** A checkpoint's fields: valid, and its segment and offset, or why it is unusable. */
    private static void writePosition(JsonGenerator g, boolean valid, long segment, long offset, String problem) throws IOException {
        g.writeBooleanField("valid", valid);
        if (valid) {
            g.writeNumberField("segment", segment);
            g.writeNumberField("offset", offset);
        }
        if (problem != null) {
            g.writeStringField("problem", problem);
        }
    }

    private static String checkpoint(Report r) {
        SpoolInspector.CheckpointInfo c = r.checkpoint();
        if (!c.present()) {
            return "none (nothing acknowledged yet)";
        }
        if (!c.valid()) {
            return "unusable (" + c.problem() + "): nothing counts as acknowledged";
        }
        return "segment " + c.segment() + ", offset " + c.offset();
    }

    private static void line(StringBuilder sb, String label, String value) {
        sb.append(String.format("  %-14s %s%n", label, value));
    }

    /** "123456 bytes (120.6 KiB)" */
    static String bytes(long n) {
        if (n < 1024) {
            return n + " byte" + (n == 1 ? "" : "s");
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = n;
        int i = -1;
        while (v >= 1024 && i < units.length - 1) {
            v /= 1024;
            i++;
        }
        return n + " bytes (" + String.format(Locale.ROOT, "%.1f", v) + " " + units[i] + ")";
    }

    private static String age(long ms) {
        if (ms < 0) {
            return Units.format(Duration.ofMillis(-ms)) + " in the future: check the clock";
        }
        return Units.format(Duration.ofMillis(ms)) + " ago";
    }
}
