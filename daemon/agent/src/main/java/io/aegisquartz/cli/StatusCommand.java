package io.aegisquartz.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.aegisquartz.config.AgentSettings;
import io.aegisquartz.config.Units;
import io.aegisquartz.control.ControlClient;
import io.aegisquartz.control.ControlProtocol;

import java.time.Duration;
import java.util.List;
import java.util.Set;

/** Asks the running agent what it is doing, over its control socket. */
final class StatusCommand implements Command {

    /** Exit codes, as systemctl status and LSB init scripts use them. */
    static final int HEALTHY = 0;
    static final int PROBLEMS = 1;
    static final int NOT_RUNNING = 3;
    static final int UNKNOWN = 4;

    @Override
    public String name() {
        return "status";
    }

    @Override
    public String summary() {
        return "Ask the running agent what it is doing (jobs, outputs, spool, budget)";
    }

    @Override
    public String help() {
        return """
                Usage: aegis-quartz status [--json] [--timeout DURATION] [JOB]

                Asks the running agent, over its control socket (control.sock in [agent] state_dir of
                aegis_config.ini; protocol in docs/CONTROL.md), what it is doing: version, uptime,
                config files and the last reload (with its problems), CPU and memory against the
                governor's budget, where samples go (pending, oldest pending, last success, failing
                since, last error), the spool against its cap and what it dropped, and per job: its
                schedule, last run (time, status, duration, CPU, message), next fire, failures in a
                row, and what holds it (backed off, shed, quarantined) and until when. Then the
                problems, if any.

                With JOB (a job's name, as 'status' lists it): that job's definition as parsed from
                its cron line and its last 20 runs.

                Works as root, as the agent's user, or as a member of its group (the socket is mode
                0660); under the RPM: sudo aegis-quartz status, or runuser -u aegis-quartz --
                aegis-quartz status.

                Options:
                  --json              print the agent's answer as it came: one JSON object
                  --timeout DURATION  how long to wait for the answer (default 10s)

                Exit codes, as systemctl status:
                  0  the agent runs and has no problem
                  1  the agent runs with problems (runs that failed, held jobs, a failing output,
                     samples dropped, reload problems, over budget), or does not answer;
                     with JOB: that job has a problem
                  3  the agent is not running
                  4  cannot tell: permission denied, no such job, an answer that makes no sense
                """;
    }

    @Override
    public int run(Cli cli, List<String> args) throws Exception {
        Args a = new Args(name(), args, Set.of("--timeout"), Set.of("--json"), false);
        if (a.positional().size() > 1) {
            throw new UsageException("status takes at most one JOB; quote a name with blanks");
        }
        String job = a.positional().isEmpty() ? null : a.positional().get(0);
        long timeout = timeout(a, Duration.ofSeconds(10)).toMillis();
        AgentSettings settings = cli.settings();
        if (!settings.problems().isEmpty()) {
            cli.err().println("aegis-quartz: warning: " + settings.file() + " has problems; asking the agent at "
                    + ControlProtocol.socketPath(settings) + " anyway ('aegis-quartz check-config' shows them)");
        }
        JsonNode[] answer = new JsonNode[1];
        try {
            new ControlClient(ControlProtocol.socketPath(settings)).exchange(ControlClient.request(ControlProtocol.STATUS, job), timeout,
                    line -> {
                        answer[0] = line;
                        return 0;
                    });
        } catch (ControlClient.NotRunning e) {
            if (a.flag("--json")) {
                ObjectNode o = JsonNodeFactory.instance.objectNode().put("type", "not_running").put("message", e.getMessage());
                cli.out().println(ControlClient.toJson(o));
            } else {
                cli.out().println(StatusText.headline(e.getMessage()));
            }
            return NOT_RUNNING;
        } catch (ControlClient.Forbidden e) {
            cli.err().println(StatusText.headline(e.getMessage()));
            return UNKNOWN;
        } catch (ControlClient.NoAnswer e) {
            cli.err().println(StatusText.headline(e.getMessage()));
            return PROBLEMS;
        } catch (java.io.IOException e) {
            cli.err().println(StatusText.headline("cannot ask the agent at " + ControlProtocol.socketPath(settings) + ": " + e));
            return UNKNOWN;
        }
        JsonNode r = answer[0];
        if (r == null) {
            cli.err().println(StatusText.headline("the agent closed the connection without an answer"));
            return UNKNOWN;
        }
        String type = r.path("type").asText();
        if (type.equals("error")) {
            cli.err().println(StatusText.headline(r.path("message").asText()));
            return UNKNOWN;
        }
        if (!type.equals(job == null ? "status" : "job")) {
            cli.err().println(StatusText.headline("unexpected answer of type '" + type + "' (docs/CONTROL.md)"));
            return UNKNOWN;
        }
        if (a.flag("--json")) {
            cli.out().println(ControlClient.toJson(r));
        } else {
            StatusText text = new StatusText(Terminal.colourOnStdout(cli.env()));
            cli.out().print(job == null ? text.status(r) : text.job(r));
        }
        JsonNode problems = job == null ? r.path("problems") : r.path("job").path("problems");
        return problems.isEmpty() ? HEALTHY : PROBLEMS;
    }

    /** The --timeout option as a duration, or {@code dflt}. */
    static Duration timeout(Args a, Duration dflt) throws UsageException {
        String v = a.value("--timeout");
        if (v == null) {
            return dflt;
        }
        Duration d = Units.parseDuration(v);
        if (d == null || d.isZero()) {
            throw new UsageException("--timeout: '" + v + "' is not a duration; " + Units.DURATION_FORMS);
        }
        return d;
    }
}
