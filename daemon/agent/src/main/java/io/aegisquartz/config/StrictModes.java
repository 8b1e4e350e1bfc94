package io.aegisquartz.config;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Refuses code and job files that someone other than root or the agent's own user could have written,
 * as sshd's StrictModes does for authorized_keys.
 *
 * <p>The agent runs whatever the cron files name, with its own privileges (which, for the packaged
 * service, include reading every process's /proc files). A plugin that any local user may edit is a
 * way for that user to borrow those privileges, so the agent checks the file and every directory
 * above it up to the plugin folder (or the config folder) it lives in: none may be writable by group
 * or others, and each must be owned by root or by the agent's user. A file outside those folders (an
 * absolute path in a cron line) is checked with its own directory only. The check follows symbolic
 * links, so it judges the file that would actually run.
 */
public final class StrictModes {

    /** Why a file is refused, and the command that fixes it. */
    public record Refusal(Path path, String problem, String fix) {
        public String message() {
            return "refusing " + path + ": " + problem;
        }
    }

    private static final StrictModes OFF = new StrictModes(false, List.of(), -1);

    private final boolean enabled;
    private final List<Path> roots;
    private final int agentUid;

    private StrictModes(boolean enabled, List<Path> roots, int agentUid) {
        this.enabled = enabled;
        this.roots = roots;
        this.agentUid = agentUid;
    }

    /** The checks {@code settings} ask for: its plugin folders and config folder are the roots. */
    public static StrictModes of(AgentSettings settings) {
        if (!settings.bool("plugins.strict_modes")) {
            return OFF;
        }
        return new StrictModes(true, List.of(abs(settings.defaultPluginDir()), abs(settings.userPluginDir()), abs(settings.confDir())),
                ownUid());
    }

    private static Path abs(Path p) {
        try {
            return p.toRealPath();
        } catch (IOException e) {
            return p.toAbsolutePath().normalize();
        }
    }

    /** No checks at all (tests of other features, tools that only read). */
    public static StrictModes off() {
        return OFF;
    }

    /** Null if {@code file} may be trusted, else the first reason it may not. A missing file is not this check's business. */
    public Refusal check(Path file) {
        if (!enabled) {
            return null;
        }
        Path f;
        try {
            // Judge the file that would run: through a symbolic link, its own folders are the ones that matter.
            f = file.toRealPath();
        } catch (IOException e) {
            return null; // missing: the caller reports that
        }
        Path root = roots.stream().filter(r -> f.startsWith(r) && !f.equals(r)).findFirst().orElse(f.getParent());
        for (Path p = f; p != null; p = p.getParent()) {
            Refusal r = checkOne(p, p == f);
            if (r != null || p.equals(root)) {
                return r;
            }
        }
        return null;
    }

    /**
     * Everything this check refuses in the config and plugin folders (the folders included), with one
     * command that fixes it all.
     *
     * @param refused  how many files and folders are refused
     * @param roots    the folders they are in, as the command names them
     * @param command  the command, to be run from the current directory
     */
    public record Sweep(int refused, List<String> roots, String command) {

        /** One log line: how many, where, and the command. */
        public String message() {
            return refused + " file(s) and folder(s) in " + String.join(", ", roots) + " can be written by users other than root "
                    + "and the agent's (a umask of 002 does this), so the agent refuses them and every job that needs them; "
                    + "fix them all at once with: " + command;
        }
    }

    /** Most entries looked at by {@link #sweep()}: plugin folders hold tens of files, not thousands. */
    private static final int SWEEP_MAX = 20_000;

    /**
     * Looks at every file and folder under the config and plugin folders at once, so that an operator
     * whose umask made them all group-writable gets one command instead of a refusal per round of
     * fixes (the config folder, then its files, then the plugin folder, then each plugin). Null if
     * nothing is refused (or the check is off).
     */
    public Sweep sweep() {
        if (!enabled) {
            return null;
        }
        // Config first, then the plugins; a folder inside another (plugins-user in /etc/aegis-quartz) is covered by it.
        List<Path> tops = new java.util.ArrayList<>();
        for (Path r : List.of(roots.get(2), roots.get(0), roots.get(1))) {
            if (tops.stream().noneMatch(r::startsWith) && Files.isDirectory(r)) {
                tops.removeIf(t -> t.startsWith(r));
                tops.add(r);
            }
        }
        int refused = 0;
        boolean others = false;
        java.util.Set<Path> writable = new java.util.LinkedHashSet<>();
        java.util.Set<Path> owned = new java.util.LinkedHashSet<>();
        int seen = 0;
        for (Path top : tops) {
            try (java.util.stream.Stream<Path> all = Files.walk(top)) {
                for (java.util.Iterator<Path> it = all.iterator(); it.hasNext() && seen < SWEEP_MAX; seen++) {
                    Path p = it.next();
                    Refusal r = checkOne(p, !Files.isDirectory(p));
                    if (r == null) {
                        continue;
                    }
                    refused++;
                    if (r.fix().startsWith("chmod")) {
                        writable.add(top);
                        others |= r.problem().contains("by others") || r.problem().contains("and others");
                    } else {
                        owned.add(top);
                    }
                }
            } catch (IOException | java.io.UncheckedIOException e) {
                // A folder that cannot be read is refused, path by path, where it is used.
            }
        }
        if (refused == 0) {
            return null;
        }
        java.util.Set<Path> all = new java.util.LinkedHashSet<>(writable);
        all.addAll(owned);
        List<String> names = all.stream().map(StrictModes::shown).toList();
        List<String> commands = new java.util.ArrayList<>();
        if (!writable.isEmpty()) {
            commands.add("chmod -R " + (others ? "go-w " : "g-w ") + String.join(" ", writable.stream().map(StrictModes::shown).toList()));
        }
        if (!owned.isEmpty()) {
            commands.add("chown -R root " + String.join(" ", owned.stream().map(StrictModes::shown).toList()) + " (or the agent's user)");
        }
        return new Sweep(refused, names, String.join(" && ", commands));
    }

    /** {@code p} relative to the current directory when it is below it (as the quick start runs), else absolute. */
    private static String shown(Path p) {
        Path cwd = abs(Path.of(""));
        return p.startsWith(cwd) && !p.equals(cwd) ? cwd.relativize(p).toString() : p.toString();
    }

    private Refusal checkOne(Path p, boolean isFile) {
        Map<String, Object> a;
        try {
            a = Files.readAttributes(p, "unix:mode,uid", new LinkOption[0]);
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException | UnsupportedOperationException e) {
            return new Refusal(p, "cannot read its owner and mode (" + e.getMessage() + ")", "check that the agent's user may stat it");
        }
        int mode = (Integer) a.get("mode");
        int uid = (Integer) a.get("uid");
        String what = isFile ? "file" : "directory";
        if ((mode & 0022) != 0) {
            String who = (mode & 0020) != 0 && (mode & 0002) != 0 ? "group and others" : (mode & 0020) != 0 ? "its group" : "others";
            return new Refusal(p, String.format("the %s is writable by %s (mode %04o), so any of them could change what the agent runs",
                    what, who, mode & 07777), "chmod go-w " + p);
        }
        if (uid != 0 && uid != agentUid) {
            return new Refusal(p, "the " + what + " is owned by uid " + uid + ", neither root nor the agent's user (uid " + agentUid + ")",
                    "chown root " + p + "  (or the agent's user)");
        }
        return null;
    }

    private static final int OWN_UID = readOwnUid();

    /** The agent's real uid (read once: it never changes). */
    public static int ownUid() {
        return OWN_UID;
    }

    /** From /proc, as the JDK has no public API for it; without /proc only root-owned files can be trusted. */
    private static int readOwnUid() {
        Long uid = io.aegisquartz.api.ProcFiles.keyValues("/proc/self/status").get("Uid");
        return uid == null ? 0 : uid.intValue();
    }
}
