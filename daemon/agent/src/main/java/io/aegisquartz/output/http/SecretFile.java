package io.aegisquartz.output.http;

import io.aegisquartz.config.ConfigProblem;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * The checks every file holding a secret passes before it is read: a regular file (a symlink is
 * followed; its target is checked), readable by its owner only, and owned by the user running the
 * process. A secret that other users can read, or that someone else can replace, is not a secret.
 * Messages never quote the file's content.
 */
public final class SecretFile {

    /** Why a secret file cannot be used: one line naming the file, the problem and the fix. */
    public static final class Problem extends Exception {
        Problem(String message) {
            super(message, null, false, false);
        }
    }

    private static final Set<PosixFilePermission> GROUP_OR_OTHER = Set.of(
            PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_EXECUTE,
            PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_EXECUTE);

    private SecretFile() {
    }

    /**
     * Checks type, owner and mode of {@code file}.
     *
     * @param what         what the file is, for messages ("credentials file")
     * @param createFix    how to create it when it is missing
     */
    public static void check(Path file, String what, String createFix) throws Problem {
        PosixFileAttributes attrs;
        try {
            attrs = Files.readAttributes(file, PosixFileAttributes.class);
        } catch (NoSuchFileException e) {
            throw new Problem(file + ": " + what + " not found (fix: " + createFix + ")");
        } catch (UnsupportedOperationException e) {
            throw new Problem(file + ": cannot check its permissions: this file system has no POSIX permissions"
                    + " (fix: keep the " + what + " on a local Linux file system)");
        } catch (IOException e) {
            throw new Problem(file + ": cannot read " + what + ": " + e.getMessage()
                    + " (fix: check the path and the permissions of its directories)");
        }
        if (!attrs.isRegularFile()) {
            throw new Problem(file + ": " + what + " is not a regular file (fix: point at the file itself)");
        }
        Set<PosixFilePermission> perms = attrs.permissions();
        String user = System.getProperty("user.name");
        String owner = attrs.owner().getName();
        if (!owner.equals(user)) {
            throw new Problem(file + ": " + what + " is owned by " + owner + ", not by " + user
                    + ", the user running aegis-quartz, so " + owner + " could change it (mode " + mode(perms) + ")"
                    + " (fix: chown " + user + " " + file + " && chmod 600 " + file + ")");
        }
        if (perms.stream().anyMatch(GROUP_OR_OTHER::contains)) {
            throw new Problem(file + ": " + what + " has mode " + mode(perms) + " (owner " + owner
                    + "): other users can " + (perms.contains(PosixFilePermission.GROUP_READ)
                    || perms.contains(PosixFilePermission.OTHERS_READ) ? "read the secret" : "change it")
                    + " (fix: chmod 600 " + file + ")");
        }
    }

    /**
     * A parse problem without its message text: IniFile quotes the offending line, and in this file that
     * line may be the secret. The location and the fix are enough to find and repair it.
     */
    public static String describe(ConfigProblem p, int count) {
        StringBuilder sb = new StringBuilder().append(p.file());
        if (p.line() > 0) {
            sb.append(':').append(p.line());
            if (p.column() > 0) {
                sb.append(':').append(p.column());
            }
            sb.append(": cannot parse this line (not shown: it may hold the secret)");
        } else {
            // File-level problems (missing, unreadable, not UTF-8, too large) quote nothing from the file.
            sb.append(": ").append(p.message());
        }
        if (p.fix() != null) {
            sb.append(" (fix: ").append(p.fix()).append(')');
        }
        if (count > 1) {
            sb.append("; ").append(count - 1).append(" more problem(s) after it");
        }
        return sb.toString();
    }

    /** Octal, as ls and chmod show it: 0644. */
    static String mode(Set<PosixFilePermission> perms) {
        String rwx = PosixFilePermissions.toString(perms);
        int m = 0;
        for (int i = 0; i < 9; i++) {
            if (rwx.charAt(i) != '-') {
                m |= 1 << (8 - i);
            }
        }
        return String.format("%04o", m);
    }
}
