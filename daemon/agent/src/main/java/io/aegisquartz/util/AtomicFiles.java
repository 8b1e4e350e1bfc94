package io.aegisquartz.util;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The one way the agent puts a whole file in place so that a crash (of the process or of the
 * machine) leaves either the old file or the new one, never a part: write a temporary file in the
 * same directory, fsync it, rename it over the target, fsync the directory.
 *
 * <p>Temporary names are {@code .<target name>.<random>.tmp}: hidden, unique (two processes may
 * write the same target at once, as the compiled-plugin cache does) and ending in {@code .tmp}, the
 * suffix every reader of our directories skips or deletes on start.
 */
public final class AtomicFiles {

    private AtomicFiles() {
    }

    /** Replaces (or creates) {@code target} with {@code bytes}; see the class comment. */
    public static void write(Path target, byte[] bytes) throws IOException {
        write(target, bytes, null);
    }

    /**
     * As {@link #write(Path, byte[])}, the file created with {@code permissions} (before any byte is
     * written, so a secret is never readable by others even for a moment); null: the umask's.
     */
    public static void write(Path target, byte[] bytes, Set<PosixFilePermission> permissions) throws IOException {
        Path temp = writeTemp(target, bytes, permissions);
        try {
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(temp);
        }
        syncDir(target.toAbsolutePath().getParent());
    }

    /**
     * Creates {@code target} with {@code bytes} unless it exists: a hard link from the temporary
     * file, which is atomic and fails if another process created the target meanwhile, whose
     * content then stays as it was.
     *
     * @return false if {@code target} already existed (nothing was changed)
     */
    public static boolean createNew(Path target, byte[] bytes) throws IOException {
        if (Files.exists(target)) {
            return false;
        }
        Path temp = writeTemp(target, bytes, null);
        try {
            Files.createLink(target, temp);
        } catch (FileAlreadyExistsException raced) {
            return false;
        } finally {
            Files.deleteIfExists(temp);
        }
        syncDir(target.toAbsolutePath().getParent());
        return true;
    }

    /**
     * Puts a file that another program wrote ({@code temp}, in the target's directory) in place:
     * fsync, rename over {@code target}, fsync of the directory.
     */
    public static void commit(Path temp, Path target) throws IOException {
        try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
        Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        syncDir(target.toAbsolutePath().getParent());
    }

    /** Makes renames, creations and deletions in {@code dir} durable (a no-op where directories cannot be opened). */
    public static void syncDir(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            // Windows cannot open a directory; there, rename durability is the filesystem's business.
            if (!System.getProperty("os.name", "").startsWith("Windows")) {
                throw e;
            }
        }
    }

    /** True for the temporary files this class makes (and any other {@code *.tmp}). */
    public static boolean isTemp(String fileName) {
        return fileName.endsWith(".tmp");
    }

    private static Path writeTemp(Path target, byte[] bytes, Set<PosixFilePermission> permissions) throws IOException {
        Path temp = target.resolveSibling("." + target.getFileName() + "." + Long.toHexString(ThreadLocalRandom.current().nextLong())
                + ".tmp");
        try {
            if (permissions != null) {
                Files.createFile(temp, PosixFilePermissions.asFileAttribute(permissions));
            }
            try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                ByteBuffer buf = ByteBuffer.wrap(bytes);
                while (buf.hasRemaining()) {
                    ch.write(buf);
                }
                ch.force(true);
            }
            return temp;
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(temp);
            throw e;
        }
    }
}
