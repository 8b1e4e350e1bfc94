package io.aegisquartz.cli;

import io.aegisquartz.alert.channel.AlertEvent;
import io.aegisquartz.alert.channel.Channel;
import io.aegisquartz.alert.channel.DeliveryException;
import io.aegisquartz.alert.channel.MessageText;
import io.aegisquartz.alert.channel.Notification;
import io.aegisquartz.alert.channel.NotifyConfig;
import io.aegisquartz.config.AgentSettings;
import io.aegisquartz.plugin.RunnerThreads;
import io.aegisquartz.plugin.exec.ProcessRunner;
import io.aegisquartz.sample.SampleStamper;

import java.time.Clock;
import java.util.List;
import java.util.Set;
import java.util.UUID;

/**
 * {@code notify test CHANNEL}: sends one test message through a channel of the channels file, at once
 * and once (no grouping, no retry, nothing recorded), so that an operator sees the channel work before
 * a problem needs it. The exit code says whether the channel took the message.
 */
final class NotifyCommand implements Command {

    @Override
    public String name() {
        return "notify";
    }

    @Override
    public String summary() {
        return "Send a test message through a notification channel";
    }

    @Override
    public String help() {
        return """
                Usage: aegis-quartz notify test CHANNEL [--message TEXT]

                Sends one test message through the channel [channel.CHANNEL] of the channels file
                ([alert] channels_file, default conf/aegis_notify.ini; docs/ALERTS.md), at once and
                once: no group_wait, no max_per_hour, no retry, and nothing is recorded in the alert
                state. The message says it is a test, from which host, and TEXT if given.

                Needs to read the channels file (mode 0600, owned by the user that runs this, as for
                the agent). Works whether or not the agent runs.
                Exit codes: 0 the channel took the message; 1 it did not (the reason is printed,
                without the channel's URL, token or password), the channel does not exist or the
                channels file has problems; 2 bad command line.
                """;
    }

    @Override
    public int run(Cli cli, List<String> args) throws Exception {
        Args a = new Args(name(), args, Set.of("--message"), Set.of(), false);
        if (a.positional().size() != 2 || !a.positional().get(0).equals("test")) {
            throw new UsageException("notify: expected 'notify test CHANNEL' (see aegis-quartz notify --help)");
        }
        String name = a.positional().get(1);
        AgentSettings settings = cli.settings();
        NotifyConfig config = NotifyConfig.load(settings.alert().channelsFile());
        if (!config.problems().isEmpty()) {
            config.problems().forEach(p -> cli.err().println(p.format()));
            cli.err().println("aegis-quartz: " + config.file() + " has " + config.problems().size() + " problem(s); fix them first");
            return Cli.PROBLEMS;
        }
        NotifyConfig.Spec spec = config.channels().get(name);
        if (spec == null) {
            cli.err().println("aegis-quartz: no channel [channel." + name + "] in " + config.file() + (config.channels().isEmpty() ? " (it has none)"
                    : "; channels: " + String.join(", ", config.channels().keySet())));
            return Cli.PROBLEMS;
        }
        String host = new SampleStamper("", settings.hostname()).hostname();
        long now = System.currentTimeMillis();
        String message = "test message from aegis-quartz on " + host + " ('notify test')" + (a.value("--message") == null ? ""
                : ": " + a.value("--message"));
        AlertEvent e = new AlertEvent(AlertEvent.Kind.TEST, "test", host, "agent", "", "ok", "", message, 0, now, "", 0);
        Notification n = new Notification(UUID.randomUUID().toString(), name, host, now, List.of(e), 0, 0);
        try (RunnerThreads threads = new RunnerThreads(4)) {
            NotifyConfig.Context ctx = new NotifyConfig.Context(Clock.systemUTC(), MessageText.local(), () -> new ProcessRunner(threads),
                    settings.defaultJobOptions(), settings.stateDir().resolve("alerts").resolve("exec"));
            try (Channel channel = NotifyConfig.create(spec, ctx)) {
                channel.send(n);
            } catch (DeliveryException ex) {
                cli.err().println("aegis-quartz: " + spec.describe() + ": not delivered: " + ex.getMessage());
                return Cli.PROBLEMS;
            }
        }
        cli.out().println("sent test message " + n.id() + " to " + spec.describe());
        return Cli.OK;
    }
}
