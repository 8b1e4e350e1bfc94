package io.aegisquartz.log;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.rolling.RollingFileAppender;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Objects;

/**
 * Logback's size-rotated file appender that can also reopen its file when someone else moved or
 * deleted it (logrotate without copytruncate, an operator's rm): it remembers which file (device and
 * inode) it opened, its own rotations included, and compares that with what the path names now.
 */
final class ReopeningFileAppender extends RollingFileAppender<ILoggingEvent> {

    /** The device and inode of the file opened last; null before the first open. */
    private volatile Object opened;

    @Override
    public void openFile(String fileName) throws IOException {
        // Under the appender's write lock, so that no event is written between the open and the record.
        streamWriteLock.lock();
        try {
            super.openFile(fileName);
            opened = fileKey(Path.of(fileName));
        } finally {
            streamWriteLock.unlock();
        }
    }

    /**
     * Reopens the file at its path, creating it (and its directory) again if needed, when the path no
     * longer names the file being written, or always with {@code force}.
     *
     * @return true if it reopened
     * @throws IOException if the file cannot be created
     */
    boolean reopen(boolean force) throws IOException {
        streamWriteLock.lock();
        try {
            if (!force && opened != null && Objects.equals(opened, fileKey(Path.of(getFile())))) {
                return false;
            }
            openFile(getFile());
            return true;
        } finally {
            streamWriteLock.unlock();
        }
    }

    private static Object fileKey(Path p) {
        try {
            return Files.readAttributes(p, BasicFileAttributes.class).fileKey();
        } catch (IOException e) {
            return null; // gone: never equal to what was opened
        }
    }
}
