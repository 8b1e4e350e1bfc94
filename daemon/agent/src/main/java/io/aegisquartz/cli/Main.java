package io.aegisquartz.cli;

/** Entry point of the aegis-quartz command. */
public final class Main {

    private Main() {
    }

    public static void main(String[] args) {
        int code = new Cli(System.out, System.err, System.getenv()).execute(args);
        System.out.flush();
        System.exit(code);
    }
}
