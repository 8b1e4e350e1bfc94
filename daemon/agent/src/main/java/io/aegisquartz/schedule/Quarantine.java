package io.aegisquartz.schedule;

import io.aegisquartz.plugin.FileStamp;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Whether a job is quarantined, why, and what releases it. A job is quarantined when a run of it left
 * an abandoned thread (until its plugin file changes), or ended the agent (until its plugin file
 * changes or {@code aegis-quartz unquarantine} removes its record in STATE/quarantine/). While it is,
 * each fire records a {@code skipped} sample with the reason. Carried over when a reload edits the
 * job's line: an edited timeout must not release a plugin whose thread still runs.
 */
public final class Quarantine {

    /**
     * A quarantine in force, for readers such as {@code status}.
     *
     * @param reason      why
     * @param sinceMillis since when
     * @param until       what releases it, as a phrase ("its plugin file changes")
     */
    public record Hold(String reason, long sinceMillis, String until) {
    }

    private String reason;
    private long sinceMillis;
    private FileStamp stamp;
    /** The record in STATE/quarantine/ behind this quarantine; null for one that lives in memory only. */
    private Path record;

    /** The quarantine in force, or null. */
    public synchronized Hold current() {
        if (reason == null) {
            return null;
        }
        return new Hold(reason, sinceMillis, record == null ? "its plugin file changes"
                : "its plugin file changes or 'aegis-quartz unquarantine' releases it");
    }

    /** Holds the job until its plugin differs from {@code stamp} or, if {@code record} is not null, that file is removed. */
    synchronized void hold(String reason, long sinceMillis, FileStamp stamp, Path record) {
        this.reason = reason;
        this.sinceMillis = sinceMillis;
        this.stamp = stamp;
        this.record = record;
    }

    /**
     * Releases the job if its plugin file changed or its record was removed; returns why (for the log),
     * or null if it stays held or was not held. Only a held job looks at its files here.
     */
    synchronized String releaseIfDue(Path pluginFile) {
        if (reason == null) {
            return null;
        }
        FileStamp now = FileStamp.of(pluginFile);
        String why = null;
        if (now != null && !now.equals(stamp)) {
            why = "its plugin file changed";
            if (record != null) {
                try {
                    Files.deleteIfExists(record);
                } catch (IOException e) {
                    why += " (its record " + record + " could not be removed: " + e.getMessage() + ")";
                }
            }
        } else if (record != null && !Files.exists(record)) {
            why = "released by 'aegis-quartz unquarantine'";
        }
        if (why != null) {
            reason = null;
            stamp = null;
            record = null;
        }
        return why;
    }

    /** The reason, or null if not held. */
    synchronized String reason() {
        return reason;
    }
}
