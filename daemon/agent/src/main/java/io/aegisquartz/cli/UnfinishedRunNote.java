package io.aegisquartz.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What run-plugin's launcher prints if the JVM ends while a plugin runs in it.
 *
 * <p>A plugin run in run-plugin's own JVM ({@code isolation=inproc}, the default plugins) can end that
 * JVM where no code of ours runs any more: {@code Runtime.halt} (no shutdown hooks), running out of heap
 * ({@code ExitOnOutOfMemoryError}), a crash. Without this, the command would end with the plugin's
 * exit code and no sample, and {@code halt(0)} would read as success. So before such a run the command
 * writes the lines it would print for that failure to the file named by {@link #VARIABLE} (the launcher
 * makes it), and empties the file when the run is over; if the JVM ends with the lines still there,
 * the launcher prints them and exits with the error status's code (daemon/bin/aegis-quartz).
 */
final class UnfinishedRunNote implements AutoCloseable {

    static final String VARIABLE = "AEGIS_RUN_PLUGIN_UNFINISHED";

    private final Path file;

    private UnfinishedRunNote(Path file) {
        this.file = file;
    }

    /** Writes {@code lines} to the launcher's file; a no-op note if no launcher asked for one. */
    static UnfinishedRunNote write(String fileName, String lines) {
        if (fileName == null) {
            return new UnfinishedRunNote(null);
        }
        Path file = Path.of(fileName);
        try {
            Files.writeString(file, lines, StandardCharsets.UTF_8);
        } catch (IOException e) {
            // The launcher made this file for us a moment ago: failing to write it is not the plugin's fault.
            throw new UncheckedIOException("cannot write " + file + " (" + VARIABLE + ")", e);
        }
        return new UnfinishedRunNote(file);
    }

    /** The run is over (or its end was reported otherwise): the launcher has nothing to add. */
    @Override
    public void close() {
        if (file != null) {
            try {
                Files.write(file, new byte[0]);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot empty " + file + " (" + VARIABLE + ")", e);
            }
        }
    }
}
