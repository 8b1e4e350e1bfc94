package io.aegisquartz.plugin.exec;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The cgroup (v2) of one executable run: every process the run starts is in it, whatever it does to
 * its session or process group, so {@code cgroup.kill} ends them all and {@code cpu.stat} counts the
 * CPU of all of them, those that already exited included.
 */
final class RunCgroup implements RunScope {

    private final Path dir;
    private final long memoryMax;
    private final long pidsMax;

    RunCgroup(Path dir, long memoryMax, long pidsMax) {
        this.dir = dir;
        this.memoryMax = memoryMax;
        this.pidsMax = pidsMax;
    }

    Path dir() {
        return dir;
    }

    /** Moves {@code pid} (the run's wrapper, parked before it starts the plugin) into this cgroup. */
    void join(long pid) throws IOException {
        write(dir.resolve("cgroup.procs"), Long.toString(pid));
    }

    @Override
    public int terminate() {
        int n = 0;
        for (long pid : pids()) {
            Optional<ProcessHandle> h = ProcessHandle.of(pid);
            if (h.isPresent() && h.get().destroy()) {
                n++;
            }
        }
        return n;
    }

    @Override
    public boolean kill() {
        try {
            write(dir.resolve("cgroup.kill"), "1");
        } catch (IOException e) {
            // Gone already, or the kernel refused: the wait below says which.
        }
        return awaitEmpty(TimeUnit.SECONDS.toNanos(5));
    }

    @Override
    public boolean isEmpty() {
        String events = read("cgroup.events");
        return events == null || events.contains("populated 0");
    }

    /** Polls cgroup.events (only after a kill, when dying processes take a few ms). */
    private boolean awaitEmpty(long nanos) {
        long deadline = System.nanoTime() + nanos;
        long pause = TimeUnit.MICROSECONDS.toNanos(200);
        while (!isEmpty()) {
            if (System.nanoTime() - deadline > 0) {
                return false;
            }
            LockSupport.parkNanos(pause);
            pause = Math.min(pause * 2, TimeUnit.MILLISECONDS.toNanos(20));
        }
        return true;
    }

    @Override
    public long cpuNanos() {
        long usec = field(read("cpu.stat"), "usage_usec");
        return usec < 0 ? -1 : TimeUnit.MICROSECONDS.toNanos(usec);
    }

    @Override
    public boolean exactCpu() {
        return true;
    }

    @Override
    public String limitNotes() {
        List<String> notes = new ArrayList<>(2);
        if (oomKills() > 0) {
            notes.add("the kernel's OOM killer ended a process at the run's memory_max (" + io.aegisquartz.config.Units.formatBytes(memoryMax) + ")");
        }
        long refused = field(read("pids.events"), "max");
        if (refused > 0) {
            notes.add("pids_max (" + pidsMax + ") refused " + refused + " fork(s)");
        }
        return String.join("; ", notes);
    }

    @Override
    public boolean oomKilled() {
        return oomKills() > 0;
    }

    private long oomKills() {
        return field(read("memory.events"), "oom_kill");
    }

    /** Removes the cgroup; kills what is still in it first. True if the directory is gone. */
    @Override
    public boolean close() {
        for (int attempt = 0; attempt < 3; attempt++) {
            try {
                Files.deleteIfExists(dir);
                return true;
            } catch (IOException e) {
                // EBUSY: something is still in it (a process that was forking while we killed).
                kill();
            }
        }
        return !Files.exists(dir);
    }

    private List<Long> pids() {
        String procs = read("cgroup.procs");
        List<Long> out = new ArrayList<>();
        if (procs != null) {
            for (String line : procs.split("\n")) {
                if (!line.isBlank()) {
                    out.add(Long.parseLong(line.strip()));
                }
            }
        }
        return out;
    }

    private String read(String file) {
        return io.aegisquartz.api.ProcFiles.read(dir.resolve(file).toString());
    }

    /** The number after "key " in a flat-keyed cgroup file (cpu.stat, memory.events); -1 if absent. */
    static long field(String text, String key) {
        if (text == null) {
            return -1;
        }
        for (String line : text.split("\n")) {
            if (line.startsWith(key) && line.length() > key.length() && line.charAt(key.length()) == ' ') {
                try {
                    return Long.parseLong(line.substring(key.length() + 1).strip());
                } catch (NumberFormatException e) {
                    return -1;
                }
            }
        }
        return -1;
    }

    static void write(Path file, String value) throws IOException {
        Files.write(file, value.getBytes(StandardCharsets.US_ASCII), StandardOpenOption.WRITE);
    }
}
