package io.aegisquartz.cli;

import io.aegisquartz.config.AgentSettings;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Parses the global options, picks the command and runs it. */
public final class Cli {

    static final int OK = 0;
    static final int PROBLEMS = 1;
    static final int USAGE = 2;

    private final PrintStream out;
    private final PrintStream err;
    private final Map<String, String> env;
    private final List<Command> commands = List.of(new RunCommand(), new CheckConfigCommand(), new RunPluginCommand(),
            new TestCommand(), new StatusCommand(), new RunNowCommand(), new ReceiveCommand(), new SpoolCommand(), new EventCommand(),
            new UnquarantineCommand(), new NotifyCommand(), new SilenceCommand(), new ConfigReferenceCommand(), new VersionCommand());
    private Path home;
    private Path conf;

    public Cli(PrintStream out, PrintStream err, Map<String, String> env) {
        this.out = out;
        this.err = err;
        this.env = env;
    }

    PrintStream out() {
        return out;
    }

    PrintStream err() {
        return err;
    }

    /** The environment this command line runs in. */
    Map<String, String> env() {
        return env;
    }

    /** The agent's home directory. */
    Path home() {
        return home;
    }

    /** The config directory. */
    Path conf() {
        return conf;
    }

    /** An environment variable, or null if it is unset or empty. */
    String env(String name) {
        return setting(name);
    }

    /** Settings from the config directory (problems included, not thrown). */
    AgentSettings settings() {
        return AgentSettings.load(home, conf);
    }

    /** Runs the command line; returns the process exit code. */
    public int execute(String... argv) {
        List<String> rest = new ArrayList<>();
        String homeArg = null;
        String confArg = null;
        int i = 0;
        try {
            for (; i < argv.length; i++) {
                String a = argv[i];
                if (a.equals("--home") || a.equals("--conf")) {
                    if (i + 1 >= argv.length) {
                        throw new UsageException(a + " needs a directory");
                    }
                    if (a.equals("--home")) {
                        homeArg = argv[++i];
                    } else {
                        confArg = argv[++i];
                    }
                } else if (a.startsWith("--home=")) {
                    homeArg = a.substring(7);
                } else if (a.startsWith("--conf=")) {
                    confArg = a.substring(7);
                } else if (a.equals("-h") || a.equals("--help") || a.equals("help")) {
                    if (a.equals("help") && i + 1 < argv.length) {
                        Command c = find(argv[i + 1]);
                        out.print(c.help());
                        return OK;
                    }
                    out.print(help());
                    return OK;
                } else if (a.equals("--version")) {
                    return new VersionCommand().run(this, List.of());
                } else if (a.startsWith("-")) {
                    throw new UsageException("unknown option " + a + "; see 'aegis-quartz --help'");
                } else {
                    break;
                }
            }
            if (i >= argv.length) {
                err.print(help());
                return USAGE;
            }
            Command command = find(argv[i]);
            for (int j = i + 1; j < argv.length; j++) {
                rest.add(argv[j]);
            }
            if (wantsHelp(command, rest)) {
                out.print(command.help());
                return OK;
            }
            home = resolveHome(homeArg);
            String confEnv = setting("AEGIS_CONF");
            conf = confArg != null ? Path.of(confArg).toAbsolutePath().normalize()
                    : confEnv != null ? Path.of(confEnv).toAbsolutePath().normalize()
                    : home.resolve("conf");
            return command.run(this, rest);
        } catch (UsageException e) {
            err.println("aegis-quartz: " + e.getMessage());
            return USAGE;
        } catch (Exception e) {
            err.println("aegis-quartz: unexpected error: " + e);
            e.printStackTrace(err);
            return PROBLEMS;
        }
    }

    /** --help counts only before run-plugin's plugin path; after it, it belongs to the plugin. */
    private static boolean wantsHelp(Command command, List<String> rest) {
        for (String a : rest) {
            if (a.equals("--help") || a.equals("-h")) {
                return true;
            }
            if (command instanceof RunPluginCommand && !a.startsWith("-")) {
                return false;
            }
        }
        return false;
    }

    /**
     * An environment variable, or null if it is unset or empty, as the launcher reads it: so that
     * {@code AEGIS_CONF=} does not make the agent read its config from the current directory while the
     * launcher looks in HOME/conf.
     */
    private String setting(String name) {
        String v = env.get(name);
        return v == null || v.isEmpty() ? null : v;
    }

    private Path resolveHome(String arg) {
        String h = arg != null ? arg : setting("AEGIS_HOME");
        return (h != null ? Path.of(h) : Path.of("")).toAbsolutePath().normalize();
    }

    private Command find(String name) throws UsageException {
        for (Command c : commands) {
            if (c.name().equals(name)) {
                return c;
            }
        }
        throw new UsageException("unknown command '" + name + "'; commands: "
                + String.join(", ", commands.stream().map(Command::name).toList()) + " (see 'aegis-quartz --help')");
    }

    String help() {
        StringBuilder sb = new StringBuilder();
        sb.append("Usage: aegis-quartz [--home DIR] [--conf DIR] COMMAND [OPTIONS]\n\n");
        sb.append("A resource-capped host-monitoring agent: runs sampler plugins (Groovy, JAR, any executable)\n");
        sb.append("on Quartz cron schedules under wall-time and CPU limits, and writes every result as a sample.\n\n");
        sb.append("Commands:\n");
        for (Command c : commands) {
            sb.append(String.format("  %-17s %s%n", c.name(), c.summary()));
        }
        sb.append(String.format("  %-17s %s%n", "cds-archive", "Create the class-data archive that makes starts faster (done by the launcher)"));
        sb.append(String.format("  %-17s %s%n", "help COMMAND", "Print a command's options"));
        sb.append("""

                Global options:
                  --home DIR   the agent's home; relative paths in aegis_config.ini are taken from it
                               (default: $AEGIS_HOME, else the current directory)
                  --conf DIR   the config directory holding aegis_config.ini and the cron files
                               (default: $AEGIS_CONF if set and not empty, else HOME/conf)
                  -h, --help   print this help
                  --version    print the version

                Exit codes: 0 ok; 1 problems found or failure; 2 bad command line; 75 restart requested.
                'status', 'run-now', 'run-plugin' and 'test' have their own (see their --help).
                """);
        return sb.toString();
    }
}
