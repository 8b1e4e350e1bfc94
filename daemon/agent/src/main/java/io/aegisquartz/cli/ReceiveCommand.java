package io.aegisquartz.cli;

import io.aegisquartz.alert.Alerting;
import io.aegisquartz.alert.channel.MessageText;
import io.aegisquartz.alert.channel.NotifyConfig;
import io.aegisquartz.config.AgentSettings;
import io.aegisquartz.config.AlertRule;
import io.aegisquartz.config.Units;
import io.aegisquartz.plugin.RunnerThreads;
import io.aegisquartz.plugin.exec.ProcessRunner;
import io.aegisquartz.receive.SilenceWatch;
import io.aegisquartz.sample.SampleStamper;
import io.aegisquartz.log.LogSetup;
import io.aegisquartz.receive.Fault;
import io.aegisquartz.receive.Receiver;
import io.aegisquartz.output.aegis.Credentials;
import io.aegisquartz.output.aegis.CredentialsException;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;

/** Runs the reference receiver of the upload protocol in the foreground until SIGTERM or SIGINT. */
final class ReceiveCommand implements Command {

    @Override
    public String name() {
        return "receive";
    }

    @Override
    public String summary() {
        return "Run an HTTPS receiver for uploaded samples (protocol reference, tests)";
    }

    @Override
    public String help() {
        return """
                Usage: aegis-quartz receive [OPTIONS]

                Runs an HTTPS server that accepts sample batches from agents, exactly as
                docs/PROTOCOL.md describes: it checks each request's access key, timestamp, nonce,
                content hash and HMAC signature, then the samples, and appends accepted samples to
                FILE as JSON lines (the docs/SAMPLES.md format), storing each sample id once.
                Samples are posted to https://HOST:PORT/aegis/v1/samples.

                Without --keystore, a self-signed certificate for localhost, 127.0.0.1 and ::1 (and
                the --listen host, if it is a specific one) is generated on first start in the state
                directory; the path of its PEM file is printed so agents can trust it. Delete the
                state directory's receiver.* files to generate a new one.

                Options:
                  --listen HOST:PORT   address to listen on (default 127.0.0.1:8443; 0.0.0.0:8443 for
                                       every interface; [::1]:8443 for IPv6)
                  --out FILE           where accepted samples are appended
                                       (default HOME/receive/samples.jsonl)
                  --credentials FILE   the access key agents sign with: [credentials] access_key_id
                                       and access_key_secret; mode 0600, owned by you
                                       (default CONF/credentials, the file the agent uses too)
                  --state-dir DIR      where the generated keystore and certificate are kept
                                       (default HOME/receive)
                  --keystore FILE      a PKCS#12 keystore with the server key and certificate to use
                                       instead of generating one; needs --keystore-password-file
                  --keystore-password-file FILE
                                       file whose first line is the keystore password
                  --max-body SIZE      largest batch, both as sent (gzipped) and decompressed
                                       (default 1MiB; e.g. 512KiB, 2MiB)

                Silence check (off by default; docs/ALERTS.md, "Heartbeat and silence"):
                  --silence-after DURATION
                                       a host (by host_uuid) that has sent nothing for this long
                                       is notified once as silent, and once as back when it sends
                                       again (e.g. 2m; more than the agents' [agent]
                                       health_interval plus their upload linger); needs --notify
                  --notify CHANNEL[,CHANNEL]
                                       channels of the channels file to notify
                  --notify-config FILE the channels file (default: [alert] channels_file of
                                       aegis_config.ini, i.e. CONF/aegis_notify.ini; mode 0600,
                                       owned by you). group_wait, max_per_hour and give_up_after
                                       are [alert]'s. The host table and undelivered notifications
                                       are kept in the state directory (alerts/state.json): a
                                       restart notifies no host twice, and counts the silence
                                       time of hosts not yet silent from the restart

                Fault injection (off by default; for testing agents, and bench/soak):
                  --faults LIST        answer some requests wrongly on purpose: a comma-separated
                                       list of the faults below, or 'all'. A request that passed
                                       every check gets the fault instead of being stored (only
                                       close-after-store and slow store it); the faults are used
                                       in turn, round and round
                  --fault-every N      one request in N gets the next fault (default 10)
                  --fault-delay DURATION
                                       how long a 'slow' request waits before it is handled
                                       (default 35s, longer than the agent's 30s timeout)
                Faults:
                %s

                Runs until SIGTERM or SIGINT (Ctrl-C), then finishes requests in progress. Logs one
                line per request to standard error; secrets are never logged. Exits 1 if it cannot
                start (credentials file unusable, port taken, keystore unreadable).
                """.formatted(Fault.describeAll());
    }

    @Override
    public int run(Cli cli, List<String> args) throws Exception {
        Args a = new Args(name(), args, Set.of("--listen", "--out", "--credentials", "--state-dir", "--keystore",
                "--keystore-password-file", "--max-body", "--faults", "--fault-every", "--fault-delay", "--silence-after", "--notify",
                "--notify-config"), Set.of(), false);
        if (!a.positional().isEmpty()) {
            throw new UsageException("receive takes no arguments, found '" + a.positional().get(0) + "'; see 'aegis-quartz receive --help'");
        }
        InetSocketAddress listen = listen(a.value("--listen") == null ? "127.0.0.1:8443" : a.value("--listen"));
        Path out = path(cli, a.value("--out"), cli.home().resolve("receive").resolve("samples.jsonl"));
        Path credentialsFile = path(cli, a.value("--credentials"), cli.conf().resolve("credentials"));
        Path stateDir = path(cli, a.value("--state-dir"), cli.home().resolve("receive"));
        int maxBody = Receiver.DEFAULT_MAX_BODY;
        if (a.value("--max-body") != null) {
            long b = Units.parseBytes(a.value("--max-body"));
            if (b < 1024 || b > 256L * 1024 * 1024) {
                throw new UsageException("--max-body: expected a size from 1KiB to 256MiB, " + Units.SIZE_FORMS);
            }
            maxBody = (int) b;
        }
        List<Fault> faults = null;
        int faultEvery = 10;
        Duration faultDelay = Duration.ofSeconds(35);
        if (a.value("--faults") != null) {
            try {
                faults = Fault.parseList(a.value("--faults"));
            } catch (IllegalArgumentException e) {
                throw new UsageException("--faults: " + e.getMessage());
            }
            if (a.value("--fault-every") != null) {
                try {
                    faultEvery = Integer.parseInt(a.value("--fault-every"));
                } catch (NumberFormatException e) {
                    faultEvery = 0;
                }
                if (faultEvery < 1) {
                    throw new UsageException("--fault-every: expected a whole number from 1 up, found '" + a.value("--fault-every") + "'");
                }
            }
            if (a.value("--fault-delay") != null) {
                faultDelay = Units.parseDuration(a.value("--fault-delay"));
                if (faultDelay == null) {
                    throw new UsageException("--fault-delay: expected a duration such as 7s or 500ms, found '"
                            + a.value("--fault-delay") + "'");
                }
                if (faultDelay.compareTo(Duration.ofSeconds(Receiver.MAX_SKEW_SECONDS / 2)) > 0) {
                    throw new UsageException("--fault-delay: at most " + Receiver.MAX_SKEW_SECONDS / 2
                            + "s, so that the delayed request's timestamp is still inside the window when it is checked");
                }
            }
        } else if (a.value("--fault-every") != null || a.value("--fault-delay") != null) {
            throw new UsageException("--fault-every and --fault-delay go with --faults; see 'aegis-quartz receive --help'");
        }
        if ((a.value("--keystore") == null) != (a.value("--keystore-password-file") == null)) {
            throw new UsageException("--keystore and --keystore-password-file go together; see 'aegis-quartz receive --help'");
        }

        Duration silenceAfter = null;
        List<String> notify = List.of();
        if (a.value("--silence-after") != null || a.value("--notify") != null || a.value("--notify-config") != null) {
            if (a.value("--silence-after") == null || a.value("--notify") == null) {
                throw new UsageException("--silence-after and --notify go together (--notify-config with them); see 'aegis-quartz receive --help'");
            }
            silenceAfter = Units.parseDuration(a.value("--silence-after"));
            if (silenceAfter == null || silenceAfter.toMillis() < 1000 || silenceAfter.toDays() > 7) {
                throw new UsageException("--silence-after: expected a duration from 1s to 7d such as 2m, found '" + a.value("--silence-after") + "'");
            }
            notify = List.of(a.value("--notify").split(",", -1));
            for (String c : notify) {
                if (!AlertRule.CHANNEL_NAME.matcher(c).matches()) {
                    throw new UsageException("--notify: '" + c + "' is not a channel name (letters, digits, _ or -, comma-separated)");
                }
            }
        }

        Credentials credentials;
        try {
            credentials = Credentials.load(credentialsFile);
        } catch (CredentialsException e) {
            cli.err().println("aegis-quartz: cannot start: " + e.getMessage());
            return Cli.PROBLEMS;
        }
        Receiver.Config config = new Receiver.Config().listen(listen).out(out).stateDir(stateDir)
                .credentials(List.of(credentials)).maxBody(maxBody);
        if (faults != null) {
            config.faults(faults, faultEvery, faultDelay);
        }
        if (a.value("--keystore") != null) {
            Path pwFile = path(cli, a.value("--keystore-password-file"), null);
            char[] password;
            try {
                password = Files.readAllLines(pwFile, StandardCharsets.UTF_8).stream().findFirst().orElse("").toCharArray();
            } catch (IOException e) {
                cli.err().println("aegis-quartz: cannot start: cannot read keystore password file " + pwFile + ": " + e);
                return Cli.PROBLEMS;
            }
            config.keystore(path(cli, a.value("--keystore"), null), password);
        }

        LogSetup.apply(null, "info", 0, 1, true);
        try (RunnerThreads threads = new RunnerThreads(4)) {
            SilenceWatch silence = null;
            if (silenceAfter != null) {
                silence = silenceWatch(cli, a.value("--notify-config"), notify, silenceAfter, stateDir, threads);
                if (silence == null) {
                    return Cli.PROBLEMS;
                }
                config.silence(silence);
            }
            try {
                return serve(cli, config, out);
            } finally {
                if (silence != null) {
                    silence.close();
                }
            }
        }
    }

    /** The silence check on the channels file, or null (the problems printed) if it cannot be made. */
    private static SilenceWatch silenceWatch(Cli cli, String notifyConfig, List<String> notify, Duration after, Path stateDir,
                                             RunnerThreads threads) {
        AgentSettings settings = cli.settings();
        Path file = notifyConfig != null ? Path.of(notifyConfig).toAbsolutePath().normalize() : settings.alert().channelsFile();
        NotifyConfig channels = NotifyConfig.load(file);
        if (!channels.problems().isEmpty()) {
            channels.problems().forEach(p -> cli.err().println(p.format()));
            cli.err().println("aegis-quartz: cannot start: " + file + " has " + channels.problems().size() + " problem(s); fix them first");
            return null;
        }
        for (String c : notify) {
            if (!channels.channels().containsKey(c)) {
                cli.err().println("aegis-quartz: cannot start: --notify " + c + ": no channel [channel." + c + "] in " + file
                        + (channels.channels().isEmpty() ? " (it has none)" : "; channels: " + String.join(", ", channels.channels().keySet())));
                return null;
            }
        }
        String host = new SampleStamper("", settings.hostname()).hostname();
        NotifyConfig.Context ctx = new NotifyConfig.Context(Clock.systemUTC(), MessageText.local(), () -> new ProcessRunner(threads),
                settings.defaultJobOptions(), stateDir.resolve("alerts").resolve("exec"));
        // Notification ids are name-based UUIDs of this id, the channel and a sequence number kept in the state.
        Alerting alerting = new Alerting(settings.alert(), stateDir, "receiver:" + host + ":" + stateDir, () -> host, ctx, null, null,
                Clock.systemUTC());
        alerting.channels(channels);
        return new SilenceWatch(alerting, after, notify, Clock.systemUTC()).start();
    }

    private static int serve(Cli cli, Receiver.Config config, Path out) throws Exception {
        Receiver receiver;
        try {
            receiver = Receiver.start(config);
        } catch (Receiver.StartException e) {
            cli.err().println("aegis-quartz: cannot start: " + e.getMessage());
            return Cli.PROBLEMS;
        }
        CountDownLatch stop = new CountDownLatch(1);
        Signals.onStop(stop::countDown);
        cli.out().println("listening on " + receiver.endpoint() + " (bound to " + receiver.address().getHostString() + ":"
                + receiver.address().getPort() + ")");
        cli.out().println("storing samples in " + out);
        if (receiver.certificatePem() != null) {
            cli.out().println("certificate to trust: " + receiver.certificatePem());
        }
        cli.out().flush();
        stop.await();
        receiver.close();
        Receiver.Stats s = receiver.stats();
        LoggerFactory.getLogger("receive").info("stopped: {} request(s), {} sample(s) accepted, {} duplicate(s), {} request(s) rejected"
                        + " ({} by injected faults)", s.requests(), s.acceptedSamples(), s.duplicateSamples(), s.rejectedRequests(),
                s.injectedFaults());
        ((ch.qos.logback.classic.LoggerContext) LoggerFactory.getILoggerFactory()).stop();
        return Cli.OK;
    }

    /** HOST:PORT, [IPV6]:PORT. */
    static InetSocketAddress listen(String s) throws UsageException {
        int colon = s.lastIndexOf(':');
        if (colon <= 0 || colon == s.length() - 1) {
            throw new UsageException("--listen: expected HOST:PORT (e.g. 127.0.0.1:8443, 0.0.0.0:8443, [::1]:8443), found '" + s + "'");
        }
        String host = s.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int port;
        try {
            port = Integer.parseInt(s.substring(colon + 1));
        } catch (NumberFormatException e) {
            port = -1;
        }
        if (port < 0 || port > 65535) {
            throw new UsageException("--listen: port must be 0-65535, found '" + s.substring(colon + 1) + "'");
        }
        InetSocketAddress address = new InetSocketAddress(host, port);
        if (address.isUnresolved()) {
            throw new UsageException("--listen: cannot resolve host '" + host + "'");
        }
        return address;
    }

    private static Path path(Cli cli, String value, Path fallback) {
        return value == null ? fallback : Path.of(value).toAbsolutePath().normalize();
    }
}
