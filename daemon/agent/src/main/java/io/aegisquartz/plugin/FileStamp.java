package io.aegisquartz.plugin;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Enough about a file to notice that it changed: modification and change times, size and inode.
 *
 * <p>The inode catches the common "write a temp file and rename it over" edit even when the size and
 * second-resolution mtime happen to match. The change time (ctime) moves on chmod and chown too, so
 * a plugin made group-writable after it was loaded is checked again ({@link io.aegisquartz.config.StrictModes}).
 */
public record FileStamp(long modifiedNanos, long changedNanos, long size, long device, long inode) {

    private static final String ATTRIBUTES = "unix:lastModifiedTime,ctime,size,dev,ino";

    /** The stamp of {@code file}, or null if it cannot be read. */
    public static FileStamp of(Path file) {
        try {
            // One stat(2), whatever the number of attributes asked for.
            Map<String, Object> a = Files.readAttributes(file, ATTRIBUTES);
            return new FileStamp(((FileTime) a.get("lastModifiedTime")).to(TimeUnit.NANOSECONDS),
                    ((FileTime) a.get("ctime")).to(TimeUnit.NANOSECONDS), (Long) a.get("size"), (Long) a.get("dev"), (Long) a.get("ino"));
        } catch (IOException e) {
            return null;
        }
    }
}
