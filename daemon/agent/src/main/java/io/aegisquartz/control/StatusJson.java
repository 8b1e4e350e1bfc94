package io.aegisquartz.control;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.aegisquartz.agent.AgentSnapshot;
import io.aegisquartz.config.JobOptions;
import io.aegisquartz.config.JobSpec;
import io.aegisquartz.config.SecretMask;
import io.aegisquartz.governor.Governor;
import io.aegisquartz.output.OutputState;
import io.aegisquartz.schedule.Hold;
import io.aegisquartz.schedule.JobStatus;
import io.aegisquartz.schedule.ManualRun;
import io.aegisquartz.schedule.RunRecord;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The control socket's answer lines, written from an {@link AgentSnapshot}: field names and meanings
 * are those of docs/CONTROL.md. Also decides what counts as a problem (the list that makes
 * {@code aegis-quartz status} exit 1), so that every client agrees.
 *
 * <p>Written with jackson-core's streaming generator, as samples are: an ObjectMapper (or a JSON
 * tree, whose printing builds one) is about 280 classes, 3-4 MB the agent would keep for good after
 * the first {@code status}.
 */
final class StatusJson {

    private static final JsonFactory JSON = new JsonFactory();

    /** Writes one object's fields. */
    @FunctionalInterface
    private interface Fields {
        void write(JsonGenerator g) throws IOException;
    }

    private StatusJson() {
    }

    /** The answer to {@code status}: the agent, every job (without its runs), outputs, spool, problems. */
    static byte[] status(AgentSnapshot s) {
        return line(g -> {
            header(g, "status", s);
            g.writeArrayFieldStart("jobs");
            for (JobStatus j : s.jobs()) {
                g.writeStartObject();
                job(g, j, false);
                g.writeEndObject();
            }
            g.writeEndArray();
        });
    }

    /** The answer to {@code status} with a job: the agent's header and the job with its runs and definition. */
    static byte[] job(AgentSnapshot s, JobStatus j) {
        return line(g -> {
            header(g, "job", s);
            g.writeObjectFieldStart("job");
            job(g, j, true);
            g.writeEndObject();
        });
    }

    /** The first line of a run-now answer: the run is on its way. */
    static byte[] accepted(JobSpec spec) {
        return line(g -> {
            g.writeStringField("type", "accepted");
            g.writeStringField("job", spec.name());
            g.writeNumberField("timeout_ms", spec.options().timeout().toMillis());
            g.writeNumberField("kill_grace_ms", spec.options().killGrace().toMillis());
        });
    }

    /** The last line of a run-now answer: how the run ended, or why it did not happen. */
    static byte[] result(String job, ManualRun m) {
        return line(g -> {
            g.writeStringField("type", "result");
            g.writeStringField("job", job);
            g.writeBooleanField("ran", m.run() != null);
            if (m.run() != null) {
                g.writeObjectFieldStart("run");
                run(g, m.run());
                g.writeEndObject();
            } else {
                g.writeStringField("reason", cut(m.notRun()));
            }
        });
    }

    /** An error line; the connection closes after it. */
    static byte[] error(String code, String message) {
        return line(g -> {
            g.writeStringField("type", "error");
            g.writeStringField("error", code);
            g.writeStringField("message", message);
        });
    }

    /** One JSON object with {@code fields}, and its newline. */
    private static byte[] line(Fields fields) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(512);
        try (JsonGenerator g = JSON.createGenerator(out)) {
            g.writeStartObject();
            fields.write(g);
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException("writing to memory", e);
        }
        out.write('\n');
        return out.toByteArray();
    }

    private static void header(JsonGenerator g, String type, AgentSnapshot s) throws IOException {
        g.writeStringField("type", type);
        g.writeNumberField("v", ControlProtocol.VERSION);
        g.writeStringField("version", s.version());
        g.writeNumberField("pid", s.pid());
        g.writeNumberField("now_ms", s.takenMillis());
        g.writeNumberField("started_ms", s.startedMillis());
        g.writeStringField("state", s.stopping() ? "stopping" : s.started() ? "running" : "starting");
        g.writeStringField("home", s.home().toString());
        AgentSnapshot.Reload r = s.lastReload();
        g.writeArrayFieldStart("config_files");
        g.writeString(s.settingsFile().toString());
        if (r != null) {
            for (var f : r.files()) {
                g.writeString(f.toString());
            }
        }
        g.writeEndArray();
        if (r != null) {
            g.writeObjectFieldStart("last_reload");
            g.writeNumberField("time_ms", r.atMillis());
            g.writeStringField("why", r.why());
            g.writeBooleanField("ok", r.problemCount() == 0 && r.settingsPending() == null);
            g.writeNumberField("added", r.added());
            g.writeNumberField("changed", r.changed());
            g.writeNumberField("removed", r.removed());
            g.writeNumberField("problem_count", r.problemCount());
            strings(g, "problems", r.problems());
            g.writeStringField("settings_pending", r.settingsPending());
            g.writeEndObject();
        } else {
            g.writeNullField("last_reload");
        }
        g.writeNumberField("reloads", s.reloads());
        g.writeNumberField("failed_reloads", s.failedReloads());
        Governor.Reading gr = s.governor();
        if (gr != null) {
            g.writeObjectFieldStart("governor");
            g.writeNumberField("cpu_pct", Math.round(gr.cpuPct() * 100) / 100.0);
            g.writeNumberField("cpu_budget_pct", gr.cpuBudgetPct());
            g.writeNumberField("rss_bytes", gr.rssBytes());
            g.writeNumberField("memory_budget_bytes", gr.memoryMaxBytes());
            g.writeNumberField("time_ms", gr.atMillis());
            g.writeNumberField("window_ms", gr.windowMillis());
            g.writeBooleanField("over", gr.over());
            g.writeEndObject();
        } else {
            g.writeNullField("governor");
        }
        g.writeArrayFieldStart("outputs");
        for (OutputState out : s.outputs()) {
            g.writeStartObject();
            g.writeStringField("name", out.name());
            g.writeStringField("type", out.type());
            g.writeNumberField("pending", out.pendingSamples());
            g.writeNumberField("pending_bytes", out.pendingBytes());
            millisOrNull(g, "oldest_pending_ms", out.oldestPendingAgeMillis() < 0 ? 0 : s.takenMillis() - out.oldestPendingAgeMillis());
            millisOrNull(g, "last_success_ms", Math.max(0, out.lastSuccessMillis()));
            millisOrNull(g, "failing_since_ms", Math.max(0, out.failingSinceMillis()));
            g.writeStringField("last_error", cut(out.lastError()));
            g.writeNumberField("sent", out.sentSamples());
            g.writeNumberField("failed", out.failedAttempts());
            g.writeNumberField("dropped", out.dropped());
            g.writeNumberField("dead_lettered", out.deadLettered());
            g.writeEndObject();
        }
        g.writeEndArray();
        AgentSnapshot.Spool sp = s.spool();
        if (sp != null) {
            g.writeObjectFieldStart("spool");
            g.writeStringField("dir", sp.dir().toString());
            g.writeNumberField("bytes", sp.bytes());
            g.writeNumberField("max_bytes", sp.maxBytes());
            g.writeNumberField("lost", sp.lost());
            g.writeEndObject();
        } else {
            g.writeNullField("spool");
        }
        strings(g, "problems", problems(s));
    }

    /**
     * What is wrong with the agent, one line each; empty means healthy. A check reporting warning or
     * critical is the check doing its job, not a problem of the agent: only runs that failed
     * (error, timeout, cpu_limit, killed), held jobs, failing outputs, lost samples, reload
     * problems and a budget overrun count.
     */
    static List<String> problems(AgentSnapshot s) {
        List<String> p = new ArrayList<>();
        if (s.stopping()) {
            p.add("the agent is stopping");
        } else if (!s.started()) {
            p.add("the agent is still starting");
        }
        AgentSnapshot.Reload r = s.lastReload();
        if (r != null && r.problemCount() > 0) {
            p.add("the last reload (" + r.why() + ") found " + r.problemCount() + " problem(s) in the cron files or plugins");
        }
        if (r != null && r.settingsPending() != null) {
            p.add(r.settingsPending());
        }
        if (s.governor() != null && s.governor().over()) {
            p.add("the agent is over its CPU or memory budget");
        }
        for (OutputState o : s.outputs()) {
            if (o.failing()) {
                p.add("output " + o.name() + " failing: " + cut(o.lastError()));
            }
            if (o.dropped() > 0) {
                p.add("output " + o.name() + ": the spool dropped " + o.dropped() + " sample(s) before it sent them");
            }
        }
        if (s.spool() != null && s.spool().lost() > 0) {
            p.add("the spool could not store " + s.spool().lost() + " sample(s) since start");
        }
        for (JobStatus j : s.jobs()) {
            p.addAll(jobProblems(j));
        }
        return p;
    }

    /** What is wrong with one job: its last run failed, or something holds it (with the reason and until when). */
    static List<String> jobProblems(JobStatus j) {
        List<String> p = new ArrayList<>();
        if (j.state() != null && j.state().isRunFailure()) {
            p.add("job " + j.spec().name() + ": last run " + j.state().wire());
        }
        for (Hold h : j.holds()) {
            p.add("job " + j.spec().name() + ": " + cut(h.describe()));
        }
        return p;
    }

    private static void job(JsonGenerator g, JobStatus j, boolean detail) throws IOException {
        JobSpec spec = j.spec();
        g.writeStringField("name", spec.name());
        g.writeStringField("cron", spec.cron());
        g.writeStringField("source", spec.source().name().toLowerCase());
        g.writeStringField("file", spec.file().toString());
        g.writeNumberField("line", spec.line());
        g.writeStringField("plugin", spec.pluginRef());
        g.writeStringField("state", j.state() == null ? null : j.state().wire());
        millisOrNull(g, "running_since_ms", j.runningSinceMillis());
        millisOrNull(g, "next_fire_ms", j.nextFireMillis());
        g.writeNumberField("consecutive_failures", j.consecutiveFailures());
        g.writeNumberField("runs_total", j.runCount());
        g.writeNumberField("skipped_total", j.skipCount());
        RunRecord last = j.lastRun();
        if (last != null) {
            g.writeObjectFieldStart("last_run");
            run(g, last);
            g.writeEndObject();
        } else {
            g.writeNullField("last_run");
        }
        if (j.lastSkipMillis() != 0) {
            g.writeObjectFieldStart("last_skip");
            g.writeNumberField("time_ms", j.lastSkipMillis());
            g.writeStringField("reason", cut(j.lastSkipReason()));
            g.writeEndObject();
        } else {
            g.writeNullField("last_skip");
        }
        g.writeArrayFieldStart("held");
        for (Hold h : j.holds()) {
            g.writeStartObject();
            g.writeStringField("kind", h.kind());
            g.writeStringField("reason", cut(h.reason()));
            g.writeNumberField("since_ms", h.sinceMillis());
            if (h.untilMillis() == Hold.UNTIL_RELEASED) {
                g.writeNullField("until_ms");
            } else {
                g.writeNumberField("until_ms", h.untilMillis());
            }
            g.writeStringField("released_by", h.releasedBy());
            g.writeStringField("message", cut(h.describe()));
            g.writeEndObject();
        }
        g.writeEndArray();
        strings(g, "problems", jobProblems(j));
        if (detail) {
            g.writeStringField("plugin_path", spec.pluginPath().toString());
            strings(g, "args", SecretMask.mask(spec.args()));
            g.writeObjectFieldStart("options");
            options(g, spec.options());
            g.writeEndObject();
            g.writeArrayFieldStart("runs");
            for (RunRecord r : j.runs()) {
                g.writeStartObject();
                run(g, r);
                g.writeEndObject();
            }
            g.writeEndArray();
        }
    }

    private static void options(JsonGenerator g, JobOptions op) throws IOException {
        g.writeNumberField("timeout_ms", op.timeout().toMillis());
        g.writeNumberField("cpu_ms", op.cpu().toMillis());
        g.writeNumberField("kill_grace_ms", op.killGrace().toMillis());
        g.writeNumberField("output_max", op.outputMax());
        g.writeNumberField("max_samples", op.maxSamples());
        g.writeStringField("overlap", op.overlap().name().toLowerCase());
        g.writeStringField("misfire", op.misfire().name().toLowerCase());
        g.writeStringField("sampler", op.sampler());
        g.writeStringField("user", op.user() == null ? null : op.user().name());
        g.writeNumberField("memory_max", op.memoryMax());
        g.writeNumberField("pids_max", op.pidsMax());
    }

    private static void run(JsonGenerator g, RunRecord r) throws IOException {
        g.writeNumberField("start_ms", r.startMillis());
        g.writeStringField("status", r.status().wire());
        g.writeNumberField("duration_ms", Math.round(r.wallNanos() / 1e4) / 100.0);
        if (r.cpuNanos() < 0) {
            g.writeNullField("cpu_ms");
        } else {
            g.writeNumberField("cpu_ms", Math.round(r.cpuNanos() / 1e4) / 100.0);
        }
        g.writeStringField("message", cut(r.message()));
        g.writeBooleanField("manual", r.manual());
    }

    private static void strings(JsonGenerator g, String field, List<String> values) throws IOException {
        g.writeArrayFieldStart(field);
        for (String v : values) {
            g.writeString(v);
        }
        g.writeEndArray();
    }

    private static void millisOrNull(JsonGenerator g, String field, long millis) throws IOException {
        if (millis == 0) {
            g.writeNullField(field);
        } else {
            g.writeNumberField(field, millis);
        }
    }

    /** Text cut to {@link ControlProtocol#MAX_MESSAGE_CHARS}; JSON keeps it intact otherwise (clients escape it for display). */
    static String cut(String s) {
        if (s == null || s.length() <= ControlProtocol.MAX_MESSAGE_CHARS) {
            return s;
        }
        return s.substring(0, ControlProtocol.MAX_MESSAGE_CHARS) + " ...(" + (s.length() - ControlProtocol.MAX_MESSAGE_CHARS) + " more)";
    }
}
