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

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static io.aegisquartz.testing.TestJobs.job;
import static io.aegisquartz.testing.TestJobs.limits;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** plugins-default/net_snmp.groovy against the kernel's counters, moved by connections and datagrams the test makes. */
class NetSnmpTest extends PluginRunners {

    static final Path NET_SNMP = Path.of(System.getProperty("user.dir")).resolve("../../plugins-default/net_snmp.groovy").normalize();
    static final JobOptions LIMITS = limits(Duration.ofSeconds(20), Duration.ofSeconds(20));

    static GroovyPlugin plugin;

    @BeforeAll
    static void compile() throws Exception {
        plugin = GroovyPlugin.compile(NET_SNMP, inJvm, processes);
    }

    @Test
    void firstRunHasOnlyTheEstablishedGaugeAndTheSecondHasEveryDefaultGroup() throws Exception {
        JobMemory memory = new JobMemory();
        RunResult first = run(memory);
        RunResult second = run(memory);

        assertEquals(1, first.measurements().size(), first.measurements().toString());
        Measurement gauge = first.measurements().get(0);
        assertEquals(Map.of("group", "tcp"), gauge.tags());
        assertEquals(List.of("CurrEstab"), List.copyOf(gauge.values().keySet()));

        Set<String> expected = new TreeSet<>(List.of("ip", "icmp", "tcp", "udp", "tcpext", "ipext"));
        if (Files.exists(Path.of("/proc/net/snmp6"))) {
            expected.add("udp6");
        }
        assertEquals(expected, groups(second));
        for (Measurement m : second.measurements()) {
            assertEquals("net_snmp", m.metric());
            assertTrue(m.values().get("interval_s") > 0, m.toString());
            assertEquals(Map.of("interval_s", "s"), m.units(), "counts have no unit");
            m.values().values().forEach(v -> assertTrue(v >= 0, m.toString()));
        }
    }

    @Test
    void everyCounterOfTheGroupIsThereUnderTheKernelsName() throws Exception {
        JobMemory memory = new JobMemory();
        run(memory);
        RunResult second = run(memory);

        Map<String, List<String>> files = new LinkedHashMap<>();
        files.putAll(headers("/proc/net/snmp"));
        files.putAll(headers("/proc/net/netstat"));
        for (String group : List.of("Tcp", "TcpExt", "Udp", "Ip", "IpExt")) {
            List<String> names = new ArrayList<>(files.get(group));
            names.removeAll(List.of("Forwarding", "DefaultTTL", "RtoAlgorithm", "RtoMin", "RtoMax", "MaxConn"));
            Measurement m = one(second, group.toLowerCase());
            List<String> emitted = new ArrayList<>(m.values().keySet());
            emitted.removeAll(List.of("interval_s"));
            if (group.equals("Tcp")) {
                // The gauge comes last, after the counts.
                names.remove("CurrEstab");
                names.add("CurrEstab");
            }
            assertEquals(names, emitted, group);
        }
        assertTrue(one(second, "tcpext").values().size() > 50, "TcpExt has over 100 counters on any recent kernel");
    }

    @Test
    void activeAndPassiveOpensCountTheConnectionsOpenedBetweenRuns() throws Exception {
        int n = 25;
        JobMemory memory = new JobMemory();
        Map<String, Long> before = snmp("Tcp");
        run(memory);
        connectAndClose(n);
        RunResult second = run(memory);
        Map<String, Long> after = snmp("Tcp");

        Measurement tcp = one(second, "tcp");
        double active = tcp.values().get("ActiveOpens"), passive = tcp.values().get("PassiveOpens");
        assertTrue(active >= n, n + " connections opened: " + tcp);
        assertTrue(passive >= n, n + " connections accepted: " + tcp);
        // The counts are differences between two readings, both taken between these two direct reads.
        assertTrue(active <= after.get("ActiveOpens") - before.get("ActiveOpens"), tcp + " vs " + before + " " + after);
        assertTrue(passive <= after.get("PassiveOpens") - before.get("PassiveOpens"), tcp.toString());
        assertTrue(tcp.values().get("OutSegs") >= 3 * n, "SYN, ACK and FIN at least, per connection: " + tcp);
    }

    @Test
    void currEstabIsTheNumberOfConnectionsNowNotADelta() throws Exception {
        int n = 10;
        try (LoopbackConnections held = LoopbackConnections.open(n)) {
            JobMemory memory = new JobMemory();
            RunResult first = run(memory);
            RunResult second = run(memory);

            // Both ends of each connection are in this network namespace.
            for (RunResult r : List.of(first, second)) {
                assertTrue(one(r, "tcp").values().get("CurrEstab") >= 2 * n, one(r, "tcp").toString());
            }
        }
    }

    @Test
    void udpDatagramsOverLoopbackAreCounted() throws Exception {
        int n = 30;
        JobMemory memory = new JobMemory();
        run(memory);
        try (DatagramSocket receiver = new DatagramSocket(0, InetAddress.getByName("127.0.0.1"));
             DatagramSocket sender = new DatagramSocket(0, InetAddress.getByName("127.0.0.1"))) {
            receiver.setSoTimeout(10_000);
            byte[] data = new byte[100];
            for (int i = 0; i < n; i++) {
                sender.send(new DatagramPacket(data, data.length, receiver.getLocalSocketAddress()));
                receiver.receive(new DatagramPacket(new byte[200], 200));
            }
        }
        RunResult second = run(memory);

        // Java's sockets are IPv6 sockets: datagrams to 127.0.0.1 count in Udp all the same (the v4 path).
        Measurement udp = one(second, "udp");
        assertTrue(udp.values().get("OutDatagrams") >= n, udp.toString());
        assertTrue(udp.values().get("InDatagrams") >= n, udp.toString());
    }

    @Test
    @SuppressWarnings("unchecked")
    void aCounterThatWentBackwardsIsLeftOutAndTheOthersStay() throws Exception {
        JobMemory memory = new JobMemory();
        run(memory);
        Map<String, Map<String, Long>> counters = (Map<String, Map<String, Long>>) memory.state().get("counters");
        counters.get("Tcp").put("ActiveOpens", Long.MAX_VALUE / 2);
        counters.get("Udp").remove("InDatagrams");             // as if the kernel had just added it
        counters.put("Gone", Map.of("X", 1L));                  // a group this kernel no longer has

        RunResult second = run(memory);

        Measurement tcp = one(second, "tcp");
        assertFalse(tcp.values().containsKey("ActiveOpens"), tcp.toString());
        assertTrue(tcp.values().containsKey("PassiveOpens"), tcp.toString());
        assertTrue(tcp.values().containsKey("CurrEstab"), tcp.toString());
        assertFalse(one(second, "udp").values().containsKey("InDatagrams"), "no previous reading, no count");
        assertTrue(one(second, "udp").values().containsKey("OutDatagrams"));
        assertFalse(groups(second).contains("gone"));

        RunResult third = run(memory);
        assertTrue(one(third, "tcp").values().get("ActiveOpens") >= 0, "counted again from the next interval");
    }

    @Test
    void groupsChooseWhatIsReported() throws Exception {
        JobMemory tcpOnly = new JobMemory(), all = new JobMemory();
        run(tcpOnly, "--groups", "tcp,TcpExt");
        run(all, "--groups", "all");
        RunResult onlyTcp = run(tcpOnly, "--groups", "tcp,TcpExt");
        RunResult everything = run(all, "--groups", "all");

        assertEquals(Set.of("tcp", "tcpext"), groups(onlyTcp));
        Set<String> kernelGroups = new TreeSet<>();
        headers("/proc/net/snmp").keySet().forEach(g -> kernelGroups.add(g.toLowerCase()));
        headers("/proc/net/netstat").keySet().forEach(g -> kernelGroups.add(g.toLowerCase()));
        if (Files.exists(Path.of("/proc/net/snmp6"))) {
            kernelGroups.addAll(List.of("ip6", "icmp6", "udp6", "udplite6"));
        }
        assertEquals(kernelGroups, groups(everything));
        assertTrue(one(everything, "ip6").values().containsKey("InReceives"), "IPv6 names lose their group prefix");
    }

    @Test
    void badArgumentsAreNamed() throws Exception {
        RunResult unknown = plugin.run(job(NET_SNMP, LIMITS, "--groups", "tcp,tpcext"), new JobMemory());
        RunResult other = plugin.run(job(NET_SNMP, LIMITS, "--group", "tcp"), new JobMemory());

        assertEquals(Status.ERROR, unknown.outcome());
        assertTrue(unknown.measurements().get(0).message().startsWith(
                "IllegalArgumentException: bad argument --groups: unknown group(s) tpcext; known: ip, icmp,"), unknown.measurements().toString());
        assertEquals(Status.ERROR, other.outcome());
        assertTrue(other.measurements().get(0).message().startsWith(
                "IllegalArgumentException: bad argument '--group'; usage: net_snmp.groovy [--groups GROUP,...|all]"), other.measurements().toString());
    }

    // ---------------------------------------------------------------- helpers

    private static RunResult run(JobMemory memory, String... args) throws Exception {
        RunResult r = plugin.run(job(NET_SNMP, LIMITS, args), memory);
        assertEquals(Status.OK, r.outcome(), () -> r.measurements().toString());
        for (Measurement m : r.measurements()) {
            assertEquals(Status.OK, m.status(), m.toString());
        }
        return r;
    }

    private static Set<String> groups(RunResult r) {
        Set<String> out = new TreeSet<>();
        r.measurements().forEach(m -> out.add(m.tags().get("group")));
        return out;
    }

    private static Measurement one(RunResult r, String group) {
        List<Measurement> found = r.measurements().stream().filter(m -> group.equals(m.tags().get("group"))).toList();
        assertEquals(1, found.size(), () -> "one sample of group " + group + ": " + r.measurements());
        return found.get(0);
    }

    /** The counter names of each group of a /proc/net/snmp-style file, in order. */
    private static Map<String, List<String>> headers(String file) throws IOException {
        Map<String, List<String>> out = new LinkedHashMap<>();
        List<String> lines = Files.readAllLines(Path.of(file));
        for (int i = 0; i < lines.size(); i += 2) {
            String[] f = lines.get(i).split("\\s+");
            out.put(f[0].substring(0, f[0].length() - 1), List.of(f).subList(1, f.length));
        }
        return out;
    }

    /** One group of /proc/net/snmp, read directly. */
    private static Map<String, Long> snmp(String group) throws IOException {
        List<String> lines = Files.readAllLines(Path.of("/proc/net/snmp"));
        for (int i = 0; i < lines.size(); i += 2) {
            if (lines.get(i).startsWith(group + ":")) {
                String[] names = lines.get(i).split("\\s+"), values = lines.get(i + 1).split("\\s+");
                Map<String, Long> out = new LinkedHashMap<>();
                for (int k = 1; k < names.length; k++) {
                    out.put(names[k], Long.parseLong(values[k]));
                }
                return out;
            }
        }
        throw new AssertionError("no " + group + " in /proc/net/snmp");
    }

    /** Opens n connections to a loopback listener of this test, accepts them, and closes both ends. */
    private static void connectAndClose(int n) throws IOException {
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.INET)) {
            server.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0), n);
            for (int i = 0; i < n; i++) {
                try (SocketChannel c = SocketChannel.open(StandardProtocolFamily.INET)) {
                    c.connect(server.getLocalAddress());
                    server.accept().close();
                }
            }
        }
    }
}
