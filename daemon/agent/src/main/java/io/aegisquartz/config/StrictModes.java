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
