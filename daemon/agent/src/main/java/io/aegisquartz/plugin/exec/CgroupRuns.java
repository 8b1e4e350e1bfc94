package io.aegisquartz.plugin.exec;

import io.aegisquartz.api.ProcFiles;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Where executable runs get a cgroup (v2) of their own: a directory whose children the agent may
 * create, one per run, named {@code PID-START-N} after the JVM that made it.
 *
 * <p>{@link #detect()} looks where the agent itself is ({@code /proc/self/cgroup}, the cgroup2 mount
 * in {@code /proc/self/mountinfo}) and uses that cgroup only if it is the agent's to divide: delegated
 * to it (systemd's {@code Delegate=yes}: the directory is the agent's user's, or has the
 * {@code user.delegate} attribute), or on a host where no systemd manages cgroups. It then keeps runs
 * in {@code aegis-runs/} below it. Domain controllers (memory, pids) can only be enabled for children
 * of a cgroup that holds no process itself, so in a delegated cgroup the agent first moves its own
 * processes (the JVM and the launcher) into a leaf, {@code aegis-agent/}. It never moves processes
 * out of a cgroup that is not delegated to it.
 */
public final class CgroupRuns {

    /** The subtree the agent keeps run cgroups in. */
    static final String RUNS_DIR = "aegis-runs";
    /** Where the agent moves its own processes in a delegated cgroup, so that controllers can be enabled. */
    static final String AGENT_LEAF = "aegis-agent";

    private static final Pattern RUN_NAME = Pattern.compile("(\\d+)-(\\d+)-\\d+");

    /** aegis-runs directories this JVM made or used: removed at exit if no other agent's runs are in them. */
    private static final java.util.Set<Path> USED = java.util.concurrent.ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> USED.forEach(d -> {
            try {
                Files.deleteIfExists(d);
            } catch (IOException busy) {
                // Another agent's runs (or this one's, still being killed) are in it: it stays.
            }
        }), "aegis-cgroup-cleanup"));
    }

    private final Path dir;
    private final String description;
    private final boolean memory;
    private final boolean pids;
    private final String prefix;
    private final AtomicLong seq = new AtomicLong();

    private CgroupRuns(Path dir, String description, boolean memory, boolean pids) {
        this.dir = dir;
        this.description = description;
        this.memory = memory;
        this.pids = pids;
        this.prefix = ProcessHandle.current().pid() + "-" + startTicks(ProcessHandle.current().pid()) + "-";
    }

    /** No cgroups: runs are tracked by their process session; {@code why} goes in {@link #describe()}. */
    public static CgroupRuns none(String why) {
        return new CgroupRuns(null, "no cgroup per run (" + why + "): runs are tracked by their process session", false, false);
    }

    /**
     * Runs as children of {@code parent}, an existing cgroup v2 directory the caller may write (a test's
     * own subtree, or one an administrator prepared). Enables the memory and pids controllers for its
     * children where {@code parent} offers them.
     */
    public static CgroupRuns under(Path parent) {
        return prepare(parent, "cgroup " + parent);
    }

    /** What this host offers the agent's process; never throws. */
    public static CgroupRuns detect() {
        try {
            return detect(Path.of("/proc/self/mountinfo"), Path.of("/proc/self/cgroup"), Path.of("/run/systemd/system"));
        } catch (RuntimeException e) {
            return none("cannot read the agent's cgroup: " + e);
        }
    }

    /** As {@link #detect()}, from these files; {@code systemdRunDir} exists where systemd is the init system (sd_booted). */
    static CgroupRuns detect(Path mountinfo, Path selfCgroup, Path systemdRunDir) {
        String[] mount = cgroup2Mount(lines(mountinfo));
        if (mount == null) {
            return none("cgroup v2 is not mounted");
        }
        String own = null;
        for (String line : lines(selfCgroup)) {
            if (line.startsWith("0::")) {
                own = line.substring(3);
            }
        }
        if (own == null) {
            return none("the agent is in no cgroup v2 (" + selfCgroup + " lists v1 hierarchies only)");
        }
        String mountRoot = mount[0];
        Path mountPoint = Path.of(mount[1]);
        if (!own.startsWith(mountRoot)) {
            return none("the agent's cgroup " + own + " is outside the cgroup2 mount at " + mountPoint);
        }
        String rel = own.substring(mountRoot.length()).replaceAll("^/+", "");
        Path base = rel.isEmpty() ? mountPoint : mountPoint.resolve(rel);
        if (base.getFileName() != null && base.getFileName().toString().equals(AGENT_LEAF) && !base.equals(mountPoint)) {
            // A restarted JVM starts in the leaf the previous one moved the launcher into.
            base = base.getParent();
        }
        boolean delegated = delegated(base);
        boolean systemd = Files.isDirectory(systemdRunDir);
        if (!delegated && systemd) {
            return none("the agent's cgroup " + base + " is systemd's and not delegated to it: the packaged unit has "
                    + "Delegate=yes; for a manual start use 'systemd-run -p Delegate=yes ...'");
        }
        if (!Files.isWritable(base.resolve("cgroup.procs")) && !Files.isWritable(base)) {
            return none("the agent's cgroup " + base + " is not writable by it" + (readOnly(mountPoint) ? " (" + mountPoint
                    + " is mounted read-only: systemd's ProtectControlGroups=yes?)" : ""));
        }
        Path runs = base.resolve(RUNS_DIR);
        String why = delegated ? "delegated" : "no systemd on this host";
        try {
            Files.createDirectories(runs);
        } catch (IOException e) {
            return none("cannot create " + runs + ": " + e.getMessage());
        }
        enableControllers(base, delegated && !base.equals(mountPoint));
        USED.add(runs);
        return prepare(runs, "cgroup " + runs + " (" + why + ")");
    }

    private static List<String> lines(Path file) {
        try {
            return Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return List.of();
        }
    }

    /** Root and mount point of the first cgroup2 mount, or null. */
    private static String[] cgroup2Mount(List<String> mountinfo) {
        for (String line : mountinfo) {
            int dash = line.indexOf(" - ");
            if (dash < 0) {
                continue;
            }
            String[] after = line.substring(dash + 3).split(" ");
            String[] before = line.substring(0, dash).split(" ");
            if (after.length > 0 && after[0].equals("cgroup2") && before.length > 4) {
                return new String[] {unescape(before[3]), unescape(before[4])};
            }
        }
        return null;
    }

    /** mountinfo writes blanks and backslashes in paths as octal escapes (\040). */
    private static String unescape(String s) {
        StringBuilder out = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 3 < s.length() && s.substring(i + 1, i + 4).matches("[0-7]{3}")) {
                out.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }

    /**
     * Delegated to this process: systemd marks a delegated cgroup with the user.delegate attribute
     * (systemd 252 and later) and, for a service with User=, makes it and its cgroup.procs that user's.
     */
    private static boolean delegated(Path cgroup) {
        try {
            UserDefinedFileAttributeView xattrs = Files.getFileAttributeView(cgroup, UserDefinedFileAttributeView.class);
            if (xattrs != null && xattrs.list().contains("delegate")) {
                ByteBuffer b = ByteBuffer.allocate(16);
                xattrs.read("delegate", b);
                b.flip();
                if (StandardCharsets.US_ASCII.decode(b).toString().strip().equals("1")) {
                    return true;
                }
            }
        } catch (IOException | UnsupportedOperationException e) {
            // No user xattrs on this kernel's cgroupfs: ownership below still tells.
        }
        int uid = io.aegisquartz.config.StrictModes.ownUid();
        if (uid == 0) {
            return false;
        }
        try {
            Object owner = Files.getAttribute(cgroup.resolve("cgroup.procs"), "unix:uid", LinkOption.NOFOLLOW_LINKS);
            return owner instanceof Integer o && o == uid;
        } catch (IOException | UnsupportedOperationException e) {
            return false;
        }
    }

    private static boolean readOnly(Path mountPoint) {
        try {
            return Files.getFileStore(mountPoint).isReadOnly();
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Enables memory and pids for {@code base}'s children. A non-root cgroup may enable them only while
     * it holds no process, so where {@code moveOwn} (delegated, not the hierarchy's root) the agent's
     * processes go into {@link #AGENT_LEAF} first. Failures only mean fewer limits; detect() reports
     * what the run cgroups really got.
     */
    private static void enableControllers(Path base, boolean moveOwn) {
        List<String> wanted = wantedControllers(base);
        if (wanted.isEmpty()) {
            return;
        }
        if (moveOwn) {
            Path leaf = base.resolve(AGENT_LEAF);
            try {
                Files.createDirectories(leaf);
                // The launcher may fork while we move it: a few rounds, until the cgroup is empty.
                for (int round = 0; round < 10 && !pidsOf(base).isEmpty(); round++) {
                    for (String pid : pidsOf(base)) {
                        try {
                            RunCgroup.write(leaf.resolve("cgroup.procs"), pid);
                        } catch (IOException gone) {
                            // It exited meanwhile.
                        }
                    }
                }
            } catch (IOException e) {
                return;
            }
        }
        subtreeControl(base, wanted);
    }

    private static List<String> wantedControllers(Path cgroup) {
        String available = ProcFiles.read(cgroup.resolve("cgroup.controllers").toString());
        List<String> wanted = new ArrayList<>(2);
        if (available != null) {
            for (String c : available.strip().split("\\s+")) {
                if (c.equals("memory") || c.equals("pids")) {
                    wanted.add(c);
                }
            }
        }
        return wanted;
    }

    private static void subtreeControl(Path cgroup, List<String> controllers) {
        for (String c : controllers) {
            try {
                RunCgroup.write(cgroup.resolve("cgroup.subtree_control"), "+" + c);
            } catch (IOException e) {
                // Processes in it, or not ours to change: this controller stays off.
            }
        }
    }

    private static List<String> pidsOf(Path cgroup) {
        String procs = ProcFiles.read(cgroup.resolve("cgroup.procs").toString());
        List<String> out = new ArrayList<>();
        if (procs != null) {
            for (String line : procs.split("\n")) {
                if (!line.isBlank()) {
                    out.add(line.strip());
                }
            }
        }
        return out;
    }

    private static CgroupRuns prepare(Path dir, String where) {
        if (!Files.exists(dir.resolve("cgroup.kill"))) {
            return none(where + " has no cgroup.kill (Linux 5.14 or later has it)");
        }
        if (!Files.exists(dir.resolve("cpu.stat"))) {
            return none(where + " has no cpu.stat");
        }
        subtreeControl(dir, wantedControllers(dir));
        String enabled = ProcFiles.read(dir.resolve("cgroup.subtree_control").toString());
        List<String> on = enabled == null ? List.of() : List.of(enabled.strip().split("\\s+"));
        boolean memory = on.contains("memory");
        boolean pids = on.contains("pids");
        sweepStale(dir);
        String limits = (memory ? "memory_max" : "no memory_max (no memory controller in cgroup v2 here)") + ", "
                + (pids ? "pids_max" : "no pids_max (no pids controller in cgroup v2 here)");
        return new CgroupRuns(dir, "a cgroup per run under " + where + ": cgroup.kill, CPU from cpu.stat, " + limits, memory, pids);
    }

    /** Removes run cgroups left by an agent that died (kill -9): their JVM is gone or is another process now. */
    private static void sweepStale(Path dir) {
        try (DirectoryStream<Path> children = Files.newDirectoryStream(dir)) {
            for (Path child : children) {
                Matcher m = RUN_NAME.matcher(child.getFileName().toString());
                if (!m.matches() || !Files.isDirectory(child)) {
                    continue;
                }
                long pid = Long.parseLong(m.group(1));
                if (ProcessHandle.of(pid).isPresent() && Long.toString(startTicks(pid)).equals(m.group(2))) {
                    continue;
                }
                new RunCgroup(child, 0, 0).close();
            }
        } catch (IOException | RuntimeException e) {
            // Best effort: a leftover only costs a directory.
        }
    }

    /** Start time of a process in clock ticks since boot (field 22 of /proc/PID/stat); -1 if unknown. */
    static long startTicks(long pid) {
        String stat = ProcFiles.read("/proc/" + pid + "/stat");
        if (stat == null) {
            return -1;
        }
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        // f[0] is field 3 (state); field 22 is f[19].
        return f.length > 19 ? Long.parseLong(f[19]) : -1;
    }

    /** True if runs get memory_max (the memory controller is on for them). */
    boolean memoryLimits() {
        return memory;
    }

    /** True if runs get pids_max (the pids controller is on for them). */
    boolean pidsLimits() {
        return pids;
    }

    /** The directory run cgroups are made in; null if none. */
    Path dir() {
        return dir;
    }

    /** True if runs get a cgroup each. */
    public boolean available() {
        return dir != null;
    }

    /** One line for the log at start: what the host offers and what runs get. */
    public String describe() {
        return description;
    }

    /** A new, empty cgroup for one run, with its limits set where the controllers are on (0: none). */
    RunCgroup open(long memoryMax, long pidsMax) throws IOException {
        Path d = dir.resolve(prefix + seq.incrementAndGet());
        try {
            Files.createDirectory(d);
        } catch (java.nio.file.NoSuchFileException e) {
            // Another agent sharing this hierarchy's root removed aegis-runs as it exited.
            Files.createDirectories(dir);
            Files.createDirectory(d);
        }
        RunCgroup cg = new RunCgroup(d, memoryMax, pidsMax);
        try {
            if (memory && memoryMax > 0) {
                RunCgroup.write(d.resolve("memory.max"), Long.toString(memoryMax));
                // Swap would let a run grow past memory_max; an OOM kill ends the whole run, not one process of it.
                if (Files.exists(d.resolve("memory.swap.max"))) {
                    RunCgroup.write(d.resolve("memory.swap.max"), "0");
                }
                RunCgroup.write(d.resolve("memory.oom.group"), "1");
            }
            if (pids && pidsMax > 0) {
                RunCgroup.write(d.resolve("pids.max"), Long.toString(pidsMax));
            }
        } catch (IOException e) {
            cg.close();
            throw e;
        }
        return cg;
    }

    @Override
    public String toString() {
        return description;
    }
}
