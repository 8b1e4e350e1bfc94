package io.aegisquartz.cli;

import java.util.Map;

/** Whether output goes to a terminal, and the colours a command may use there. */
final class Terminal {

    private Terminal() {
    }

    /**
     * Whether file descriptor {@code fd} of this process is a terminal. Not System.console(): that
     * also needs stdin to be one, and the launcher runs the agent in the background, where stdin is /dev/null.
     */
    static boolean isTerminal(int fd) {
        try {
            String target = java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/self/fd/" + fd)).toString();
            return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty") || target.equals("/dev/console");
        } catch (java.io.IOException | UnsupportedOperationException e) {
            return false;
        }
    }

    /** Colour on standard output: only on a terminal, and not when NO_COLOR is set (no-color.org) or TERM is dumb. */
    static boolean colourOnStdout(Map<String, String> env) {
        String noColour = env.get("NO_COLOR");
        return isTerminal(1) && (noColour == null || noColour.isEmpty()) && !"dumb".equals(env.get("TERM"));
    }
}
