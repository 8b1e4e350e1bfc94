package io.aegisquartz.alert;

/**
 * Nagios' flap detection: the state of each of the last 21 (hard) runs, and the share of them that
 * changed state, newer changes weighted more (0.75 for the oldest pair to 1.25 for the newest), as
 * Nagios core's check_for_service_flapping computes it. Flapping starts at or above the high
 * threshold and stops at or below the low one; in between it stays as it was.
 *
 * <p>A history is a string of one character per run, oldest first; runs before the first one
 * recorded count as ok, as Nagios starts a service's history.
 */
final class Flapping {

    /** Nagios' MAX_STATE_HISTORY_ENTRIES. */
    static final int RUNS = 21;
    private static final double LOW_CURVE = 0.75;
    private static final double HIGH_CURVE = 1.25;

    private Flapping() {
    }

    /** The history with {@code state} appended, at most {@link #RUNS} long. */
    static String push(String history, char state) {
        String h = history == null ? "" : history;
        if (h.length() >= RUNS) {
            h = h.substring(h.length() - RUNS + 1);
        }
        return h + state;
    }

    /** The weighted percentage of state change over the history, 0 to 100. */
    static double percent(String history) {
        String h = history == null ? "" : history;
        // Left-pad with ok: what Nagios' zeroed history holds before the first runs.
        int pad = RUNS - h.length();
        double changes = 0;
        char last = pad > 0 ? OK : h.charAt(0);
        for (int x = 1; x < RUNS; x++) {
            int i = x - pad;
            char c = i < 0 ? OK : h.charAt(i);
            if (c != last) {
                changes += (x - 1) * (HIGH_CURVE - LOW_CURVE) / (RUNS - 2) + LOW_CURVE;
            }
            last = c;
        }
        return changes * 100.0 / (RUNS - 1);
    }

    /** The code of ok in a history. */
    static final char OK = 'o';

    /** True if nothing in the history differs from ok: the series can be forgotten. */
    static boolean allOk(String history) {
        for (int i = 0; i < history.length(); i++) {
            if (history.charAt(i) != OK) {
                return false;
            }
        }
        return true;
    }
}
