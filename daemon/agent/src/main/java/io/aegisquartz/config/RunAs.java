package io.aegisquartz.config;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Pattern;

/**
 * The local user an executable plugin runs as ({@code user=NAME} on its cron line).
 *
 * <p>Looked up in /etc/passwd when the cron line is read: the account's uid and primary gid are what
 * the run switches to, and a name that is not there is a problem on that line, not a failed run
 * every minute. Network accounts (LDAP, SSSD) are not accepted: a plugin's account should exist on
 * the host even when the directory is down. Its supplementary groups come from initgroups(3) at each
 * run, which does ask every name service the host has configured.
 */
public record RunAs(String name, int uid, int gid) {

    private static final Pattern NAME = Pattern.compile("[a-z_][a-z0-9_.-]{0,31}\\$?");
    private static final Path PASSWD = Path.of("/etc/passwd");

    /** Capability bits (linux/capability.h) the agent needs to start and stop a plugin as another user. */
    private static final long CAP_KILL = 1L << 5;
    private static final long CAP_SETGID = 1L << 6;
    private static final long CAP_SETUID = 1L << 7;

    /** The account {@code name}; IllegalArgumentException with a readable reason if there is none. */
    public static RunAs lookup(String name) {
        if (!NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("'" + name + "' is not a valid user name");
        }
        try {
            for (String line : Files.readAllLines(PASSWD)) {
                String[] f = line.split(":", -1);
                if (f.length >= 4 && f[0].equals(name)) {
                    return new RunAs(name, Integer.parseInt(f[2]), Integer.parseInt(f[3]));
                }
            }
        } catch (IOException | NumberFormatException e) {
            throw new IllegalArgumentException("cannot read " + PASSWD + ": " + e.getMessage());
        }
        throw new IllegalArgumentException("no user '" + name + "' in " + PASSWD);
    }

    /**
     * Null if this agent may run plugins as other users (it is root, or holds CAP_SETUID, CAP_SETGID
     * and CAP_KILL), else what it lacks. CAP_KILL because a run that hits its limit is killed by the
     * agent, and the kernel lets only the owner or CAP_KILL signal a process.
     */
    public static String agentCannotSwitch() {
        if (StrictModes.ownUid() == 0) {
            return null;
        }
        long eff = capabilities("CapEff");
        long need = CAP_KILL | CAP_SETGID | CAP_SETUID;
        if ((eff & need) == need) {
            return null;
        }
        return "the agent runs as uid " + StrictModes.ownUid() + " without CAP_SETUID, CAP_SETGID and CAP_KILL";
    }

    /** True if the agent holds ambient capabilities, which its child processes would inherit. */
    public static boolean agentHasAmbientCapabilities() {
        return capabilities("CapAmb") != 0;
    }

    private static long capabilities(String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(field + ":")) {
                    return Long.parseUnsignedLong(line.substring(field.length() + 1).trim(), 16);
                }
            }
        } catch (IOException | NumberFormatException e) {
            // No /proc: assume none.
        }
        return 0;
    }
}
