package io.aegisquartz.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;

/** Runs the CLI in this JVM against an agent home, keeping what it printed, for tests. */
final class InProcessCli {

    private final Path home;
    private ByteArrayOutputStream out = new ByteArrayOutputStream();
    private ByteArrayOutputStream err = new ByteArrayOutputStream();

    InProcessCli(Path home) {
        this.home = home;
    }

    /** Runs {@code aegis-quartz --home HOME ARGS...}; returns the exit code. */
    int run(String... args) {
        out = new ByteArrayOutputStream();
        err = new ByteArrayOutputStream();
        String[] argv = new String[args.length + 2];
        argv[0] = "--home";
        argv[1] = home.toString();
        System.arraycopy(args, 0, argv, 2, args.length);
        return new Cli(new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8), Map.of())
                .execute(argv);
    }

    /** Standard output of the last run. */
    String out() {
        return out.toString(StandardCharsets.UTF_8);
    }

    /** Standard error of the last run. */
    String err() {
        return err.toString(StandardCharsets.UTF_8);
    }
}
