package io.aegisquartz.cli;

import sun.misc.Signal;

/**
 * SIGHUP reloads; SIGTERM and SIGINT stop cleanly. Isolated here because sun.misc.Signal (module
 * jdk.unsupported) is the only way a Java program can handle SIGHUP.
 */
final class Signals {

    private Signals() {
    }

    static void onReload(Runnable action) {
        Signal.handle(new Signal("HUP"), s -> action.run());
    }

    static void onStop(Runnable action) {
        Signal.handle(new Signal("TERM"), s -> action.run());
        Signal.handle(new Signal("INT"), s -> action.run());
    }
}
