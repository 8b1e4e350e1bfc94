package io.aegisquartz.plugin;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * Enough about a file to notice that it changed: modification time, size and inode.
 *
 * <p>The inode catches the common "write a temp file and rename it over" edit even when the size and
 * second-resolution mtime happen to match.
 */
public record FileStamp(long modifiedNanos, long size, Object fileKey) {

    /** The stamp of {@code file}, or null if it cannot be read. */
    public static FileStamp of(Path file) {
        try {
            BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
            return new FileStamp(a.lastModifiedTime().to(java.util.concurrent.TimeUnit.NANOSECONDS), a.size(), a.fileKey());
        } catch (IOException e) {
            return null;
        }
    }
}
