package io.aegisquartz.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.aegisquartz.config.Units;
import io.aegisquartz.control.ControlProtocol;
import io.aegisquartz.log.LogText;

import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Renders the control socket's answers (docs/CONTROL.md) for a person: 80 columns, plugin text
 * escaped, colour only when asked (on a terminal). Works from the JSON alone, as any client could.
 */
final class StatusText {

    static final int WIDTH = 80;
    private static final int LABEL = 12;
    private static final DateTimeFormatter CLOCK = DateTimeFormatter.ofPattern("HH:mm:ss").withZone(ZoneId.systemDefault());
    private static final DateTimeFormatter DATE_TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss").withZone(ZoneId.systemDefault());

    private final boolean colour;
    private final StringBuilder out = new StringBuilder();
    private long now;

    StatusText(boolean colour) {
        this.colour = colour;
    }

    /** The answer to {@code status}. */
    String status(JsonNode s) {
        header(s);
        JsonNode jobs = s.path("jobs");
        out.append('\n').append(bold("Jobs (" + jobs.size() + "):")).append('\n');
        for (JsonNode j : jobs) {
            String state = j.path("state").isNull() ? "pending" : j.path("state").asText();
            String cron = "[" + j.path("cron").asText() + "]";
            String name = text(j.path("name").asText());
            String first = "  " + pad(state, 9) + name;
            if (first.length() + 1 + cron.length() <= WIDTH) {
                out.append("  ").append(paint(state, pad(state, 9))).append(name).append(" ".repeat(WIDTH - first.length() - cron.length()))
                        .append(cron).append('\n');
            } else {
                // The whole name, wrapped: it is what 'status JOB' and 'run-now' take.
                wrappedAfter("  " + paint(state, pad(state, 9)), name, 11);
                line(11, cron);
            }
            line(11, lastRun(j) + nextFire(j));
            String msg = j.path("last_run").path("message").asText("");
            if (!msg.isEmpty()) {
                line(11, text(msg));
            }
            List<String> extra = new ArrayList<>();
            if (j.path("consecutive_failures").asInt() > 0) {
                extra.add(j.path("consecutive_failures").asInt() + " failed in a row");
            }
            if (j.path("running_since_ms").isNumber()) {
                extra.add("running since " + time(j.path("running_since_ms").asLong()));
            }
            if (!extra.isEmpty()) {
                line(11, String.join("; ", extra));
            }
            for (JsonNode h : j.path("held")) {
                wrapped(11, paint("held", "held") + ": " + text(holdText(h)), 6);
            }
        }
        return out.toString();
    }

    /** The answer to {@code status JOB}. */
    String job(JsonNode s) {
        now = s.path("now_ms").asLong(System.currentTimeMillis());
        JsonNode j = s.path("job");
        String state = j.path("state").isNull() ? "pending" : j.path("state").asText();
        wrappedAfter("", bold("job " + text(j.path("name").asText()) + ":") + " " + paint(state, state), 4);
        field("defined", text(j.path("file").asText()) + ":" + j.path("line").asInt() + " (" + j.path("source").asText() + " jobs)");
        field("schedule", "[" + j.path("cron").asText() + "]" + nextFire(j));
        field("plugin", text(j.path("plugin").asText()) + " (" + text(j.path("plugin_path").asText()) + ")");
        List<String> args = new ArrayList<>();
        j.path("args").forEach(a -> args.add(text(a.asText())));
        if (!args.isEmpty()) {
            field("args", String.join(" ", args));
        }
        JsonNode o = j.path("options");
        String limits = "timeout " + ms(o.path("timeout_ms").asLong()) + ", cpu " + ms(o.path("cpu_ms").asLong()) + ", kill_grace "
                + ms(o.path("kill_grace_ms").asLong()) + ", output_max " + Units.formatBytes(o.path("output_max").asLong()) + ", max_samples "
                + o.path("max_samples").asLong() + ", overlap " + o.path("overlap").asText() + ", misfire " + o.path("misfire").asText()
                + (o.path("sampler").isNull() ? "" : ", sampler " + text(o.path("sampler").asText()))
                + (o.path("user").isNull() ? "" : ", user " + text(o.path("user").asText()))
                + (o.path("memory_max").asLong() > 0 ? ", memory_max " + Units.formatBytes(o.path("memory_max").asLong()) : "")
                + (o.path("pids_max").asLong() > 0 ? ", pids_max " + o.path("pids_max").asLong() : "");
        field("limits", limits);
        for (JsonNode h : j.path("held")) {
            field("held", text(holdText(h)));
        }
        String runs = j.path("runs_total").asLong() + " run(s) since start, " + j.path("consecutive_failures").asInt() + " failed in a row";
        if (j.path("running_since_ms").isNumber()) {
            runs += "; running since " + time(j.path("running_since_ms").asLong());
        }
        field("runs", runs);
        if (j.path("skipped_total").asLong() > 0) {
            JsonNode sk = j.path("last_skip");
            field("skipped", j.path("skipped_total").asLong() + " fire(s) since start; last at " + time(sk.path("time_ms").asLong()) + ": "
                    + text(sk.path("reason").asText()));
        }
        JsonNode list = j.path("runs");
        out.append('\n').append(bold("Last " + list.size() + " run(s), newest first:")).append('\n');
        if (list.isEmpty()) {
            out.append("  (none since the agent started)\n");
        } else {
            out.append("  TIME      STATUS     TOOK      CPU       MESSAGE\n");
            for (JsonNode r : list) {
                String st = r.path("status").asText();
                String cpu = r.path("cpu_ms").isNull() ? "?" : ms(r.path("cpu_ms").asDouble());
                String left = "  " + pad(CLOCK.format(Instant.ofEpochMilli(r.path("start_ms").asLong())), 10);
                String msg = (r.path("manual").asBoolean() ? "(run-now) " : "") + text(r.path("message").asText(""));
                out.append(left).append(paint(st, pad(st, 11))).append(pad(ms(r.path("duration_ms").asDouble()), 10)).append(pad(cpu, 10))
                        .append(fit(msg, WIDTH - 43)).append('\n');
            }
        }
        problems(j.path("problems"));
        return out.toString();
    }

    /** A line for a status that did not come: not running, refused, no answer. */
    static String headline(String what) {
        return "aegis-quartz: " + what;
    }

    private void header(JsonNode s) {
        now = s.path("now_ms").asLong(System.currentTimeMillis());
        JsonNode problems = s.path("problems");
        String state = s.path("state").asText();
        String health = problems.isEmpty() ? paint("ok", "healthy") : paint("warning", problems.size() + " problem(s)");
        out.append(bold("aegis-quartz " + s.path("version").asText())).append(": ").append(state).append(", ").append(health).append('\n');
        long started = s.path("started_ms").asLong();
        out.append("  pid ").append(s.path("pid").asLong()).append(", up ").append(age(started)).append(" (since ")
                .append(DATE_TIME.format(Instant.ofEpochMilli(started))).append(")\n");
        boolean first = true;
        for (JsonNode f : s.path("config_files")) {
            if (first) {
                field("config", text(f.asText()));
                first = false;
            } else {
                line(LABEL + 2, text(f.asText()));
            }
        }
        JsonNode r = s.path("last_reload");
        if (r.isObject()) {
            String what = time(r.path("time_ms").asLong()) + " (" + text(r.path("why").asText()) + "): " + r.path("added").asInt() + " added, "
                    + r.path("changed").asInt() + " changed, " + r.path("removed").asInt() + " removed, ";
            what += r.path("problem_count").asInt() == 0 ? "no problems" : r.path("problem_count").asInt() + " problem(s):";
            field("reload", what);
            for (JsonNode p : r.path("problems")) {
                wrapped(LABEL + 2, paint("warning", "!") + " " + text(p.asText()), 0);
            }
            if (!r.path("settings_pending").isNull()) {
                wrapped(LABEL + 2, paint("warning", "!") + " " + text(r.path("settings_pending").asText()), 0);
            }
        }
        JsonNode g = s.path("governor");
        if (g.isObject()) {
            double budget = g.path("cpu_budget_pct").asDouble();
            long mem = g.path("memory_budget_bytes").asLong();
            String cpu = String.format(Locale.ROOT, "CPU %.1f%% of a core (budget %s), memory %s (budget %s)", g.path("cpu_pct").asDouble(),
                    budget == 0 ? "off" : String.format(Locale.ROOT, "%.0f%%", budget), mib(g.path("rss_bytes").asLong()),
                    mem == 0 ? "off" : mib(mem));
            field("governor", g.path("over").asBoolean() ? paint("warning", cpu) : cpu);
        } else {
            field("governor", "no reading yet (the first comes one [governor] window after the start)");
        }
        for (JsonNode o : s.path("outputs")) {
            field("output", text(o.path("name").asText()) + " (" + text(o.path("type").asText()) + ")");
            if (o.path("failing_since_ms").isNumber()) {
                wrapped(LABEL + 2, paint("error", "failing since " + time(o.path("failing_since_ms").asLong()) + " ("
                        + age(o.path("failing_since_ms").asLong()) + ")") + ": " + text(o.path("last_error").asText()), 0);
            } else if (!o.path("last_error").isNull()) {
                wrapped(LABEL + 2, "ok; last error (recovered): " + text(o.path("last_error").asText()), 0);
            }
            String counts = o.path("pending").asLong() + " pending" + (o.path("oldest_pending_ms").isNumber()
                    ? ", oldest " + age(o.path("oldest_pending_ms").asLong()) + " old" : "") + "; last success "
                    + (o.path("last_success_ms").isNumber() ? time(o.path("last_success_ms").asLong()) : "none yet") + "; "
                    + o.path("sent").asLong() + " sent, " + o.path("failed").asLong() + " failed"
                    + (o.path("dropped").asLong() > 0 ? ", " + o.path("dropped").asLong() + " dropped by the spool" : "")
                    + (o.path("dead_lettered").asLong() > 0 ? ", " + o.path("dead_lettered").asLong() + " dead-lettered" : "");
            wrapped(LABEL + 2, counts, 0);
        }
        JsonNode sp = s.path("spool");
        if (sp.isObject()) {
            field("spool", text(sp.path("dir").asText()));
            wrapped(LABEL + 2, mib(sp.path("bytes").asLong()) + " of " + mib(sp.path("max_bytes").asLong()) + "; "
                    + sp.path("lost").asLong() + " sample(s) it could not store since start", 0);
        }
        problems(problems);
    }

    private void problems(JsonNode problems) {
        if (problems.isEmpty()) {
            return;
        }
        out.append('\n').append(bold("Problems:")).append('\n');
        for (JsonNode p : problems) {
            wrapped(2, paint("error", "!") + " " + text(p.asText()), 2);
        }
    }

    private String lastRun(JsonNode j) {
        JsonNode r = j.path("last_run");
        if (!r.isObject()) {
            return "not run yet";
        }
        String cpu = r.path("cpu_ms").isNull() ? "" : ", cpu " + ms(r.path("cpu_ms").asDouble());
        return "last " + time(r.path("start_ms").asLong()) + (r.path("manual").asBoolean() ? " (run-now)" : "") + ", took "
                + ms(r.path("duration_ms").asDouble()) + cpu;
    }

    private String nextFire(JsonNode j) {
        return j.path("next_fire_ms").isNumber() ? "; next " + time(j.path("next_fire_ms").asLong()) : "; no next fire";
    }

    private void field(String label, String value) {
        String head = "  " + pad(label, LABEL);
        wrappedAfter(head, value, LABEL + 2);
    }

    /** One line, cut to the width. */
    private void line(int indent, String text) {
        out.append(" ".repeat(indent)).append(fit(text, WIDTH - indent)).append('\n');
    }

    /** {@code text} wrapped at word boundaries to the width; continuation lines indented {@code more} further. */
    private void wrapped(int indent, String text, int more) {
        wrappedAfter(" ".repeat(indent), text, indent + more);
    }

    /**
     * {@code text} after {@code head}, wrapped at blanks to the width, continuation lines indented by
     * {@code indent}. A word longer than a whole line (a path) fills the line it starts on and goes on
     * in the next.
     */
    private void wrappedAfter(String head, String text, int indent) {
        StringBuilder line = new StringBuilder(head);
        int visible = visibleLength(head);
        boolean lineStart = true;
        for (String word : text.split(" ")) {
            int len = visibleLength(word);
            boolean coloured = word.contains("\u001b");
            if (!lineStart && visible + 1 + len > WIDTH && (len <= WIDTH - indent || coloured || WIDTH - visible - 1 < 8)) {
                out.append(line).append('\n');
                line.setLength(0);
                line.append(" ".repeat(indent));
                visible = indent;
                lineStart = true;
            }
            if (!lineStart) {
                line.append(' ');
                visible++;
            }
            while (!coloured && visible + word.length() > WIDTH) {
                int room = WIDTH - visible;
                line.append(word, 0, room);
                out.append(line).append('\n');
                line.setLength(0);
                line.append(" ".repeat(indent));
                visible = indent;
                word = word.substring(room);
            }
            line.append(word);
            visible += visibleLength(word);
            lineStart = false;
        }
        out.append(line).append('\n');
    }

    private static int visibleLength(String s) {
        return s.replaceAll("\u001b\\[[0-9;]*m", "").length();
    }

    /** A hold's message, and for one without an end time what releases it. */
    private static String holdText(JsonNode h) {
        JsonNode releasedBy = h.path("released_by");
        return h.path("message").asText() + (releasedBy.isTextual() ? " (held until " + releasedBy.asText() + ")" : "");
    }

    /** Plugin or receiver text, safe for a terminal: one line, control characters escaped (the agent cut it already). */
    private static String text(String s) {
        return s == null ? "" : LogText.escape(s, ControlProtocol.MAX_MESSAGE_CHARS + 32);
    }

    private static String fit(String s, int width) {
        return visibleLength(s) <= width || s.contains("\u001b") ? s : s.substring(0, Math.max(0, width - 3)) + "...";
    }

    private static String pad(String s, int width) {
        return s.length() >= width ? s + " " : s + " ".repeat(width - s.length());
    }

    private String time(long millis) {
        Instant t = Instant.ofEpochMilli(millis);
        boolean today = LocalDate.ofInstant(t, ZoneId.systemDefault()).equals(LocalDate.ofInstant(Instant.ofEpochMilli(now), ZoneId.systemDefault()));
        return today ? CLOCK.format(t) : DATE_TIME.format(t);
    }

    private String age(long sinceMillis) {
        long s = Math.max(0, now - sinceMillis) / 1000;
        return s == 0 ? "0s" : Units.format(Duration.ofSeconds(s));
    }

    private static String ms(double millis) {
        if (millis < 1000) {
            return String.format(Locale.ROOT, "%.0fms", millis);
        }
        return String.format(Locale.ROOT, "%.1fs", millis / 1000);
    }

    private static String mib(long bytes) {
        return String.format(Locale.ROOT, "%.1f MiB", bytes / 1048576.0);
    }

    private String bold(String s) {
        return colour ? "\u001b[1m" + s + "\u001b[0m" : s;
    }

    /** {@code s} in the colour of {@code status}, on a terminal. */
    private String paint(String status, String s) {
        if (!colour) {
            return s;
        }
        String code = switch (status) {
            case "ok" -> "32";
            case "warning", "held", "skipped" -> "33";
            case "pending" -> "2";
            default -> "31";
        };
        return "\u001b[" + code + "m" + s + "\u001b[0m";
    }
}
