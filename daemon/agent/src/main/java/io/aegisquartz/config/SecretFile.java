package io.aegisquartz.config;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * The check every file holding a secret passes before it is read (the upload credentials, the
 * notification channels): a regular file (a symlink is followed; its target is checked), owned by
 * the user running the process, readable and writable by that user only. A secret that other users
 * can read, or that someone else can replace, is not a secret.
 */
public final class SecretFile {

    private static final Set<PosixFilePermission> GROUP_OR_OTHER = Set.of(
            PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_EXECUTE,
            PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_EXECUTE);

    private SecretFile() {
    }

    /**
     * Null if {@code file} may hold a secret, else one line naming the file, the problem and the fix.
     *
     * @param what      what the file is, for the message ("credentials file")
     * @param createFix what to do when it does not exist
     */
    public static String problem(Path file, String what, String createFix) {
        PosixFileAttributes attrs;
        try {
            attrs = Files.readAttributes(file, PosixFileAttributes.class);
        } catch (NoSuchFileException e) {
            return file + ": " + what + " not found (fix: " + createFix + ")";
        } catch (UnsupportedOperationException e) {
            return file + ": cannot check its permissions: this file system has no POSIX permissions"
                    + " (fix: keep the " + what + " on a local Linux file system)";
        } catch (IOException e) {
            return file + ": cannot read " + what + ": " + e.getMessage() + " (fix: check the path and the permissions of its directories)";
        }
        if (!attrs.isRegularFile()) {
            return file + ": " + what + " is not a regular file (fix: point at the file itself)";
        }
        Set<PosixFilePermission> perms = attrs.permissions();
        String user = System.getProperty("user.name");
        String owner = attrs.owner().getName();
        if (!owner.equals(user)) {
            return file + ": " + what + " is owned by " + owner + ", not by " + user
                    + ", the user running aegis-quartz, so " + owner + " could change it (mode " + mode(perms) + ")"
                    + " (fix: chown " + user + " " + file + " && chmod 600 " + file + ")";
        }
        if (perms.stream().anyMatch(GROUP_OR_OTHER::contains)) {
            return file + ": " + what + " has mode " + mode(perms) + " (owner " + owner
                    + "): other users can " + (perms.contains(PosixFilePermission.GROUP_READ)
                    || perms.contains(PosixFilePermission.OTHERS_READ) ? "read the secret" : "change it")
                    + " (fix: chmod 600 " + file + ")";
        }
        return null;
    }

    /**
     * A parse problem of a secret file without its message text: IniFile quotes the offending line,
     * and in such a file that line may be the secret. The location and the fix are enough to find and
     * repair it.
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
    public static String mode(Set<PosixFilePermission> perms) {
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
