package io.aegisquartz.control;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.aegisquartz.agent.AgentSnapshot;
import io.aegisquartz.config.JobOptions;
import io.aegisquartz.config.JobSpec;
import io.aegisquartz.config.SecretMask;
import io.aegisquartz.governor.Governor;
import io.aegisquartz.schedule.Hold;
import io.aegisquartz.schedule.JobStatus;
import io.aegisquartz.schedule.ManualRun;
import io.aegisquartz.schedule.RunRecord;
import io.aegisquartz.sink.OutputStatus;

import java.util.ArrayList;
import java.util.List;

/**
 * The control socket's response objects, built from an {@link AgentSnapshot}: field names and
 * meanings are those of docs/CONTROL.md. Also decides what counts as a problem (the list that makes
 * {@code aegis-quartz status} exit 1), so that every client agrees.
 */
final class StatusJson {

    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    private StatusJson() {
    }

    /** The answer to {@code status}: the agent, every job (without its runs), outputs, spool, problems. */
    static ObjectNode status(AgentSnapshot s) {
        ObjectNode o = header("status", s);
        ArrayNode jobs = o.putArray("jobs");
        for (JobStatus j : s.jobs()) {
            jobs.add(job(j, false));
        }
        return o;
    }

    /** The answer to {@code status} with a job: the agent's header and the job with its runs and definition. */
    static ObjectNode job(AgentSnapshot s, JobStatus j) {
        ObjectNode o = header("job", s);
        o.set("job", job(j, true));
        return o;
    }

    /** The first line of a run-now answer: the run is on its way. */
    static ObjectNode accepted(JobSpec spec) {
        ObjectNode o = F.objectNode();
        o.put("type", "accepted");
        o.put("job", spec.name());
        o.put("timeout_ms", spec.options().timeout().toMillis());
        o.put("kill_grace_ms", spec.options().killGrace().toMillis());
        return o;
    }

    /** The last line of a run-now answer: how the run ended, or why it did not happen. */
    static ObjectNode result(String job, ManualRun m) {
        ObjectNode o = F.objectNode();
        o.put("type", "result");
        o.put("job", job);
        o.put("ran", m.run() != null);
        if (m.run() != null) {
            o.set("run", run(m.run()));
        } else {
            o.put("reason", m.notRun());
        }
        return o;
    }

    /** An error line; the connection closes after it. */
    static ObjectNode error(String code, String message) {
        ObjectNode o = F.objectNode();
        o.put("type", "error");
        o.put("error", code);
        o.put("message", message);
        return o;
    }

    private static ObjectNode header(String type, AgentSnapshot s) {
        ObjectNode o = F.objectNode();
        o.put("type", type);
        o.put("v", ControlProtocol.VERSION);
        o.put("version", s.version());
        o.put("pid", s.pid());
        o.put("now_ms", s.takenMillis());
        o.put("started_ms", s.startedMillis());
        o.put("state", s.stopping() ? "stopping" : s.started() ? "running" : "starting");
        o.put("home", s.home().toString());
        ArrayNode files = o.putArray("config_files");
        files.add(s.settingsFile().toString());
        AgentSnapshot.Reload r = s.lastReload();
        if (r != null) {
            r.files().forEach(f -> files.add(f.toString()));
            ObjectNode rl = o.putObject("last_reload");
            rl.put("time_ms", r.atMillis());
            rl.put("why", r.why());
            rl.put("ok", r.problemCount() == 0 && r.settingsPending() == null);
            rl.put("added", r.added());
            rl.put("changed", r.changed());
            rl.put("removed", r.removed());
            rl.put("problem_count", r.problemCount());
            ArrayNode ps = rl.putArray("problems");
            r.problems().forEach(ps::add);
            rl.put("settings_pending", r.settingsPending());
        } else {
            o.putNull("last_reload");
        }
        o.put("reloads", s.reloads());
        o.put("failed_reloads", s.failedReloads());
        Governor.Reading g = s.governor();
        if (g != null) {
            ObjectNode gn = o.putObject("governor");
            gn.put("cpu_pct", Math.round(g.cpuPct() * 100) / 100.0);
            gn.put("cpu_budget_pct", g.cpuBudgetPct());
            gn.put("rss_bytes", g.rssBytes());
            gn.put("memory_budget_bytes", g.memoryMaxBytes());
            gn.put("time_ms", g.atMillis());
            gn.put("window_ms", g.windowMillis());
            gn.put("over", g.over());
        } else {
            o.putNull("governor");
        }
        ArrayNode outs = o.putArray("outputs");
        for (OutputStatus out : s.outputs()) {
            ObjectNode on = outs.addObject();
            on.put("name", out.name());
            on.put("target", out.target());
            on.put("pending", out.pending());
            millisOrNull(on, "oldest_pending_ms", out.oldestPendingMillis() < 0 ? 0 : out.oldestPendingMillis());
            millisOrNull(on, "last_success_ms", out.lastSuccessMillis());
            millisOrNull(on, "failing_since_ms", out.failingSinceMillis());
            on.put("last_error", cut(out.lastError()));
            on.put("sent", out.sent());
            on.put("failed", out.failed());
        }
        AgentSnapshot.Spool sp = s.spool();
        if (sp != null) {
            ObjectNode sn = o.putObject("spool");
            sn.put("dir", sp.dir().toString());
            sn.put("pending", sp.pendingSamples());
            sn.put("pending_bytes", sp.pendingBytes());
            sn.put("max_bytes", sp.maxBytes());
            millisOrNull(sn, "oldest_pending_ms", sp.oldestPendingMillis() < 0 ? 0 : sp.oldestPendingMillis());
            sn.put("dropped", sp.dropped());
            sn.put("lost", sp.lost());
            sn.put("dead_lettered", sp.deadLettered());
        } else {
            o.putNull("spool");
        }
        ArrayNode problems = o.putArray("problems");
        problems(s).forEach(problems::add);
        return o;
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
        for (OutputStatus o : s.outputs()) {
            if (o.failingSinceMillis() != 0) {
                p.add("output " + o.name() + " failing: " + cut(o.lastError()));
            }
        }
        if (s.spool() != null && s.spool().dropped() > 0) {
            p.add("the spool dropped " + s.spool().dropped() + " unsent sample(s) since start");
        }
        if (s.spool() != null && s.spool().lost() > 0) {
            p.add("the spool could not store " + s.spool().lost() + " sample(s) since start");
        }
        for (JobStatus j : s.jobs()) {
            p.addAll(jobProblems(j));
        }
        return p;
    }

    /** What is wrong with one job: its last run failed, or something holds it. */
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

    private static ObjectNode job(JobStatus j, boolean detail) {
        JobSpec spec = j.spec();
        ObjectNode o = F.objectNode();
        o.put("name", spec.name());
        o.put("cron", spec.cron());
        o.put("source", spec.source().name().toLowerCase());
        o.put("file", spec.file().toString());
        o.put("line", spec.line());
        o.put("plugin", spec.pluginRef());
        o.put("state", j.state() == null ? null : j.state().wire());
        millisOrNull(o, "running_since_ms", j.runningSinceMillis());
        millisOrNull(o, "next_fire_ms", j.nextFireMillis());
        o.put("consecutive_failures", j.consecutiveFailures());
        o.put("runs_total", j.runCount());
        o.put("skipped_total", j.skipCount());
        RunRecord last = j.lastRun();
        if (last != null) {
            o.set("last_run", run(last));
        } else {
            o.putNull("last_run");
        }
        if (j.lastSkipMillis() != 0) {
            ObjectNode sk = o.putObject("last_skip");
            sk.put("time_ms", j.lastSkipMillis());
            sk.put("reason", cut(j.lastSkipReason()));
        } else {
            o.putNull("last_skip");
        }
        ArrayNode held = o.putArray("held");
        for (Hold h : j.holds()) {
            ObjectNode hn = held.addObject();
            hn.put("kind", h.kind());
            hn.put("reason", cut(h.reason()));
            hn.put("since_ms", h.sinceMillis());
            if (h.untilMillis() == Hold.UNTIL_RELEASED) {
                hn.putNull("until_ms");
            } else {
                hn.put("until_ms", h.untilMillis());
            }
            hn.put("message", cut(h.describe()));
        }
        ArrayNode problems = o.putArray("problems");
        jobProblems(j).forEach(problems::add);
        if (detail) {
            o.put("plugin_path", spec.pluginPath().toString());
            ArrayNode args = o.putArray("args");
            SecretMask.mask(spec.args()).forEach(args::add);
            o.set("options", options(spec.options()));
            ArrayNode runs = o.putArray("runs");
            j.runs().forEach(r -> runs.add(run(r)));
        }
        return o;
    }

    private static ObjectNode options(JobOptions op) {
        ObjectNode o = F.objectNode();
        o.put("timeout_ms", op.timeout().toMillis());
        o.put("cpu_ms", op.cpu().toMillis());
        o.put("kill_grace_ms", op.killGrace().toMillis());
        o.put("output_max", op.outputMax());
        o.put("max_samples", op.maxSamples());
        o.put("overlap", op.overlap().name().toLowerCase());
        o.put("misfire", op.misfire().name().toLowerCase());
        o.put("sampler", op.sampler());
        o.put("user", op.user() == null ? null : op.user().name());
        o.put("memory_max", op.memoryMax());
        o.put("pids_max", op.pidsMax());
        return o;
    }

    private static ObjectNode run(RunRecord r) {
        ObjectNode o = F.objectNode();
        o.put("start_ms", r.startMillis());
        o.put("status", r.status().wire());
        o.put("duration_ms", Math.round(r.wallNanos() / 1e4) / 100.0);
        if (r.cpuNanos() < 0) {
            o.putNull("cpu_ms");
        } else {
            o.put("cpu_ms", Math.round(r.cpuNanos() / 1e4) / 100.0);
        }
        o.put("message", cut(r.message()));
        o.put("manual", r.manual());
        return o;
    }

    private static void millisOrNull(ObjectNode o, String field, long millis) {
        if (millis == 0) {
            o.putNull(field);
        } else {
            o.put(field, millis);
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
