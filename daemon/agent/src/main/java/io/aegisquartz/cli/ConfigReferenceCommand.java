package io.aegisquartz.cli;

import io.aegisquartz.config.Setting;
import io.aegisquartz.config.Settings;

import java.util.List;
import java.util.Set;

/** Prints the aegis_config.ini reference that README.md carries, from the settings table itself. */
final class ConfigReferenceCommand implements Command {

    @Override
    public String name() {
        return "config-reference";
    }

    @Override
    public String summary() {
        return "Print every aegis_config.ini key with its default and meaning (Markdown)";
    }

    @Override
    public String help() {
        return """
                Usage: aegis-quartz config-reference

                Prints a Markdown table of every key aegis_config.ini accepts: section, key, default,
                allowed values and meaning. README.md holds the same table. Durations are written
                like 500ms, 30s, 5m, 1h, 1d (a bare number is seconds); sizes like 64KiB, 1MiB, 1GiB
                (KB, MB, GB are powers of 1000; a bare number is bytes). Relative paths are taken from
                the agent's home directory.
                """;
    }

    @Override
    public int run(Cli cli, List<String> args) throws UsageException {
        new Args(name(), args, Set.of(), Set.of(), false);
        cli.out().print(table());
        return Cli.OK;
    }

    /** The Markdown table. */
    static String table() {
        StringBuilder sb = new StringBuilder();
        sb.append("| Key | Default | Allowed | Meaning |\n");
        sb.append("|---|---|---|---|\n");
        for (Setting s : Settings.ALL) {
            String def = s.defaultValue().isEmpty() ? "(empty)" : "`" + s.defaultValue() + "`";
            sb.append("| `[").append(s.section()).append("] ").append(s.key()).append("` | ").append(def).append(" | ")
                    .append(s.allowedShort()).append(" | ").append(s.description()).append(" |\n");
        }
        return sb.toString();
    }
}
