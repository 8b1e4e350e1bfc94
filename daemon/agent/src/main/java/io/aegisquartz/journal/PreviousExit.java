package io.aegisquartz.journal;

import io.aegisquartz.log.LogText;

import java.util.Locale;
import java.util.Set;

/**
 * How the previous agent process ended, as the launcher saw it: the environment variable
 * {@code AEGIS_PREVIOUS_EXIT}, {@code KIND:DETAIL}, which the launcher sets when it starts the agent
 * again after an exit it did not ask for. KIND is {@code exit} (DETAIL: the exit code), {@code signal}
 * (the signal's name, e.g. KILL), {@code watchdog} (seconds without a heartbeat) or {@code oom}
 * (DETAIL empty or the exit code). Absent on a first start, and after systemd itself restarted the
 * launcher.
 *
 * @param kind   exit, signal, watchdog, oom, another word from a newer launcher, or null if unset
 * @param detail what follows the colon, escaped; "" if none
 */
public record PreviousExit(String kind, String detail) {

    /** The name of the environment variable. */
    public static final String VARIABLE = "AEGIS_PREVIOUS_EXIT";

    /** Signals that mean the JVM itself crashed (a fatal error), not that someone killed it. */
    private static final Set<String> CRASH_SIGNALS = Set.of("SEGV", "BUS", "ABRT", "ILL", "FPE", "SYS");

    /** No launcher information. */
    public static final PreviousExit UNKNOWN = new PreviousExit(null, "");

    /** Parses the variable's value; null or blank is {@link #UNKNOWN}. */
    public static PreviousExit parse(String value) {
        if (value == null || value.isBlank()) {
            return UNKNOWN;
        }
        String v = value.strip();
        int colon = v.indexOf(':');
        String kind = (colon < 0 ? v : v.substring(0, colon)).toLowerCase(Locale.ROOT);
        String detail = colon < 0 ? "" : v.substring(colon + 1);
        if (kind.equals("signal")) {
            detail = detail.toUpperCase(Locale.ROOT);
            detail = detail.startsWith("SIG") ? detail.substring(3) : detail;
        }
        return new PreviousExit(LogText.escape(kind, 32), LogText.escape(detail, 64));
    }

    /**
     * True if the previous agent ended in a way a plugin inside it can cause and an operator does not:
     * an exit it did not ask for (Runtime.halt, a native exit), running out of memory, a freeze the
     * watchdog ended, a crash of the JVM. A SIGKILL or SIGTERM from outside is not the plugin's doing.
     */
    public boolean pluginCouldCause() {
        return kind != null && (kind.equals("exit") || kind.equals("oom") || kind.equals("watchdog")
                || (kind.equals("signal") && CRASH_SIGNALS.contains(detail)));
    }

    /** How the agent ended, as a clause: "the agent was killed by SIGKILL". */
    public String describe() {
        if (kind == null) {
            return "the agent stopped";
        }
        return switch (kind) {
            case "exit" -> "the agent exited with code " + (detail.isEmpty() ? "(unknown)" : detail)
                    + " without running its shutdown hooks (Runtime.halt or a native exit)";
            case "oom" -> "the agent ran out of memory and exited (OutOfMemoryError" + (detail.isEmpty() ? "" : ", exit code " + detail) + ")";
            case "watchdog" -> "the agent stopped responding and the watchdog killed it (no heartbeat for "
                    + (detail.isEmpty() ? "too long" : detail + " s") + ")";
            case "signal" -> CRASH_SIGNALS.contains(detail) ? "the agent's JVM crashed (SIG" + detail + ")"
                    : "the agent was killed by SIG" + (detail.isEmpty() ? "(unknown)" : detail);
            default -> "the agent ended (" + kind + (detail.isEmpty() ? "" : ":" + detail) + ")";
        };
    }
}
