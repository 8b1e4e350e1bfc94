package io.aegisquartz.plugins;

import io.aegisquartz.config.JobOptions;
import io.aegisquartz.plugin.JobMemory;
import io.aegisquartz.plugin.RunResult;
import io.aegisquartz.plugin.groovy.GroovyPlugin;
import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Status;
import io.aegisquartz.testing.PluginRunners;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import static io.aegisquartz.testing.TestJobs.job;
import static io.aegisquartz.testing.TestJobs.limits;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/**
 * plugins-default/process_top.groovy on the real machine: two runs of one job around something a
 * process the test starts does (writes to disk, sends over loopback TCP, burns CPU in a child), and
 * the values of that process's group over the interval. Values are rates; rate x the interval the
 * plugin reports in its summary gives back the bytes or CPU seconds, which the test knows.
 */
class ProcessTopTest extends PluginRunners {

    static final Path PLUGIN = Path.of(System.getProperty("user.dir")).resolve("../../plugins-default/process_top.groovy").normalize();
    static final Path TARGET = Path.of(System.getProperty("user.dir")).resolve("target").normalize();
    static final JobOptions LIMITS = limits(Duration.ofSeconds(30), Duration.ofSeconds(10));
    static final double MIB = 1024 * 1024;

    /** In the command line of every process this test starts, so its groups can be told apart. */
    final String marker = "aqtop" + ThreadLocalRandom.current().nextInt(1_000_000, 10_000_000);
    final List<Process> started = new ArrayList<>();
    final List<Path> files = new ArrayList<>();

    GroovyPlugin plugin;
    JobMemory memory = new JobMemory();

    @BeforeEach
    void compile() throws Exception {
        plugin = GroovyPlugin.compile(PLUGIN, inJvm, processes);
    }

    @AfterEach
    void stop() throws IOException {
        for (Process p : started) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
        for (Path f : files) {
            Files.deleteIfExists(f);
        }
    }

    @Test
    void aProcessThatWrites64MiBToDiskShowsThemAsWriteBytes() throws Exception {
        // write_bytes counts page cache the process dirties, on a file system backed by storage; tmpfs
        // writes never reach storage and are not counted. The build directory is on the disk of the
        // checkout (ext4 on CI).
        Files.createDirectories(TARGET);
        assumeFalse(Files.getFileStore(TARGET).type().equals("tmpfs"), "target/ is on tmpfs: no storage writes to measure");
        Path data = TARGET.resolve(marker + ".data");
        Path done = TARGET.resolve(marker + ".done");
        files.add(data);
        files.add(done);
        // sh waits for a line, has dd write 64 MiB and fsync them, and stays alive. dd is sh's child,
        // reaped by sh: its IO moves into sh's /proc/PID/io, so sh's group is where the bytes show.
        Process writer = start("sh", "-c", ": " + marker + "; read go; dd if=/dev/zero of=\"$1\" bs=1M count=64 conv=fsync 2>/dev/null; : > \"$2\"; read stay",
                "sh", data.toString(), done.toString());

        RunResult first = run("--top", "50", "--io-kbps", "1");
        assertNotNull(summary(first));
        send(writer, "go");
        await().atMost(Duration.ofSeconds(120)).until(() -> Files.exists(done));
        RunResult second = run("--top", "50", "--io-kbps", "1");

        Measurement g = group(second, marker);
        assertNotNull(g, "the writer's group is reported: " + second.measurements());
        assertEquals("sh", g.tags().get("name"));
        assertEquals("PIDs " + writer.pid(), g.message());
        double interval = summary(second).values().get("interval_s");
        double written = g.values().get("write_bytes_per_s") * interval;
        // Exactly 64 MiB of file data is dirtied; allow 5% below (none expected) and 10% above for any
        // metadata a file system might charge to the writer.
        assertTrue(written >= 64 * MIB * 0.95 && written <= 64 * MIB * 1.10, "written " + written / MIB + " MiB, expected 64: " + g);
        assertEquals("B/s", g.units().get("write_bytes_per_s"));
    }

    @Test
    void tcpBytesOverLoopbackShowForTheSenderAndTheReceiver() throws Exception {
        long bytes = 32L << 20;
        // Two python3 processes: a receiver that reads until it has all the bytes, and a sender that
        // connects, waits for a line, sends, and stays connected.
        Process receiver = start("/usr/bin/python3", "-c", "# " + marker + "-rx\n" + """
                import socket, sys
                s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)
                print(s.getsockname()[1], flush=True)
                c, _ = s.accept(); print('accepted', flush=True)
                want, got = int(sys.argv[1]), 0
                while got < want:
                    b = c.recv(1 << 20)
                    if not b: break
                    got += len(b)
                print('got', got, flush=True)
                sys.stdin.readline()
                """, String.valueOf(bytes));
        BlockingQueue<String> rxOut = lines(receiver);
        String port = rxOut.poll(60, TimeUnit.SECONDS);
        assertNotNull(port, "the receiver listens");
        Process sender = start("/usr/bin/python3", "-c", "# " + marker + "-tx\n" + """
                import socket, sys
                c = socket.create_connection(('127.0.0.1', int(sys.argv[1]))); print('connected', flush=True)
                sys.stdin.readline()
                c.sendall(b'x' * int(sys.argv[2])); print('sent', flush=True)
                sys.stdin.readline()
                """, port, String.valueOf(bytes));
        BlockingQueue<String> txOut = lines(sender);
        assertEquals("connected", txOut.poll(60, TimeUnit.SECONDS));
        assertEquals("accepted", rxOut.poll(60, TimeUnit.SECONDS));

        RunResult first = run("--top", "50", "--net-kbps", "1");
        assertFalse(summary(first).message().contains("no network values"), summary(first).message());
        send(sender, "go");
        assertEquals("got " + bytes, rxOut.poll(120, TimeUnit.SECONDS));
        RunResult second = run("--top", "50", "--net-kbps", "1");

        Measurement summary = summary(second);
        assertFalse(summary.message().contains("no network values"), summary.message());
        double interval = summary.values().get("interval_s");
        Measurement tx = group(second, marker + "-tx");
        Measurement rx = group(second, marker + "-rx");
        assertNotNull(tx, "the sender's group is reported: " + second.measurements());
        assertNotNull(rx, "the receiver's group is reported: " + second.measurements());
        // All bytes were read by the receiver before the second run, so all were acknowledged: the
        // counters are exact; 5% allows for nothing in particular but TCP's SYN/FIN accounting.
        double sent = tx.values().get("net_tx_bytes_per_s") * interval;
        double received = rx.values().get("net_rx_bytes_per_s") * interval;
        assertTrue(Math.abs(sent - bytes) <= bytes * 0.05, "sent " + sent + " of " + bytes + ": " + tx);
        assertTrue(Math.abs(received - bytes) <= bytes * 0.05, "received " + received + " of " + bytes + ": " + rx);
        assertTrue(tx.values().get("net_rx_bytes_per_s") * interval < bytes * 0.01, "the sender received ~nothing: " + tx);
        assertTrue(rx.values().get("net_tx_bytes_per_s") * interval < bytes * 0.01, "the receiver sent ~nothing: " + rx);
        assertEquals("PIDs " + sender.pid(), tx.message());
        assertTrue(tx.values().get("fds") >= 4, "stdin, stdout, stderr and the socket: " + tx);
        assertTrue(summary.values().get("sockets") >= 2, summary.toString());
    }

    @Test
    void cpuOfAReapedChildCountsInItsParentsGroupOnce() throws Exception {
        // sh runs a python3 child that burns 0.3 s of CPU, waits for a line, burns 0.3 s more and
        // exits; sh reaps it and stays. The first run sees the child with its first 0.3 s; at the second
        // the child is gone and its whole CPU is in sh's cutime. sh's group must show the second 0.3 s
        // only: the first was the child's own, in the interval before.
        String burn = "import sys, time\n"
                + "def burn(s):\n    t = time.process_time()\n    while time.process_time() - t < s: pass\n"
                + "burn(0.3); print('half', flush=True); sys.stdin.readline(); burn(0.3)\n";
        Process sh = start("sh", "-c", ": " + marker + "; /usr/bin/python3 -c \"$1\"; echo done; read stay", "sh", burn);
        BlockingQueue<String> out = lines(sh);
        assertEquals("half", out.poll(60, TimeUnit.SECONDS));

        run("--top", "100", "--cpu-pct", "0.1");
        send(sh, "go");
        assertEquals("done", out.poll(60, TimeUnit.SECONDS));
        RunResult second = run("--top", "100", "--cpu-pct", "0.1");

        Measurement g = group(second, marker);
        assertNotNull(g, "sh's group is reported: " + second.measurements());
        assertEquals("PIDs " + sh.pid(), g.message());
        double cpuSeconds = g.values().get("cpu_pct") / 100 * summary(second).values().get("interval_s");
        // 0.3 s, plus the child's exit and sh's own few ticks; counting the child's first half again
        // would give 0.6 s.
        assertTrue(cpuSeconds >= 0.27 && cpuSeconds <= 0.45, "cpu " + cpuSeconds + " s, expected 0.3: " + g);
    }

    @Test
    void aGroupIsNamedAfterItsOldestProcessAndGroupsComeMostCpuFirst() throws Exception {
        // Two processes with one command line are one group. The younger renames itself (its comm),
        // so the group's name says which labels it: the oldest, as a pre-forked server's master names
        // its workers. (/proc lists PIDs in rising order, so this catches a reversed order, not a
        // missing sort.) The younger then burns CPU, and the groups are listed with the most CPU first,
        // then the most memory.
        String script = "# " + marker + "\nimport sys, time\n"
                + "def burn(s):\n    t = time.process_time()\n    while time.process_time() - t < s: pass\n"
                + "for line in sys.stdin:\n"
                + "    if line.strip() == 'rename': open('/proc/self/comm', 'w').write('aqyounger')\n"
                + "    if line.strip() == 'burn': burn(0.3)\n"
                + "    print('ok', flush=True)\n";
        Process older = start("/usr/bin/python3", "-c", script);
        BlockingQueue<String> olderOut = lines(older);
        send(older, "hello");
        assertEquals("ok", olderOut.poll(60, TimeUnit.SECONDS));
        Process younger = start("/usr/bin/python3", "-c", script);
        BlockingQueue<String> youngerOut = lines(younger);
        send(younger, "rename");
        assertEquals("ok", youngerOut.poll(60, TimeUnit.SECONDS));

        String[] args = {"--top", "1000", "--cpu-pct", "0", "--rss-mb", "0"};
        run(args);
        send(younger, "burn");
        assertEquals("ok", youngerOut.poll(60, TimeUnit.SECONDS));
        RunResult second = run(args);

        Measurement g = group(second, marker);
        assertNotNull(g, "the two processes' group is reported: " + second.measurements());
        assertEquals(2.0, g.values().get("processes"), g.toString());
        assertEquals("python3", g.tags().get("name"), "named after the older process, not the renamed younger one: " + g);
        List<Measurement> groups = second.measurements().stream().filter(m -> m.metric().equals("process")).toList();
        List<String> order = groups.stream().map(m -> m.values().get("cpu_pct") + "%/" + m.values().get("rss_bytes")).toList();
        assertTrue(g.values().get("cpu_pct") > 0 && groups.get(0).values().get("cpu_pct") > 0, order.toString());
        int memoryTies = 0;
        for (int i = 1; i < groups.size(); i++) {
            double cpuBefore = groups.get(i - 1).values().getOrDefault("cpu_pct", 0.0);
            double cpu = groups.get(i).values().getOrDefault("cpu_pct", 0.0);
            assertTrue(cpuBefore >= cpu, "most CPU first: " + order);
            if (cpuBefore == cpu) {
                memoryTies++;
                assertTrue(groups.get(i - 1).values().get("rss_bytes") >= groups.get(i).values().get("rss_bytes"),
                        "then most memory: " + order);
            }
        }
        assertTrue(memoryTies > 0, "groups without CPU in the interval, ordered by memory: " + order);
    }

    @Test
    void atMost4TimesTopGroupsWith1000ProcessesRunning() throws Exception {
        // 1000 sleeps with distinct command lines: 1000 groups, each with memory above the zero
        // thresholds, so without the top-N cut every one of them would be reported.
        Process sh = start("sh", "-c", ": " + marker + "; i=0; while [ $i -lt 1000 ]; do sleep $((600 + i)) </dev/null >/dev/null 2>&1 & i=$((i + 1)); done; echo started; wait");
        BlockingQueue<String> out = lines(sh);
        assertEquals("started", out.poll(120, TimeUnit.SECONDS));
        await().atMost(Duration.ofSeconds(60)).until(() -> sh.children().filter(c -> c.info().command().orElse("").endsWith("sleep")).count() == 1000);

        String[] args = {"--top", "10", "--cpu-pct", "0", "--rss-mb", "0", "--io-kbps", "0", "--net-kbps", "0"};
        for (int run = 1; run <= 2; run++) {
            RunResult r = run(args);
            Measurement summary = summary(r);
            long groups = r.measurements().stream().filter(m -> m.metric().equals("process")).count();
            assertTrue(groups <= 40, run + ": " + groups + " groups reported, at most 4 x 10 allowed");
            assertTrue(groups >= 10, run + ": the 10 largest by memory at least: " + groups);
            assertEquals((double) groups, summary.values().get("reported"));
            assertEquals(groups + 1, r.measurements().size(), "the groups and the summary, nothing else");
            assertTrue(summary.values().get("processes") >= 1000, summary.toString());
            assertTrue(summary.values().get("groups") >= 1000, summary.toString());
            assertTrue(r.cpuNanos() < LIMITS.cpu().toNanos(), "within its CPU limit: " + r.cpuNanos() / 1e6 + " ms");
        }
    }

    @Test
    void theFirstRunHasNoRatesAndTheSecondHasAllOfThem() throws Exception {
        String[] args = {"--top", "5", "--cpu-pct", "0", "--rss-mb", "0"};
        RunResult first = run(args);
        for (Measurement m : first.measurements()) {
            if (m.metric().equals("process")) {
                assertFalse(m.values().containsKey("cpu_pct"), m.toString());
                assertFalse(m.values().containsKey("write_bytes_per_s"), m.toString());
                assertTrue(m.values().get("rss_bytes") > 0, m.toString());
                assertTrue(m.tags().keySet().containsAll(List.of("name", "id", "cmdline", "user")), m.toString());
                assertTrue(m.tags().get("id").matches("[0-9a-f]{12}"), m.toString());
            }
        }
        assertTrue(summary(first).message().contains("first run"), summary(first).message());
        assertFalse(summary(first).values().containsKey("interval_s"));

        RunResult second = run(args);
        Measurement summary = summary(second);
        assertTrue(summary.values().get("interval_s") > 0, summary.toString());
        assertTrue(summary.values().containsKey("forks") && summary.values().containsKey("unattributed_cpu_pct"), summary.toString());
        // This JVM has run the plugin twice in the interval: it used CPU, so it is among the top 5 by
        // CPU or the CPU dimension has 5 groups that used more.
        long withCpu = second.measurements().stream().filter(m -> m.metric().equals("process") && m.values().containsKey("cpu_pct")).count();
        assertTrue(withCpu >= 1, second.measurements().toString());
    }

    @Test
    void badArgumentsAreErrorsThatNameTheArgument() throws Exception {
        assertError("--top '0': give a whole number from 1 to 1000", "--top", "0");
        assertError("--cpu-pct 'lots': give a number, 0 or more", "--cpu-pct", "lots");
        assertError("--rss-mb '-1': give a number, 0 or more", "--rss-mb", "-1");
        assertError("bad argument '--pid'", "--pid", "1");
        assertError("'--net-kbps' needs a value", "--net-kbps");
    }

    // ---------------------------------------------------------------- helpers

    private void assertError(String expected, String... args) throws Exception {
        RunResult r = plugin.run(job(PLUGIN, LIMITS, args), new JobMemory());
        assertEquals(Status.ERROR, r.outcome());
        assertTrue(r.reason().contains(expected), r.reason());
    }

    private RunResult run(String... args) throws Exception {
        RunResult r = plugin.run(job(PLUGIN, LIMITS, args), memory);
        assertEquals(Status.OK, r.outcome(), () -> r.reason() + " " + r.measurements());
        return r;
    }

    private static Measurement summary(RunResult r) {
        return r.measurements().stream().filter(m -> m.metric().equals("process_top_summary")).findFirst()
                .orElseThrow(() -> new AssertionError("no summary: " + r.measurements()));
    }

    /** The process sample whose command line contains text, or null. */
    private static Measurement group(RunResult r, String text) {
        List<Measurement> found = r.measurements().stream()
                .filter(m -> m.metric().equals("process") && m.tags().getOrDefault("cmdline", "").contains(text)).toList();
        assertTrue(found.size() <= 1, found.toString());
        return found.isEmpty() ? null : found.get(0);
    }

    private Process start(String... command) throws IOException {
        Process p = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        started.add(p);
        return p;
    }

    private static void send(Process p, String line) throws IOException {
        OutputStream in = p.getOutputStream();
        in.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        in.flush();
    }

    /** The process's output lines, as they come, read by a daemon thread. */
    private static BlockingQueue<String> lines(Process p) {
        BlockingQueue<String> q = new LinkedBlockingQueue<>();
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String l; (l = r.readLine()) != null; ) {
                    q.add(l.strip());
                }
            } catch (IOException ignored) {
                // the process was stopped
            }
        }, "output of " + p.pid());
        t.setDaemon(true);
        t.start();
        return q;
    }
}
