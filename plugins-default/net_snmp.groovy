// net_snmp.groovy: the kernel's IP, ICMP, TCP and UDP protocol counters (the ones `nstat` and
// `netstat -s` show), as counts per interval. Reads /proc/net/snmp, /proc/net/netstat and
// /proc/net/snmp6; never forks.
//
// Arguments: [--groups GROUP,...|all]
//   --groups  the counter groups to report, by the kernel's group name in lower case.
//             Default: ip,icmp,tcp,udp,tcpext,ipext,udp6. `all` reports every group the kernel has.
//             Known groups: ip, icmp, icmpmsg, tcp, udp, udplite (/proc/net/snmp), tcpext, ipext,
//             mptcpext (/proc/net/netstat), ip6, icmp6, udp6, udplite6 (/proc/net/snmp6). A known
//             group this kernel lacks (mptcpext before Linux 5.6) is left out without an error.
//
// Emits one sample per group and run:
//   net_snmp  <Counter> ...   how much each counter of the group grew since this job's previous run
//                             (a count, no unit), named exactly as the kernel names it (ActiveOpens,
//                             RetransSegs, ListenOverflows, InDatagrams ...), so that the names match
//                             `nstat`, `netstat -s` and the kernel's documentation; IPv6 counters
//                             without their group prefix (Udp6InDatagrams is InDatagrams in udp6)
//             interval_s (s)  the length of that interval, to turn counts into rates
//             CurrEstab       (group tcp only) TCP connections now in ESTABLISHED or CLOSE_WAIT:
//                             a gauge, the current value, not a count per interval
//             tags: group = ip, icmp, tcp, udp, tcpext, ...
// The first run after a start has no previous reading: it emits only the tcp sample with CurrEstab.
// Settings that the kernel lists among the counters are left out: Ip Forwarding and DefaultTTL, Tcp
// RtoAlgorithm, RtoMin, RtoMax and MaxConn.
//
// Counters that go backwards: on a 64-bit JVM (so a 64-bit kernel) these counters are 64-bit and
// never wrap in practice; one that decreased was reset, and is left out of that interval's sample.
// On a 32-bit JVM they are the kernel's 32-bit unsigned longs: a decrease from below 2^32 counts
// as one wrap at 2^32. A counter that first appears (IcmpMsg adds InTypeN when the first such
// message arrives) has no previous reading and is left out of that interval too.

import groovy.transform.CompileStatic
import io.aegisquartz.plugin.groovy.AegisScript

/**
 * A class rather than a script, statically compiled as a whole, so that it makes no dynamic Groovy call:
 * the first one in the agent's JVM sets up Groovy's call-site machinery (about 0.1 s of CPU), and each
 * costs more than a static call until the JIT compiles it, which at one run a minute takes hours.
 * Map lookups that may be null are taken as Object and cast once they are not (sampler.groovy says why).
 */
@CompileStatic
class net_snmp extends AegisScript {

    static final String USAGE = 'usage: net_snmp.groovy [--groups GROUP,...|all]'
    static final List<String> KNOWN = ['ip', 'icmp', 'icmpmsg', 'tcp', 'udp', 'udplite', 'tcpext', 'ipext', 'mptcpext',
                                       'ip6', 'icmp6', 'udp6', 'udplite6']
    static final List<String> DEFAULT_GROUPS = ['ip', 'icmp', 'tcp', 'udp', 'tcpext', 'ipext', 'udp6']
    // snmp6 names its counters Ip6InReceives, Udp6InDatagrams ...: the group is the prefix. Longest first.
    static final List<String> SNMP6_PREFIXES = ['UdpLite6', 'Icmp6', 'Udp6', 'Ip6']
    static final Set<String> SETTINGS = new LinkedHashSet<String>(['Ip.Forwarding', 'Ip.DefaultTTL', 'Tcp.RtoAlgorithm', 'Tcp.RtoMin',
                                                                   'Tcp.RtoMax', 'Tcp.MaxConn'])
    static final long TWO_32 = 1L << 32
    static final boolean WRAP32 = System.getProperty('sun.arch.data.model') == '32'

    // Set by parseArgs.
    Set<String> groups

    @Override
    Object run() {
        parseArgs(ctx.args())
        report(groups)
        return null
    }

    void parseArgs(List<String> args) {
        groups = new LinkedHashSet<String>(DEFAULT_GROUPS)
        if (args.isEmpty()) {
            return
        }
        if (args.size() != 2 || args[0] != '--groups' || !args[1]) {
            throw new IllegalArgumentException("bad argument '" + args[0] + "'" + (args.size() == 1 ? ' (no value)' : '') + '; ' + USAGE)
        }
        groups = new LinkedHashSet<String>()
        for (String g : args[1].split(',')) {
            if (!g.trim().isEmpty()) {
                groups.add(g.trim().toLowerCase())
            }
        }
        List<String> unknown = []
        for (String g : groups) {
            if (g != 'all' && !KNOWN.contains(g)) {
                unknown.add(g)
            }
        }
        if (unknown) {
            throw new IllegalArgumentException('bad argument --groups: unknown group(s) ' + unknown.join(', ') + '; known: ' +
                    KNOWN.join(', ') + ' or all')
        }
        if (groups.contains('all')) {
            groups = null
        }
    }

    void report(Set<String> wanted) {
        long now = System.nanoTime()
        // Group (kernel spelling) -> counter name -> value, in the files' order.
        Map<String, Map<String, Long>> current = new LinkedHashMap<>()
        boolean any = readPairs('/proc/net/snmp', current, wanted)
        // Not '|=': static Groovy boxes both sides and unboxes the result through a runtime helper.
        boolean netstat = readPairs('/proc/net/netstat', current, wanted)
        any = any || netstat
        readSnmp6(current, wanted)
        if (!any) {
            throw new IllegalStateException('/proc/net/snmp is not readable; is /proc mounted?')
        }
        Object kept = state.put('counters', current)
        Map<String, Map<String, Long>> prev = null
        if (kept != null) prev = (Map<String, Map<String, Long>>) kept
        Object prevTime = state.put('time', now)
        double interval = prevTime == null ? -1d : (now - ((Long) prevTime).longValue()) / 1e9d
        for (Map.Entry<String, Map<String, Long>> g : current.entrySet()) {
            String group = g.getKey()
            Object found = prev == null ? null : (Object) prev.get(group)
            Map<String, Long> before = null
            if (found != null) before = (Map<String, Long>) found
            def b = sample('net_snmp').tag('group', group.toLowerCase())
            int n = 0
            if (before != null && interval > 0) {
                for (Map.Entry<String, Long> c : g.getValue().entrySet()) {
                    if (SETTINGS.contains(group + '.' + c.getKey()) || ('Tcp'.equals(group) && 'CurrEstab'.equals(c.getKey()))) continue
                    Object p = (Object) before.get(c.getKey())
                    if (p == null) continue
                    long d = delta((Long) p, c.getValue())
                    if (d < 0) continue
                    b.value(c.getKey(), d)
                    n++
                }
                if (n > 0) b.value('interval_s', interval, 's')
            }
            if (group == 'Tcp' && g.getValue().containsKey('CurrEstab')) {
                b.value('CurrEstab', g.getValue().get('CurrEstab'))
                n++
            }
            if (n > 0) b.emit()
        }
    }

    /** The increase of a counter, or -1 if it went backwards (see the header). */
    static long delta(long prev, long cur) {
        if (cur >= prev) return cur - prev
        return WRAP32 && prev < TWO_32 && cur < TWO_32 ? cur + TWO_32 - prev : -1L
    }

    /**
     * Reads a file of line pairs, "Tcp: Name1 Name2 ..." then "Tcp: 1 2 ...", into {@code out}.
     * False if the file cannot be read.
     */
    static boolean readPairs(String path, Map<String, Map<String, Long>> out, Set<String> wanted) {
        List<String> lines = ProcFiles.lines(path)
        if (lines.isEmpty()) return false
        for (int i = 0; i + 1 < lines.size(); i += 2) {
            String header = lines.get(i), values = lines.get(i + 1)
            int colon = header.indexOf(':')
            if (colon <= 0 || !values.startsWith(header.substring(0, colon + 1))) {
                throw new IllegalStateException(path + ': line ' + (i + 2) + ' does not hold the values of line ' + (i + 1))
            }
            String group = header.substring(0, colon)
            if (wanted != null && !wanted.contains(group.toLowerCase())) continue
            String[] names = header.substring(colon + 1).trim().split(' +')
            String[] numbers = values.substring(colon + 1).trim().split(' +')
            if (names.length != numbers.length) {
                throw new IllegalStateException(path + ': ' + group + ' has ' + names.length + ' names but ' + numbers.length + ' values')
            }
            Map<String, Long> m = new LinkedHashMap<>()
            for (int k = 0; k < names.length; k++) m.put(names[k], Long.parseLong(numbers[k]))
            out.put(group, m)
        }
        return true
    }

    /** Reads /proc/net/snmp6 ("Udp6InDatagrams   12" per line), if IPv6 is there. */
    static void readSnmp6(Map<String, Map<String, Long>> out, Set<String> wanted) {
        for (String line : ProcFiles.lines('/proc/net/snmp6')) {
            String prefix = null
            for (String p : SNMP6_PREFIXES) {
                if (line.startsWith(p)) {
                    prefix = p
                    break
                }
            }
            if (prefix == null || (wanted != null && !wanted.contains(prefix.toLowerCase()))) continue
            String[] f = line.trim().split('\\s+')
            if (f.length != 2) continue
            Object found = (Object) out.get(prefix)
            Map<String, Long> m
            if (found == null) {
                m = new LinkedHashMap<>()
                out.put(prefix, m)
            } else {
                m = (Map<String, Long>) found
            }
            m.put(f[0].substring(prefix.length()), Long.parseLong(f[1]))
        }
    }
}
