package io.aegisquartz.plugin.host;

import io.aegisquartz.sample.Status;

/**
 * Why a plugin host ended, as the agent established it, and which run (if any) is known to have
 * caused it.
 *
 * @param culprit  the run id to blame, or 0 when the agent does not know which run it was
 * @param status   the status of the run blamed (the culprit, or the one run that could have done it)
 * @param message  that run's message: what happened, and to the host
 * @param what     what happened to the host, for the log and for the other runs in flight: "exited with
 *                 code 0 (a plugin called System.exit)"
 * @param expected true when the agent ended the host on purpose with nothing wrong (no job uses it, the agent stops)
 */
record HostDeath(long culprit, Status status, String message, String what, boolean expected) {

    /** The host ended and the agent does not know (yet) which run did it. */
    static HostDeath unexplained(Status status, String what) {
        return new HostDeath(0, status, "the plugin host " + what + "; it was restarted", what, false);
    }

    /** The host ended because of run {@code culprit}. */
    static HostDeath blaming(long culprit, Status status, String message, String what) {
        return new HostDeath(culprit, status, message, what, false);
    }

    /** The agent ended the host on purpose. */
    static HostDeath closed(String what) {
        return new HostDeath(0, Status.ERROR, "the plugin host " + what, what, true);
    }
}
