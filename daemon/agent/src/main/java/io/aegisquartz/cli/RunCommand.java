package io.aegisquartz.cli;

import io.aegisquartz.agent.Agent;
import io.aegisquartz.config.AgentSettings;
import io.aegisquartz.config.JobSource;
import io.aegisquartz.config.LogSettings;
import io.aegisquartz.control.ControlProtocol;
import io.aegisquartz.control.ControlServer;
import io.aegisquartz.log.LogSetup;
import io.aegisquartz.plugin.groovy.GroovyRuntime;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.Set;

/** Runs the agent in the foreground until SIGTERM or SIGINT. */
final class RunCommand implements Command {

    @Override
    public String name() {
        return "run";
    }

    @Override
    public String summary() {
        return "Run the agent in the foreground (what the service runs)";
    }

    @Override
    public String help() {
        return """
                Usage: aegis-quartz run

                Runs the agent in the foreground: schedules the jobs of aegis_quartz.conf.default and
                aegis_quartz.conf.user, stores their samples in the spool and sends them to each output
                (with none configured: [sink] file), and logs to [log] file (also to
                the terminal when there is one).

                  SIGHUP          reload the cron files and plugins (editing them does too) and
                                  reopen the log and samples file (as after logrotate)
                  SIGTERM/SIGINT  stop: no new runs; running jobs end within their own limits

                Exits 1 if aegis_config.ini has problems or the agent cannot start, and 75 when it
                restarts itself (too many abandoned plugin threads); the launcher starts it again.
                """;
    }

    @Override
    public int run(Cli cli, List<String> args) throws Exception {
        new Args(name(), args, Set.of(), Set.of(), false);
        // Signal handlers first: until they are in place, SIGHUP would end the JVM.
        java.util.concurrent.atomic.AtomicReference<Agent> running = new java.util.concurrent.atomic.AtomicReference<>();
        java.util.concurrent.atomic.AtomicBoolean stopRequested = new java.util.concurrent.atomic.AtomicBoolean();
        Signals.onStop(() -> {
            stopRequested.set(true);
            Agent a = running.get();
            if (a != null) {
                a.stop();
            }
        });
        Signals.onReload(() -> {
            Agent a = running.get();
            if (a != null) {
                a.reopenFiles(true, "SIGHUP");
                a.requestReload("SIGHUP");
            }
        });
        AgentSettings settings = cli.settings();
        if (!settings.problems().isEmpty()) {
            cli.err().println("aegis-quartz: cannot start, " + settings.file() + " has problems:");
            settings.problems().forEach(p -> cli.err().println(p.format()));
            return Cli.PROBLEMS;
        }
        // Before anything is written (log, identity, samples): a second agent on this home stops here.
        try {
            io.aegisquartz.agent.AgentLock.acquire(settings);
        } catch (Agent.StartException e) {
            cli.err().println("aegis-quartz: cannot start: " + e.getMessage());
            return Cli.PROBLEMS;
        }
        // Groovy's runtime sets itself up while the log and the scheduler do (Agent.start waits for it).
        GroovyRuntime.Warmup groovy = GroovyRuntime.warmUp(List.of(settings.confDir().resolve(JobSource.DEFAULT.fileName()),
                settings.confDir().resolve(JobSource.USER.fileName())));
        LogSettings log = settings.log();
        boolean toConsole = log.console().equals("always") || (log.console().equals("auto") && Terminal.isTerminal(2));
        java.nio.file.Path logFile = log.file();
        String logProblem = LogSetup.apply(logFile, log.level(), log.maxSize(), log.maxFiles(), toConsole);
        if (logProblem != null) {
            cli.err().println("aegis-quartz: cannot start: [log] file " + logFile + ": " + logProblem
                    + " (fix: let the agent's user write there, or set [log] file in " + settings.file() + ")");
            return Cli.PROBLEMS;
        }

        Agent agent = new Agent(settings);
        agent.previousExit(io.aegisquartz.journal.PreviousExit.parse(cli.env(io.aegisquartz.journal.PreviousExit.VARIABLE)));
        running.set(agent);
        if (stopRequested.get()) {
            return Cli.OK;
        }
        // Before the start, so that 'status' can already say "starting" while plugins compile.
        ControlServer control = openControl(settings, agent);
        try {
            agent.start(groovy);
        } catch (Agent.StartException e) {
            agent.stop();
            closeControl(control);
            if (!stopRequested.get()) {
                LoggerFactory.getLogger("agent").error("cannot start: {}", e.getMessage());
                cli.err().println("aegis-quartz: cannot start: " + e.getMessage());
                return Cli.PROBLEMS;
            }
            // SIGTERM during the start stopped the scheduler under it: that is a stop, not a failure.
            LoggerFactory.getLogger("agent").info("stopped while starting");
        } catch (RuntimeException e) {
            // SIGTERM during the start shuts the timer down under it, so the start's next step is
            // refused (RejectedExecutionException): a stop, not a failure. Without a stop request it
            // is a bug and keeps its stack trace.
            if (!stopRequested.get()) {
                throw e;
            }
            agent.stop();
            LoggerFactory.getLogger("agent").info("stopped while starting ({})", e.toString());
        }
        agent.awaitStop();
        closeControl(control);
        // Flush the log before the process ends: it holds the last words.
        ((ch.qos.logback.classic.LoggerContext) LoggerFactory.getILoggerFactory()).stop();
        return agent.exitCode();
    }

    /** The control socket for 'status' and 'run-now'; null (and one log line) if it cannot be made: the agent runs without it. */
    private static ControlServer openControl(AgentSettings settings, Agent agent) {
        java.nio.file.Path socket = ControlProtocol.socketPath(settings);
        try {
            return ControlServer.start(socket, agent);
        } catch (java.io.IOException | RuntimeException e) {
            LoggerFactory.getLogger("control").error("control socket {} cannot be made ({}); 'aegis-quartz status' and 'run-now' "
                    + "will not reach this agent", socket, e.toString());
            return null;
        }
    }

    private static void closeControl(ControlServer control) {
        if (control != null) {
            control.close();
        }
    }
}
