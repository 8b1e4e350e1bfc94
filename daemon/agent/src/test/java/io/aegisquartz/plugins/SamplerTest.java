package io.aegisquartz.plugins;

import io.aegisquartz.config.JobOptions;
import io.aegisquartz.plugin.JobMemory;
import io.aegisquartz.plugin.RunResult;
import io.aegisquartz.plugin.groovy.GroovyPlugin;
import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Status;
import io.aegisquartz.testing.LoopbackConnections;
import io.aegisquartz.testing.PluginRunners;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;

import static io.aegisquartz.testing.TestJobs.job;
import static io.aegisquartz.testing.TestJobs.limits;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * plugins-default/sampler.groovy against the real machine: /proc read directly, `free`, `df`, a disk
 * write, loopback traffic and connections, processes the test starts.
 */
class SamplerTest extends PluginRunners {

    static final Path SAMPLER = Path.of(System.getProperty("user.dir")).resolve("../../plugins-default/sampler.groovy").normalize();
    static final JobOptions LIMITS = limits(Duration.ofSeconds(20), Duration.ofSeconds(20));
    static final long MIB = 1L << 20;

    static GroovyPlugin plugin;

    @TempDir
    Path dir;

    @BeforeAll
    static void compile() throws Exception {
        plugin = GroovyPlugin.compile(SAMPLER, inJvm, processes);
    }

    // ---------------------------------------------------------------- first and second run

    @Test
    void firstRunHasNoRatesAndTheSecondHasThemForEveryCpuDiskAndInterface() throws Exception {
        JobMemory memory = new JobMemory();
        RunResult first = run(memory);
        awaitCpuTicks();
        RunResult second = run(memory);

        assertEquals(List.of(), all(first, "cpu"), "no cpu shares without an interval");
        assertEquals(List.of(), all(first, "disk"));
        assertEquals(List.of(), all(first, "network"));
        assertFalse(one(first, "processes").values().containsKey("forks_per_s"));
        for (String metric : List.of("load", "memory", "processes")) {
            assertEquals(1, all(first, metric).size(), metric);
        }
        assertEquals(TCP_STATES, tagValues(first, "tcp", "state"), "every state, zeros included, from the first run");

        Set<String> cpus = new TreeSet<>(onlineCpus());
        cpus.add("total");
        assertEquals(cpus, tagValues(second, "cpu", "cpu"));
        assertEquals(usedWholeDisks(), tagValues(second, "disk", "device"), "every whole disk that did IO, no partitions, no loop/ram");
        assertEquals(interfaces(), tagValues(second, "network", "interface"), "every interface, lo included");
        assertTrue(one(second, "processes").values().get("forks_per_s") >= 0);
        assertEquals(Map.of("forks_per_s", "1/s"), one(second, "processes").units());
        for (Measurement m : all(second, "disk")) {
            assertEquals(List.of("reads_per_s", "writes_per_s", "read_bytes_per_s", "write_bytes_per_s", "await_ms", "util_pct"),
                    List.copyOf(m.values().keySet()), m.toString());
            assertEquals(Map.of("reads_per_s", "1/s", "writes_per_s", "1/s", "read_bytes_per_s", "B/s", "write_bytes_per_s", "B/s",
                    "await_ms", "ms", "util_pct", "%"), m.units());
            m.values().values().forEach(v -> assertTrue(v >= 0, m.toString()));
            assertTrue(m.values().get("util_pct") <= 100, m.toString());
        }
        for (Measurement m : all(second, "network")) {
            assertEquals(List.of("rx_bytes_per_s", "rx_packets_per_s", "rx_errors_per_s", "rx_drops_per_s",
                    "tx_bytes_per_s", "tx_packets_per_s", "tx_errors_per_s", "tx_drops_per_s"), List.copyOf(m.values().keySet()), m.toString());
            assertEquals("B/s", m.units().get("rx_bytes_per_s"));
            assertEquals("1/s", m.units().get("tx_drops_per_s"));
            m.values().values().forEach(v -> assertTrue(v >= 0, m.toString()));
        }
    }

    @Test
    void cpuSharesOfEveryCpuSumToOneHundred() throws Exception {
        JobMemory memory = new JobMemory();
        run(memory);
        awaitCpuTicks();
        RunResult second = run(memory);

        List<Measurement> cpus = all(second, "cpu");
        assertEquals(onlineCpus().size() + 1, cpus.size(), "one per online CPU and the total");
        for (Measurement m : cpus) {
            assertEquals(List.of("user_pct", "nice_pct", "system_pct", "iowait_pct", "irq_pct", "softirq_pct", "steal_pct", "idle_pct"),
                    List.copyOf(m.values().keySet()));
            double sum = 0;
            for (double v : m.values().values()) {
                assertTrue(v >= 0 && v <= 100, m.toString());
                sum += v;
            }
            assertEquals(100.0, sum, 1e-6, m.toString());
            assertEquals("%", m.units().get("idle_pct"));
        }
    }

    // ---------------------------------------------------------------- memory

    @Test
    void memoryMatchesProcMeminfoReadDirectly() throws Exception {
        // Memory moves between the reads (other processes allocate): the sample must lie between a
        // reading taken just before the run and one just after, give or take 32 MiB.
        Map<String, Long> before = meminfo();
        Measurement m = one(run(new JobMemory()), "memory");
        Map<String, Long> after = meminfo();
        long tol = 32 * MIB;

        assertEquals(before.get("MemTotal"), m.values().get("total_bytes").longValue());
        assertEquals(before.get("SwapTotal"), m.values().get("swap_total_bytes").longValue());
        assertBetween("available_bytes", m, before.get("MemAvailable"), after.get("MemAvailable"), tol);
        assertBetween("free_bytes", m, before.get("MemFree"), after.get("MemFree"), tol);
        assertBetween("buffers_bytes", m, before.get("Buffers"), after.get("Buffers"), tol);
        assertBetween("cached_bytes", m, before.get("Cached") + before.get("SReclaimable"),
                after.get("Cached") + after.get("SReclaimable"), tol);
        assertBetween("swap_used_bytes", m, before.get("SwapTotal") - before.get("SwapFree"),
                after.get("SwapTotal") - after.get("SwapFree"), tol);
        double total = m.values().get("total_bytes");
        assertEquals(total - m.values().get("available_bytes"), m.values().get("used_bytes"), 0.0);
        assertEquals(100.0 * m.values().get("used_bytes") / total, m.values().get("used_pct"), 1e-9);
        assertEquals("B", m.units().get("cached_bytes"));
        assertEquals("%", m.units().get("used_pct"));
    }

    @Test
    void memoryMatchesFree() throws Exception {
        // `free -b` before and after the run; memory moves in between, so the sample must be within
        // 128 MiB of the range the two `free` calls span (each call is a process start, slower than a read).
        Map<String, Long> before = free();
        Measurement m = one(run(new JobMemory()), "memory");
        Map<String, Long> after = free();
        long tol = 128 * MIB;

        assertEquals(before.get("total"), m.values().get("total_bytes").longValue());
        assertEquals(before.get("swap_total"), m.values().get("swap_total_bytes").longValue());
        assertBetween("available_bytes", m, before.get("available"), after.get("available"), tol);
        assertBetween("free_bytes", m, before.get("free"), after.get("free"), tol);
        assertBetween("swap_used_bytes", m, before.get("swap_used"), after.get("swap_used"), tol);
        double buffCache = m.values().get("buffers_bytes") + m.values().get("cached_bytes");
        assertTrue(buffCache >= Math.min(before.get("buff/cache"), after.get("buff/cache")) - tol
                && buffCache <= Math.max(before.get("buff/cache"), after.get("buff/cache")) + tol,
                "buffers + cached " + buffCache + " vs free's buff/cache " + before + " " + after);
    }

    // ---------------------------------------------------------------- filesystems

    @Test
    void filesystemUsageMatchesDf() throws Exception {
        List<String> mounts = all(run(new JobMemory()), "filesystem").stream().map(m -> m.tags().get("mount")).toList();
        assertFalse(mounts.isEmpty(), "at least the root filesystem");
        Map<String, long[]> before = df(mounts);
        List<Measurement> fs = all(run(new JobMemory()), "filesystem");
        Map<String, long[]> after = df(mounts);

        assertEquals(mounts, fs.stream().map(m -> m.tags().get("mount")).toList());
        for (Measurement m : fs) {
            String mount = m.tags().get("mount");
            assertEquals(Status.OK, m.status(), m.toString());
            long[] b = before.get(mount);
            long[] a = after.get(mount);
            assertNotNull(a, "df knows " + mount + ": " + after.keySet());
            // Other processes write to these disks: within the range of the df calls around the run,
            // give or take the larger of 64 MiB and 0.1% of the size.
            long tol = Math.max(64 * MIB, a[0] / 1000);
            assertEquals(a[0], m.values().get("total_bytes").longValue(), mount + " size as df -B1 (f_blocks)");
            assertBetween("used_bytes", m, b[1], a[1], tol);
            assertBetween("available_bytes", m, b[2], a[2], tol);
            double used = m.values().get("used_bytes"), avail = m.values().get("available_bytes");
            assertEquals(100.0 * used / (used + avail), m.values().get("used_pct"), 1e-9, "df's formula: used / (used + avail)");
            double dfPct = 100.0 * a[1] / (a[1] + a[2]);
            assertEquals(dfPct, m.values().get("used_pct"), 0.5, mount);
            assertEquals(Map.of("total_bytes", "B", "used_bytes", "B", "available_bytes", "B", "used_pct", "%"), m.units());
        }
    }

    @Test
    void everyRealMountIsReportedOnceAndPseudoFilesystemsAreNot() throws Exception {
        List<Measurement> fs = all(run(new JobMemory()), "filesystem");
        List<String[]> info = mountinfo();
        Map<String, String[]> byMount = new HashMap<>();
        for (String[] m : info) {
            byMount.put(m[3], m);    // the last mount on a mount point is the visible one
        }
        Set<String> reportedDevices = new HashSet<>();
        for (Measurement m : fs) {
            String[] entry = byMount.get(m.tags().get("mount"));
            assertNotNull(entry, "a mount point from mountinfo: " + m);
            assertEquals(entry[4], m.tags().get("fstype"));
            assertEquals(entry[5], m.tags().get("device"));
            assertTrue(reportedDevices.add(entry[1]), "device " + entry[1] + " reported twice: " + fs);
            assertFalse(Set.of("proc", "sysfs", "tmpfs", "devtmpfs", "devpts", "cgroup", "cgroup2", "mqueue", "squashfs")
                    .contains(entry[4]), m.toString());
        }
        // Every visible mount of a block device that is a directory and not an image has its device reported.
        for (String[] m : byMount.values()) {
            boolean block = !m[1].startsWith("0:");
            if (block && !Set.of("squashfs", "iso9660", "udf", "erofs", "cramfs").contains(m[4]) && Files.isDirectory(Path.of(m[3]))) {
                assertTrue(reportedDevices.contains(m[1]), "mount " + m[3] + " (" + m[1] + ", " + m[4] + ") is not reported: " + fs);
            }
        }
        String root = byMount.get("/")[4];
        if (!byMount.get("/")[1].startsWith("0:") || root.equals("overlay")) {
            assertTrue(fs.stream().anyMatch(m -> m.tags().get("mount").equals("/")), "/ is reported: " + fs);
        }
    }

    @Test
    void tmpfsIsReportedOnlyWhenAskedFor() throws Exception {
        boolean anyTmpfs = mountinfo().stream().anyMatch(m -> m[4].equals("tmpfs") && Files.isDirectory(Path.of(m[3])));
        assumeTrue(anyTmpfs, "no tmpfs mounted on this machine");

        List<Measurement> plain = all(run(new JobMemory()), "filesystem");
        List<Measurement> withTmpfs = all(run(new JobMemory(), "--fs-types", "tmpfs"), "filesystem");

        assertTrue(plain.stream().noneMatch(m -> m.tags().get("fstype").equals("tmpfs")), plain.toString());
        assertTrue(withTmpfs.stream().anyMatch(m -> m.tags().get("fstype").equals("tmpfs")), withTmpfs.toString());
        assertTrue(withTmpfs.size() > plain.size());
    }

    // ---------------------------------------------------------------- disks

    @Test
    void aDiskWriteOfKnownSizeShowsInTheDisksWriteBytes() throws Exception {
        // The directory to write in must be on a block device: the temp dir, or else the build directory
        // (in a container the temp dir can be on overlay while the checkout is a mounted volume).
        Path where = null;
        String disk = null;
        for (Path candidate : List.of(dir, Path.of(System.getProperty("user.dir"), "target"))) {
            disk = wholeDiskOf(candidate);
            if (disk != null) {
                where = candidate;
                break;
            }
        }
        assumeTrue(disk != null, "neither " + dir + " nor target/ is on a block device listed in /sys/block (overlay, tmpfs, "
                + "btrfs or a loop/ram device), so no disk's counters can show the write");
        long size = 64 * MIB;
        Path file = Files.createTempFile(where, "sampler-write", ".bin");
        try {
            JobMemory memory = new JobMemory();
            long start = System.nanoTime();
            run(memory);
            byte[] chunk = new byte[(int) MIB];
            new Random(42).nextBytes(chunk);     // incompressible, for filesystems that compress
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
                for (long done = 0; done < size; done += chunk.length) {
                    ch.write(ByteBuffer.wrap(chunk));
                }
                ch.force(true);                   // on the disk before the second run reads the counters
            }
            RunResult second = run(memory);
            double elapsed = (System.nanoTime() - start) / 1e9;

            Measurement m = one(second, "disk", "device", disk);
            // The sampler's interval lies inside [start of run 1, end of run 2], so rate x that span is at
            // least what was written in the interval: the 64 MiB, less 1 MiB of tolerance.
            double written = m.values().get("write_bytes_per_s") * elapsed;
            assertTrue(written >= size - MIB, disk + ": " + written + " bytes written per the sampler, wrote " + size + "; " + m);
            assertTrue(m.values().get("writes_per_s") * elapsed >= 1, m.toString());
            assertTrue(m.values().get("util_pct") > 0 && m.values().get("util_pct") <= 100, m.toString());
            assertTrue(m.values().get("await_ms") >= 0, m.toString());
        } finally {
            Files.deleteIfExists(file);
        }
    }

    // ---------------------------------------------------------------- network and tcp

    @Test
    void loopbackTrafficShowsInTheInterfaceRates() throws Exception {
        String lo = loopbackInterface();
        long size = 16 * MIB;
        JobMemory memory = new JobMemory();
        long start = System.nanoTime();
        run(memory);
        sendOverLoopback(size);
        RunResult second = run(memory);
        double elapsed = (System.nanoTime() - start) / 1e9;

        Measurement m = one(second, "network", "interface", lo);
        assertTrue(m.values().get("rx_bytes_per_s") * elapsed >= size, m + " over " + elapsed + " s; sent " + size);
        assertTrue(m.values().get("tx_bytes_per_s") * elapsed >= size, m.toString());
        // A loopback packet carries at most 64 KiB.
        assertTrue(m.values().get("rx_packets_per_s") * elapsed >= size / 65536.0, m.toString());
        assertTrue(m.values().get("tx_packets_per_s") * elapsed >= size / 65536.0, m.toString());
    }

    @Test
    void tcpStatesCountTheConnectionsTheTestHoldsAndCloses() throws Exception {
        // Plain Java sockets are IPv6 sockets (127.0.0.1 shows as ::ffff:127.0.0.1 in /proc/net/tcp6):
        // channels opened with an explicit family put connections in each file, which have different layouts.
        List<StandardProtocolFamily> families = new ArrayList<>(List.of(StandardProtocolFamily.INET));
        if (Files.exists(Path.of("/proc/net/tcp6")) && bindable(InetAddress.getByName("::1"))) {
            families.add(StandardProtocolFamily.INET6);
        }
        for (StandardProtocolFamily family : families) {
            InetAddress address = InetAddress.getByName(family == StandardProtocolFamily.INET ? "127.0.0.1" : "::1");
            String file = family == StandardProtocolFamily.INET ? "/proc/net/tcp" : "/proc/net/tcp6";
            // 2n + 1 lines of 150-180 bytes: several kernel pages, so the plugin must read past the
            // first page and stop only at the end (it skips the read that would return nothing).
            int n = 60;
            List<SocketChannel> clients = new ArrayList<>();
            List<SocketChannel> accepted = new ArrayList<>();
            try (ServerSocketChannel server = ServerSocketChannel.open(family)) {
                server.bind(new InetSocketAddress(address, 0), n);
                for (int i = 0; i < n; i++) {
                    clients.add(SocketChannel.open(family));
                    clients.get(i).connect(server.getLocalAddress());
                    accepted.add(server.accept());
                }
                assertTrue(linesOfPort(file, ((InetSocketAddress) server.getLocalAddress()).getPort()) >= 2 * n + 1,
                        "the connections are in " + file);

                RunResult open = run(new JobMemory());
                assertTrue(connections(open, "established") >= 2 * n, family + ": both ends of " + n + " connections: " + all(open, "tcp"));
                assertTrue(connections(open, "listen") >= 1, all(open, "tcp").toString());

                // The side that closes first waits in TIME_WAIT (60 s on Linux) once the other side closed too.
                for (SocketChannel c : clients) {
                    c.close();
                }
                for (SocketChannel s : accepted) {
                    s.close();
                }
                await().atMost(Duration.ofSeconds(20)).until(() -> connections(run(new JobMemory()), "time_wait") >= n);
            } finally {
                for (SocketChannel c : clients) {
                    c.close();
                }
                for (SocketChannel s : accepted) {
                    s.close();
                }
            }
        }
    }

    @Test
    void tcpStatesOfAFileLargerThanTheReadBufferAreAllCounted() throws Exception {
        // 1,000 connections are 2,000 lines of 150 bytes in /proc/net/tcp, about 300 KB: the sampler parses
        // it in chunks of up to 128 KiB, so this takes several.
        int n = 1000;
        try (LoopbackConnections held = LoopbackConnections.open(n)) {
            assertTrue(Files.readAllBytes(Path.of("/proc/net/tcp")).length > 2 * 128 * 1024);
            // Other connections come and go: eventually a run's count lies between a direct count just
            // before it and one just after, exactly (a line lost at a chunk boundary would show).
            await().atMost(Duration.ofSeconds(30)).until(() -> {
                long before = directCount("01");
                double counted = connections(run(new JobMemory()), "established");
                long after = directCount("01");
                return counted >= Math.min(before, after) && counted <= Math.max(before, after) && counted >= 2 * n;
            });
        }
    }

    /** Sockets in this hex state in /proc/net/tcp and tcp6, counted the simple way. */
    private static long directCount(String state) throws IOException {
        long n = 0;
        for (String file : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
            if (!Files.exists(Path.of(file))) {
                continue;
            }
            List<String> lines = Files.readAllLines(Path.of(file));
            for (String line : lines.subList(1, lines.size())) {
                if (line.trim().split("\\s+")[3].equals(state)) {
                    n++;
                }
            }
        }
        return n;
    }

    /** Lines of a /proc/net/tcp* file with this port as local or remote port. */
    private static long linesOfPort(String file, int port) throws IOException {
        String hex = String.format(":%04X ", port);
        return Files.readAllLines(Path.of(file)).stream().filter(l -> l.contains(hex)).count();
    }

    // ---------------------------------------------------------------- processes

    @Test
    void processesCountsAndForksOfProcessesTheTestStarts() throws Exception {
        int k = 20;
        JobMemory memory = new JobMemory();
        long start = System.nanoTime();
        run(memory);
        List<Process> started = new ArrayList<>();
        try {
            for (int i = 0; i < k; i++) {
                started.add(new ProcessBuilder("true").start());
            }
            for (Process p : started) {
                assertTrue(p.waitFor(30, TimeUnit.SECONDS));
            }
        } finally {
            started.forEach(Process::destroyForcibly);
        }
        RunResult second = run(memory);
        double elapsed = (System.nanoTime() - start) / 1e9;

        Measurement m = one(second, "processes");
        assertEquals(List.of("running", "blocked", "total", "threads", "forks_per_s"), List.copyOf(m.values().keySet()));
        assertTrue(m.values().get("forks_per_s") * elapsed >= k, m + " over " + elapsed + " s; started " + k);
        assertTrue(m.values().get("running") >= 1, "the sampler's own thread runs while it reads /proc/stat: " + m);
        double total = m.values().get("total");
        assertTrue(m.values().get("threads") >= total, "every process has a thread: " + m);
        assertTrue(m.values().get("threads") >= Thread.activeCount(), m.toString());
        // Processes come and go (other tests, other builds): eventually a run falls between a count of the
        // /proc directories just before and one just after it, give or take 3.
        await().atMost(Duration.ofSeconds(30)).until(() -> {
            long before = procCount();
            double t = one(run(new JobMemory()), "processes").values().get("total");
            long after = procCount();
            return t >= Math.min(before, after) - 3 && t <= Math.max(before, after) + 3;
        });
    }


    // ---------------------------------------------------------------- counters going backwards

    @Test
    @SuppressWarnings("unchecked")
    void countersThatWentBackwardsGiveNoRateAndVanishedDevicesAreForgotten() throws Exception {
        JobMemory memory = new JobMemory();
        run(memory);
        awaitCpuTicks();
        Map<String, Object> state = memory.state();
        String lo = loopbackInterface();

        // As if the counters had been higher at the previous run: a reset (64-bit counters) in between.
        Map<String, long[]> net = (Map<String, long[]>) state.get("network");
        net.get(lo)[0] = Long.MAX_VALUE / 2;                 // rx bytes
        net.put("gone0", new long[12]);                      // an interface that has since disappeared
        Map<String, long[]> cpu = (Map<String, long[]>) state.get("cpu");
        // CPU 0's user time ahead of now, its idle time far behind: the shares would still sum to 100, but one is negative.
        long[] cpu0 = cpu.get("0");
        cpu0[0] += 1000;
        cpu0[3] -= Math.min(cpu0[3], 1_000_000);
        state.put("processes.forks", Long.MAX_VALUE / 2);

        RunResult second = run(memory);

        Measurement loSample = one(second, "network", "interface", lo);
        assertFalse(loSample.values().containsKey("rx_bytes_per_s"), loSample.toString());
        assertTrue(loSample.values().containsKey("tx_bytes_per_s"), "the other counters still give rates: " + loSample);
        assertFalse(tagValues(second, "network", "interface").contains("gone0"));
        assertFalse(((Map<String, long[]>) memory.state().get("network")).containsKey("gone0"), "forgotten once gone");
        assertFalse(tagValues(second, "cpu", "cpu").contains("0"), all(second, "cpu").toString());
        assertTrue(tagValues(second, "cpu", "cpu").contains("total"));
        assertFalse(one(second, "processes").values().containsKey("forks_per_s"));

        RunResult third = run(memory);
        assertTrue(one(third, "network", "interface", lo).values().containsKey("rx_bytes_per_s"), "rates again from the next interval");
        assertTrue(one(third, "processes").values().containsKey("forks_per_s"));
    }

    @Test
    @SuppressWarnings("unchecked")
    void diskTimesWrapAt32BitsAndADiskWhoseIoCountWentBackwardsIsSkipped() throws Exception {
        JobMemory wrap = new JobMemory(), reset = new JobMemory();
        run(wrap);
        run(reset);
        Map<String, long[]> wrapDisks = (Map<String, long[]>) wrap.state().get("disk");
        Map<String, long[]> resetDisks = (Map<String, long[]>) reset.state().get("disk");
        assumeTrue(!wrapDisks.isEmpty(), "no disk in /sys/block has done any IO");
        for (long[] d : wrapDisks.values()) {
            // diskstats prints the time fields as 32-bit: just below 2^32 before, small now, with the IO
            // counts going forward, is a wrap.
            d[3] = (1L << 32) - 1;     // ms reading
            d[9] = (1L << 32) - 1;     // ms with IO in flight
        }
        for (long[] d : resetDisks.values()) {
            d[4] = Long.MAX_VALUE / 2;  // writes completed: the device was reset
        }

        RunResult wrapped = run(wrap);
        RunResult wasReset = run(reset);

        assertEquals(wrapDisks.keySet(), tagValues(wrapped, "disk", "device"));
        for (Measurement m : all(wrapped, "disk")) {
            // The wrapped difference is the whole current value plus one, far more than the interval: capped.
            assertEquals(100.0, m.values().get("util_pct"), m.toString());
            assertTrue(m.values().get("await_ms") >= 0, m.toString());
        }
        assertEquals(List.of(), all(wasReset, "disk"), "no rate from a reset device");
        assertEquals(resetDisks.keySet(), tagValues(run(reset), "disk", "device"), "rates again from the next interval");
    }

    @Test
    void aDeviceMountedTwiceIsReportedOnceAtItsRoot() throws Exception {
        // A bind mount inside the temp dir (needs root, as in CI); unmounted in finally.
        assumeTrue(wholeDiskOf(dir) != null, dir + " is not on a block device");
        Path source = Files.createDirectories(dir.resolve("source"));
        Path target = Files.createDirectories(dir.resolve("target"));
        Process mount;
        try {
            mount = new ProcessBuilder("mount", "--bind", source.toString(), target.toString()).redirectErrorStream(true).start();
        } catch (IOException e) {
            assumeTrue(false, "no mount command: " + e.getMessage());
            return;
        }
        String why;
        try {
            why = new String(mount.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(mount.waitFor(30, TimeUnit.SECONDS));
        } finally {
            mount.destroyForcibly();
        }
        assumeTrue(mount.exitValue() == 0, "cannot bind-mount here (not root?): " + why);
        try {
            String[] bind = null;
            for (String[] m : mountinfo()) {
                if (m[3].equals(target.toString())) {
                    bind = m;
                }
            }
            assertNotNull(bind, "the bind mount is in mountinfo");
            String device = bind[1];
            List<Measurement> fs = all(run(new JobMemory()), "filesystem");

            assertFalse(tagValues(fs, "mount").contains(target.toString()), fs.toString());
            long ofDevice = mountinfo().stream().filter(m -> m[1].equals(device))
                    .filter(m -> tagValues(fs, "mount").contains(m[3])).count();
            assertEquals(1, ofDevice, "device " + device + " once: " + fs);
        } finally {
            Process umount = new ProcessBuilder("umount", target.toString()).redirectErrorStream(true).start();
            try {
                assertTrue(umount.waitFor(30, TimeUnit.SECONDS));
                assertEquals(0, umount.exitValue(), new String(umount.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
            } finally {
                umount.destroyForcibly();
            }
        }
    }

    // ---------------------------------------------------------------- arguments

    @Test
    void excludeOptionsDropTheMatchingSeries() throws Exception {
        JobMemory memory = new JobMemory();
        String[] args = {"--exclude-interface", "^" + loopbackInterface() + "$", "--exclude-device", ".", "--exclude-mount", "^/$"};
        run(memory, args);
        RunResult second = run(memory, args);

        assertFalse(tagValues(second, "network", "interface").contains(loopbackInterface()));
        assertEquals(List.of(), all(second, "disk"));
        assertFalse(tagValues(second, "filesystem", "mount").contains("/"));
    }

    @Test
    void onlyAndSkipChooseTheParts() throws Exception {
        JobMemory tcpOnly = new JobMemory();
        run(tcpOnly, "--only", "tcp");
        RunResult onlyTcp = run(tcpOnly, "--only", "tcp");
        assertEquals(Set.of("tcp"), onlyTcp.measurements().stream().map(Measurement::metric).collect(Collectors.toSet()));
        assertEquals(TCP_STATES, tagValues(onlyTcp, "tcp", "state"));

        JobMemory rest = new JobMemory();
        run(rest, "--skip", "tcp,filesystem");
        awaitCpuTicks(); // cpu shares need the counters to move between the two runs
        RunResult skipped = run(rest, "--skip", "tcp,filesystem");
        Set<String> metrics = skipped.measurements().stream().map(Measurement::metric).collect(Collectors.toSet());
        assertEquals(Set.of("load", "processes", "memory", "cpu", "network"), metrics.stream().filter(m -> !m.equals("disk"))
                .collect(Collectors.toSet()), "disk is there when the machine has a disk with IO: " + metrics);
        assertEquals(Status.OK, skipped.outcome());

        RunResult twice = run(new JobMemory(), "--only", "load", "--only", "tcp");
        assertEquals(Set.of("load", "processes", "tcp"), twice.measurements().stream().map(Measurement::metric).collect(Collectors.toSet()),
                "repeated --only options add up");
    }

    @Test
    void anUnknownPartIsNamedWithTheParts() throws Exception {
        RunResult r = plugin.run(job(SAMPLER, LIMITS, "--skip", "tcp,disks"), new JobMemory());
        assertEquals(Status.ERROR, r.outcome());
        assertEquals(1, r.measurements().size(), "nothing sampled with a bad argument: " + r.measurements());
        assertTrue(r.measurements().get(0).message().startsWith("IllegalArgumentException: bad argument --skip 'tcp,disks': no part named disks; "
                + "the parts are load, memory, cpu, filesystem, disk, network, tcp"), r.measurements().toString());

        RunResult none = plugin.run(job(SAMPLER, LIMITS, "--only", "tcp", "--skip", "tcp"), new JobMemory());
        assertEquals(Status.ERROR, none.outcome(), "a job that could never report anything is an error, not a quiet ok");
        assertTrue(none.measurements().get(0).message().startsWith("IllegalArgumentException: bad arguments: --only and --skip leave no part"),
                none.measurements().toString());
    }

    @Test
    void badArgumentsAreNamedWithTheUsage() throws Exception {
        RunResult regex = plugin.run(job(SAMPLER, LIMITS, "--exclude-device", "(sd"), new JobMemory());
        RunResult unknown = plugin.run(job(SAMPLER, LIMITS, "--bogus", "1"), new JobMemory());
        RunResult missing = plugin.run(job(SAMPLER, LIMITS, "--fs-types"), new JobMemory());

        for (RunResult r : List.of(regex, unknown, missing)) {
            assertEquals(Status.ERROR, r.outcome());
            assertEquals(1, r.measurements().size(), "nothing sampled with bad arguments: " + r.measurements());
        }
        assertTrue(regex.measurements().get(0).message().startsWith(
                "IllegalArgumentException: bad argument --exclude-device '(sd': not a regular expression"), regex.measurements().toString());
        assertTrue(unknown.measurements().get(0).message().startsWith("IllegalArgumentException: bad argument '--bogus'; usage: sampler.groovy"),
                unknown.measurements().toString());
        assertTrue(missing.measurements().get(0).message().startsWith("IllegalArgumentException: bad argument '--fs-types' (no value)"),
                missing.measurements().toString());
    }

    // ---------------------------------------------------------------- helpers

    static final Set<String> TCP_STATES = new TreeSet<>(List.of("established", "syn_sent", "syn_recv", "fin_wait1", "fin_wait2",
            "time_wait", "close", "close_wait", "last_ack", "listen", "closing"));

    private static RunResult run(JobMemory memory, String... args) throws Exception {
        RunResult r = plugin.run(job(SAMPLER, LIMITS, args), memory);
        assertEquals(Status.OK, r.outcome(), () -> r.measurements().toString());
        for (Measurement m : r.measurements()) {
            assertTrue(m.status() == Status.OK, m.toString());
        }
        return r;
    }

    static List<Measurement> all(RunResult r, String metric) {
        return r.measurements().stream().filter(m -> m.metric().equals(metric)).toList();
    }

    static Measurement one(RunResult r, String metric) {
        List<Measurement> found = all(r, metric);
        assertEquals(1, found.size(), () -> "one '" + metric + "' sample: " + r.measurements());
        return found.get(0);
    }

    static Measurement one(RunResult r, String metric, String tag, String value) {
        List<Measurement> found = all(r, metric).stream().filter(m -> value.equals(m.tags().get(tag))).toList();
        assertEquals(1, found.size(), () -> "one '" + metric + "' sample with " + tag + "=" + value + ": " + all(r, metric));
        return found.get(0);
    }

    static Set<String> tagValues(RunResult r, String metric, String tag) {
        return tagValues(all(r, metric), tag);
    }

    static Set<String> tagValues(List<Measurement> samples, String tag) {
        return samples.stream().map(m -> m.tags().get(tag)).collect(Collectors.toCollection(TreeSet::new));
    }

    private static double connections(RunResult r, String state) {
        return one(r, "tcp", "state", state).values().get("connections");
    }

    private static void assertBetween(String name, Measurement m, long a, long b, long tolerance) {
        double v = m.values().get(name);
        assertTrue(v >= Math.min(a, b) - tolerance && v <= Math.max(a, b) + tolerance,
                name + " = " + (long) v + " is not within " + tolerance + " of [" + Math.min(a, b) + ", " + Math.max(a, b) + "]");
    }

    /** Waits until every CPU's counters in /proc/stat have moved, so that the next run has an interval to share. */
    static void awaitCpuTicks() throws IOException {
        List<String> before = cpuLines();
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20)).until(() -> {
            List<String> now = cpuLines();
            if (now.size() != before.size()) {
                return false;
            }
            for (int i = 0; i < now.size(); i++) {
                if (now.get(i).equals(before.get(i))) {
                    return false;
                }
            }
            return true;
        });
    }

    private static List<String> cpuLines() throws IOException {
        return Files.readAllLines(Path.of("/proc/stat")).stream().filter(l -> l.startsWith("cpu")).toList();
    }

    /** The online CPUs, from /sys/devices/system/cpu/online ("0-3,5"). */
    static Set<String> onlineCpus() throws IOException {
        Set<String> out = new TreeSet<>();
        for (String range : Files.readString(Path.of("/sys/devices/system/cpu/online")).strip().split(",")) {
            String[] ends = range.split("-");
            int from = Integer.parseInt(ends[0]), to = Integer.parseInt(ends[ends.length - 1]);
            for (int i = from; i <= to; i++) {
                out.add(Integer.toString(i));
            }
        }
        return out;
    }

    /** Whole disks (in /sys/block) that have done IO, minus loop and ram devices. */
    private static Set<String> usedWholeDisks() throws IOException {
        Set<String> whole = new HashSet<>();
        try (var s = Files.list(Path.of("/sys/block"))) {
            s.forEach(p -> whole.add(p.getFileName().toString().replace('!', '/')));
        }
        Set<String> out = new TreeSet<>();
        for (String line : Files.readAllLines(Path.of("/proc/diskstats"))) {
            String[] f = line.trim().split("\\s+");
            if (whole.contains(f[2]) && !f[2].matches("(loop|ram)[0-9]+") && (Long.parseLong(f[3]) > 0 || Long.parseLong(f[7]) > 0)) {
                out.add(f[2]);
            }
        }
        return out;
    }

    private static Set<String> interfaces() throws IOException {
        Set<String> out = new TreeSet<>();
        for (String line : Files.readAllLines(Path.of("/proc/net/dev"))) {
            int colon = line.indexOf(':');
            if (colon > 0 && !line.contains("|")) {
                out.add(line.substring(0, colon).strip());
            }
        }
        return out;
    }

    private static String loopbackInterface() throws IOException {
        assertTrue(interfaces().contains("lo"), "every network namespace has lo: " + interfaces());
        return "lo";
    }

    /** /proc/meminfo in bytes. */
    private static Map<String, Long> meminfo() throws IOException {
        Map<String, Long> out = new HashMap<>();
        for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
            String[] f = line.split(":\\s*|\\s+");
            out.put(f[0], Long.parseLong(f[1]) * (line.endsWith(" kB") ? 1024 : 1));
        }
        return out;
    }

    /** `free -b`: total, used, free, shared, buff/cache, available; swap_total, swap_used. */
    private static Map<String, Long> free() throws Exception {
        String out = command("free", "-b");
        Map<String, Long> m = new HashMap<>();
        for (String line : out.split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f[0].equals("Mem:")) {
                String[] names = {"total", "used", "free", "shared", "buff/cache", "available"};
                for (int i = 0; i < names.length; i++) {
                    m.put(names[i], Long.parseLong(f[i + 1]));
                }
            } else if (f[0].equals("Swap:")) {
                m.put("swap_total", Long.parseLong(f[1]));
                m.put("swap_used", Long.parseLong(f[2]));
            }
        }
        assertEquals(8, m.size(), out);
        return m;
    }

    /** `df -B1` for these mount points: mount point -> {size, used, avail}. */
    private static Map<String, long[]> df(List<String> mounts) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("df", "-B1", "--output=size,used,avail,target"));
        cmd.addAll(mounts);
        Map<String, long[]> out = new LinkedHashMap<>();
        String[] lines = command(cmd.toArray(new String[0])).split("\n");
        for (int i = 1; i < lines.length; i++) {
            String[] f = lines[i].trim().split("\\s+", 4);
            out.put(f[3], new long[]{Long.parseLong(f[0]), Long.parseLong(f[1]), Long.parseLong(f[2])});
        }
        return out;
    }

    private static String command(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try {
            byte[] out = p.getInputStream().readAllBytes();
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), String.join(" ", cmd) + " did not finish");
            String text = new String(out, StandardCharsets.UTF_8);
            assertEquals(0, p.exitValue(), String.join(" ", cmd) + ": " + text);
            return text;
        } finally {
            p.destroyForcibly();
        }
    }

    /** mountinfo: [id, major:minor, root, mount point, type, source], with \040 escapes decoded. */
    static List<String[]> mountinfo() throws IOException {
        List<String[]> out = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
            String[] a = line.substring(0, line.indexOf(" - ")).split(" ");
            String[] b = line.substring(line.indexOf(" - ") + 3).split(" ");
            out.add(new String[]{a[0], a[2], octal(a[3]), octal(a[4]), b[0], octal(b[1])});
        }
        return out;
    }

    private static String octal(String s) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) == '\\' && i + 3 < s.length() && s.substring(i + 1, i + 4).matches("[0-7]{3}")) {
                sb.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                sb.append(s.charAt(i));
            }
        }
        return sb.toString();
    }

    /**
     * The whole disk (a name in /sys/block) holding {@code dir}'s filesystem, or null if no block device
     * backs it: the device number of the directory, /sys/dev/block/MAJOR:MINOR, and its parent if that is
     * a partition. Loop and ram devices count as none (the sampler leaves them out by default).
     */
    static String wholeDiskOf(Path dir) throws IOException {
        long dev = (Long) Files.getAttribute(dir, "unix:dev");
        long major = ((dev >>> 8) & 0xfffL) | ((dev >>> 32) & ~0xfffL);
        long minor = (dev & 0xffL) | ((dev >>> 12) & ~0xffL);
        Path sys = Path.of("/sys/dev/block/" + major + ":" + minor);
        if (major == 0 || !Files.exists(sys)) {
            return null;
        }
        Path device = sys.toRealPath();
        if (Files.exists(device.resolve("partition"))) {
            device = device.getParent();
        }
        String name = device.getFileName().toString();
        if (!Files.exists(Path.of("/sys/block", name)) || name.matches("(loop|ram)[0-9]+")) {
            return null;
        }
        return name.replace('!', '/');
    }

    private static long procCount() {
        String[] names = new java.io.File("/proc").list();
        long n = 0;
        for (String s : names) {
            if (Character.isDigit(s.charAt(0))) {
                n++;
            }
        }
        return n;
    }

    private static boolean bindable(InetAddress a) {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress(a, 0));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** Sends {@code size} bytes from one loopback socket to another, both ends in this test. */
    static void sendOverLoopback(long size) throws Exception {
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            AtomicLong received = new AtomicLong();
            Thread reader = new Thread(() -> {
                try (Socket s = server.accept(); InputStream in = s.getInputStream()) {
                    byte[] buf = new byte[64 * 1024];
                    int n;
                    while ((n = in.read(buf)) > 0) {
                        received.addAndGet(n);
                    }
                } catch (IOException ignored) {
                    // The assertion on the count reports it.
                }
            }, "loopback-reader");
            reader.start();
            try (Socket c = new Socket(server.getInetAddress(), server.getLocalPort()); OutputStream out = c.getOutputStream()) {
                byte[] buf = new byte[64 * 1024];
                for (long sent = 0; sent < size; sent += buf.length) {
                    out.write(buf);
                }
            }
            reader.join(30_000);
            assertFalse(reader.isAlive(), "the reader finished");
            assertEquals(size, received.get());
        }
    }
}
