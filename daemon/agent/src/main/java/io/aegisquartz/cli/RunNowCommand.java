package io.aegisquartz.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.aegisquartz.config.AgentSettings;
import io.aegisquartz.control.ControlClient;
import io.aegisquartz.control.ControlProtocol;
import io.aegisquartz.log.LogText;
import io.aegisquartz.sample.Status;

import java.util.List;
import java.util.Locale;
import java.util.Set;

/** Fires one configured job now, through the running agent, and says how the run ended. */
final class RunNowCommand implements Command {

    /** Exit code when the job did not run (running already, held, no such job, no agent). */
    static final int DID_NOT_RUN = 4;


    @Override
    public String name() {
        return "run-now";
    }

    @Override
    public String summary() {
        return "Fire one configured job now, through the running agent";
    }

    @Override
    public String help() {
        return """
                Usage: aegis-quartz run-now [--json] JOB

                Asks the running agent (over its control socket, as 'status' does) to fire the job
                named JOB once now, exactly as its schedule would: on one of the agent's workers,
                under the job's limits, its samples written like every run's. Waits for the run to
                end and prints its status, duration, CPU and message. A job that is running already,
                or held (backed off, shed, quarantined), is not fired: the command says why.
                To run jobs without an agent, see 'aegis-quartz test'.

                Options:
                  --json   print the agent's answer lines as they come (docs/CONTROL.md)

                Exit code: the run's status, Nagios style: 0 ok, 1 warning, 2 critical, 3 anything
                else (unknown, error, timeout, cpu_limit, killed); 4 if the job did not run (running
                already, held, no such job, the agent is not running or refused this user);
                2 also for a bad command line.
                """;
    }

    @Override
    public int run(Cli cli, List<String> args) throws Exception {
        Args a = new Args(name(), args, Set.of(), Set.of("--json"), false);
        if (a.positional().size() != 1) {
            throw new UsageException("run-now needs exactly one JOB (quote a name with blanks); see 'aegis-quartz run-now --help'");
        }
        String job = a.positional().get(0);
        boolean json = a.flag("--json");
        AgentSettings settings = cli.settings();
        int[] exit = {DID_NOT_RUN};
        try {
            new ControlClient(ControlProtocol.socketPath(settings)).exchange(ControlClient.request(ControlProtocol.RUN_NOW, job), 10_000,
                    line -> {
                        if (json) {
                            cli.out().println(ControlClient.toJson(line));
                        }
                        return switch (line.path("type").asText()) {
                            case "accepted" -> accepted(cli, json, line);
                            case "result" -> {
                                exit[0] = result(cli, json, line);
                                yield 0;
                            }
                            default -> {
                                if (!json) {
                                    cli.err().println("aegis-quartz: " + LogText.escape(line.path("message").asText()));
                                }
                                yield 0;
                            }
                        };
                    });
        } catch (ControlClient.NotRunning e) {
            cli.err().println("aegis-quartz: " + e.getMessage() + "; 'aegis-quartz test JOB' runs a job without an agent");
            return DID_NOT_RUN;
        } catch (ControlClient.Forbidden | ControlClient.NoAnswer e) {
            cli.err().println("aegis-quartz: " + e.getMessage());
            return DID_NOT_RUN;
        } catch (java.io.IOException e) {
            cli.err().println("aegis-quartz: cannot ask the agent at " + ControlProtocol.socketPath(settings) + ": " + e);
            return DID_NOT_RUN;
        }
        return exit[0];
    }

    /** The run is on its way: say so, and wait as long as its limits allow (plus the wait for a worker). */
    private static long accepted(Cli cli, boolean json, JsonNode line) {
        long limit = line.path("timeout_ms").asLong() + line.path("kill_grace_ms").asLong();
        if (!json) {
            cli.out().printf(Locale.ROOT, "job %s: running now (limit %.1fs)...%n", LogText.escape(line.path("job").asText()),
                    line.path("timeout_ms").asLong() / 1000.0);
            cli.out().flush();
        }
        return limit + 6 * 60_000;
    }

    private static int result(Cli cli, boolean json, JsonNode line) {
        String job = LogText.escape(line.path("job").asText());
        if (!line.path("ran").asBoolean()) {
            if (!json) {
                cli.out().println("job " + job + " did not run: " + LogText.escape(line.path("reason").asText()));
            }
            return DID_NOT_RUN;
        }
        JsonNode r = line.path("run");
        String status = r.path("status").asText();
        if (!json) {
            String cpu = r.path("cpu_ms").isNull() ? "unknown" : String.format(Locale.ROOT, "%.1fms", r.path("cpu_ms").asDouble());
            String msg = r.path("message").isNull() ? "" : ": " + LogText.escape(r.path("message").asText());
            cli.out().printf(Locale.ROOT, "job %s: %s in %.1fms, cpu %s%s%n", job, status, r.path("duration_ms").asDouble(), cpu, msg);
        }
        for (Status s : Status.values()) {
            if (s.wire().equals(status)) {
                return s.exitCode();
            }
        }
        return Status.UNKNOWN.exitCode();
    }
}
