package io.aegisquartz.cli;

import java.util.List;

/** One sub-command of the aegis-quartz CLI. */
interface Command {

    /** The word that selects it. */
    String name();

    /** One line for the command list. */
    String summary();

    /** Full help: usage line, description, options. */
    String help();

    /** Runs it; returns the exit code. */
    int run(Cli cli, List<String> args) throws Exception;
}
