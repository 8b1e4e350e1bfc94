package io.aegisquartz.util;

import java.io.FileNotFoundException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.util.Locale;

/**
 * What an I/O error means, in words for a message that names the path itself: "permission denied",
 * not "java.nio.file.AccessDeniedException: /var/log/x". Java's file exceptions put the path in their
 * message and the reason in a field, and java.io's put the reason in parentheses after the path.
 */
public final class IoErrors {

    private IoErrors() {
    }

    /** The reason alone, lower case, without the path or the exception's class. */
    public static String reason(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        if (t instanceof AccessDeniedException) {
            return "permission denied";
        }
        if (t instanceof NoSuchFileException) {
            return "no such file or directory";
        }
        if (t instanceof FileAlreadyExistsException) {
            return "a file of that name is in the way";
        }
        if (t instanceof NotDirectoryException) {
            return "not a directory";
        }
        if (t instanceof FileSystemException f && f.getReason() != null) {
            return lower(f.getReason());
        }
        String m = t.getMessage();
        if (t instanceof FileNotFoundException && m != null && m.endsWith(")") && m.lastIndexOf(" (") > 0) {
            return lower(m.substring(m.lastIndexOf(" (") + 2, m.length() - 1));
        }
        return m == null || m.isBlank() ? t.getClass().getSimpleName() : m;
    }

    private static String lower(String s) {
        return s.isEmpty() ? s : s.substring(0, 1).toLowerCase(Locale.ROOT) + s.substring(1);
    }
}
