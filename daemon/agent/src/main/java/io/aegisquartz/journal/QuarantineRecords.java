package io.aegisquartz.journal;

import io.aegisquartz.log.LogText;
import io.aegisquartz.plugin.FileStamp;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Jobs held because a run of theirs ended the agent, one small text file each in
 * {@code STATE/quarantine/} (format: docs/JOURNAL.md): {@code HASH.quarantined} for a job that is not
 * run until its plugin file changes or an operator runs {@code aegis-quartz unquarantine JOB}, which
 * removes the file; {@code HASH.suspect} for a job that was running when the agent ended in a way a
 * plugin can cause, together with other runs, so that the next death cannot be blamed on it alone
 * (its runs are then run alone, see docs/JOURNAL.md). HASH names the job without its arguments.
 */
public final class QuarantineRecords {

    /** Directory name inside the state directory. */
    public static final String DIR = "quarantine";

    /** What a record says. */
    public enum Kind {
        QUARANTINED(".quarantined"), SUSPECT(".suspect");

        private final String suffix;

        Kind(String suffix) {
            this.suffix = suffix;
        }
    }

    /**
     * One record.
     *
     * @param keyHash     the job's identity ({@link RunJournal#keyHash})
     * @param job         its name when the record was made
     * @param plugin      its plugin path as written on the cron line
     * @param stamp       the plugin file as it was when its run ended the agent; a different file releases the job
     * @param sinceMillis when the record was made
     * @param reason      why
     * @param file        where it is
     */
    public record Record(Kind kind, String keyHash, String job, String plugin, FileStamp stamp, long sinceMillis, String reason, Path file) {
    }

    private final Path dir;

    public QuarantineRecords(Path stateDir) {
        this.dir = stateDir.resolve(DIR);
    }

    public Path dir() {
        return dir;
    }

    /** The record of kind {@code kind} for the job {@code keyHash}, or null. */
    public Record find(String keyHash, Kind kind) {
        Path f = dir.resolve(keyHash + kind.suffix);
        try {
            return parse(kind, keyHash, f, Files.readString(f, StandardCharsets.UTF_8));
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException | RuntimeException e) {
            // An unreadable record still holds its job: better a job held with a vague reason than a plugin that ends the agent again.
            return new Record(kind, keyHash, "(unknown)", "(unknown)", null, 0, "record " + f + " cannot be read: " + e.getMessage(), f);
        }
    }

    /** Every record, quarantines first. */
    public List<Record> list() throws IOException {
        List<Record> out = new ArrayList<>();
        for (Kind k : Kind.values()) {
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*" + k.suffix)) {
                for (Path f : ds) {
                    String name = f.getFileName().toString();
                    Record r = find(name.substring(0, name.length() - k.suffix.length()), k);
                    if (r != null) {
                        out.add(r);
                    }
                }
            } catch (NoSuchFileException e) {
                return out;
            }
        }
        out.sort(java.util.Comparator.comparing(Record::kind).thenComparing(Record::job));
        return out;
    }

    /** Writes a record durably (temp file, fsync, rename, directory fsync): it must outlive the next crash. */
    public Record write(Kind kind, String keyHash, String job, String plugin, FileStamp stamp, long sinceMillis, String reason)
            throws IOException {
        Files.createDirectories(dir);
        Path target = dir.resolve(keyHash + kind.suffix);
        StringBuilder sb = new StringBuilder();
        sb.append("# aegis-quartz: ").append(kind == Kind.QUARANTINED
                ? "this job is not run until its plugin file changes; 'aegis-quartz unquarantine JOB' releases it"
                : "this job's runs are run alone until one completes (docs/JOURNAL.md)").append('\n');
        sb.append("job=").append(LogText.escape(job, Integer.MAX_VALUE)).append('\n');
        sb.append("plugin=").append(LogText.escape(plugin, Integer.MAX_VALUE)).append('\n');
        if (stamp != null) {
            sb.append("plugin_stamp=").append(stamp.modifiedNanos()).append(',').append(stamp.changedNanos()).append(',')
                    .append(stamp.size()).append(',').append(stamp.device()).append(',').append(stamp.inode()).append('\n');
        }
        sb.append("since=").append(Instant.ofEpochMilli(sinceMillis)).append('\n');
        sb.append("reason=").append(LogText.escape(reason, Integer.MAX_VALUE)).append('\n');
        Path temp = dir.resolve("." + keyHash + kind.suffix + ".tmp");
        try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer buf = ByteBuffer.wrap(sb.toString().getBytes(StandardCharsets.UTF_8));
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
            ch.force(true);
        }
        Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        }
        return new Record(kind, keyHash, job, plugin, stamp, sinceMillis, reason, target);
    }

    /** Removes a record; false if it was gone already. */
    public boolean delete(Record r) throws IOException {
        return Files.deleteIfExists(r.file());
    }

    private static Record parse(Kind kind, String keyHash, Path file, String text) {
        Map<String, String> v = new LinkedHashMap<>();
        for (String line : text.split("\n")) {
            int eq = line.indexOf('=');
            if (!line.startsWith("#") && eq > 0) {
                v.put(line.substring(0, eq), line.substring(eq + 1));
            }
        }
        FileStamp stamp = null;
        String s = v.get("plugin_stamp");
        if (s != null) {
            String[] p = s.split(",");
            if (p.length == 5) {
                stamp = new FileStamp(Long.parseLong(p[0]), Long.parseLong(p[1]), Long.parseLong(p[2]), Long.parseLong(p[3]), Long.parseLong(p[4]));
            }
        }
        long since = v.containsKey("since") ? Instant.parse(v.get("since")).toEpochMilli() : 0;
        return new Record(kind, keyHash, v.getOrDefault("job", "(unknown)"), v.getOrDefault("plugin", "(unknown)"), stamp, since,
                v.getOrDefault("reason", ""), file);
    }
}
