package io.aegisquartz.cli;

import io.aegisquartz.Version;

import java.util.List;

final class VersionCommand implements Command {

    @Override
    public String name() {
        return "version";
    }

    @Override
    public String summary() {
        return "Print the version";
    }

    @Override
    public String help() {
        return "Usage: aegis-quartz version\n\nPrints the agent's version and the Java runtime it runs on.\n";
    }

    @Override
    public int run(Cli cli, List<String> args) throws UsageException {
        new Args(name(), args, java.util.Set.of(), java.util.Set.of(), false);
        cli.out().println("aegis-quartz " + Version.get() + " (Java " + Runtime.version() + ")");
        return Cli.OK;
    }
}
