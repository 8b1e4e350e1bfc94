// sampler.groovy: host metrics from /proc, /sys and statvfs. Never forks a command (no ps, top, df, iostat).
//
// Arguments: [--only PART,...] [--skip PART,...] [--exclude-mount REGEX] [--exclude-device REGEX]
//            [--exclude-interface REGEX] [--fs-types TYPE,...]
//   --only PART,...            report only these parts: load, memory, cpu, filesystem, disk, network,
//                              tcp ('load' also gives the processes sample). Default: all. Given
//                              twice, the lists add up.
//   --skip PART,...            report all parts but these. The default jobs run the sampler every
//                              10 s with --skip tcp, and --only tcp once a minute: listing TCP sockets
//                              costs the kernel more than all the other parts together (see tcp below).
//   --exclude-mount REGEX      skip filesystems whose mount point matches (Java regex, found anywhere
//                              in the name; anchor it with ^...$). Default: none.
//   --exclude-device REGEX     skip block devices whose name matches. Default: ^(loop|ram)[0-9]+$
//                              (giving the option replaces the default; '' excludes nothing).
//   --exclude-interface REGEX  skip network interfaces whose name matches. Default: none (lo included).
//   --fs-types TYPE,...        also report filesystems of these types, which are skipped by default
//                              (e.g. tmpfs,nfs4). A hung network server makes statfs(2) block in the
//                              kernel: add network types only where the server is dependable.
//
// Emits (units in the sample's "units" map). "Rates" are per second over the interval since this job's
// previous run: the first run after a start has no previous reading and emits no rate (no cpu, disk or
// network sample, no forks_per_s), and a counter that went backwards gives no rate for that interval.
//
//   load        load1, load5, load15                       run-queue averages (/proc/loadavg)
//   memory      total_bytes, available_bytes, used_bytes (B), used_pct (%), swap_total_bytes,
//               swap_used_bytes, free_bytes, buffers_bytes, cached_bytes (B)
//               used = total - available, as `free` (procps-ng 4) computes it; free_bytes is MemFree;
//               cached_bytes is Cached + SReclaimable (free's "buff/cache" is buffers + cached).
//   cpu         user_pct, nice_pct, system_pct, iowait_pct, irq_pct, softirq_pct, steal_pct, idle_pct (%)
//               share of the interval's CPU time by state; the eight sum to 100. Guest time is inside
//               user and nice, as the kernel counts it.
//               tags: cpu=total (all CPUs), and cpu=0, 1, ... one sample per online CPU
//   processes   running, blocked        runnable threads, and threads in uninterruptible (IO) wait
//                                       (/proc/stat procs_running, procs_blocked)
//               total                   processes (the numeric directories of /proc)
//               threads                 kernel scheduling entities (/proc/loadavg)
//               forks_per_s (1/s)       processes and threads created (/proc/stat "processes")
//   filesystem  total_bytes, used_bytes, available_bytes (B), used_pct (%)
//               as `df` computes them: used = total - free, available is what non-root users can
//               still write, used_pct = used / (used + available) (not rounded up, unlike df's Use%).
//               Inode counts are not reported: Java cannot read statvfs f_files/f_ffree without a
//               native call or a fork.
//               tags: mount (mount point), device (the mount's source, e.g. /dev/sda1), fstype
//               status unknown, no values and a message if statfs fails for that mount.
//   disk        reads_per_s, writes_per_s (1/s), read_bytes_per_s, write_bytes_per_s (B/s),
//               await_ms (ms), util_pct (%)                                   (/proc/diskstats)
//               await is the mean time per completed read or write, queueing included (0 when none
//               completed); util is the share of the interval the device had IO in flight, at most 100.
//               tags: device (kernel name, e.g. sda, nvme0n1, dm-0, vda)
//   network     rx_bytes_per_s, tx_bytes_per_s (B/s), rx_packets_per_s, tx_packets_per_s,
//               rx_errors_per_s, tx_errors_per_s, rx_drops_per_s, tx_drops_per_s (1/s)   (/proc/net/dev)
//               tags: interface (e.g. eth0, lo)
//   tcp         connections            TCP sockets in this state, IPv4 and IPv6 together, in the agent's
//                                      network namespace (/proc/net/tcp, /proc/net/tcp6)
//               tags: state = established, syn_sent, syn_recv, fin_wait1, fin_wait2, time_wait, close,
//                     close_wait, last_ack, listen, closing (every state, 0 included). Pending
//                     connection requests are counted as syn_recv, as the kernel lists them.
//               Cost: to produce these files the kernel walks its whole TCP hash table (about 1.5 ms
//               per file on a 24 GB host, whatever the socket count) and formats about 2 µs per
//               socket; parsing adds about 0.5 µs per socket (docs/BENCHMARKS.md).
//
// What is reported:
//   * Filesystems: a mount is reported if it is backed by a block device (its device number has a
//     major other than 0, or its source is under /dev/, as for btrfs), or it is zfs, or it is the
//     overlay mounted at / (a container's root: the only view of the disk the container fills),
//     or its type is in --fs-types. Pseudo filesystems (proc, sysfs, cgroup, devtmpfs, tmpfs, devpts,
//     overlay layers below /, fuse ...) and network filesystems are skipped, and so are read-only
//     image formats that are always full (squashfs, iso9660, udf, erofs, cramfs). A device mounted
//     several times (bind mounts, btrfs subvolumes) is reported once, at the mount of its root
//     directory if there is one, else at the shortest mount point; mount points that are files (a
//     container's /etc/hosts) are skipped.
//   * Disks: whole disks only, the devices listed in /sys/block (partitions are not repeated), and
//     only once they have done any IO since boot (an unused zram0 or sr0 is not reported).
//   * Network: every interface in /proc/net/dev, loopback included (local proxies and databases
//     talk over it).
//
// Counters that go backwards: on a 64-bit JVM (so a 64-bit kernel) the kernel's counters are 64-bit,
// so a counter that decreased was reset (device re-created, driver reloaded), and that counter gives
// no rate for the interval; a disk whose IO counts decreased gives no sample for the interval. The
// diskstats time fields (read/write/io ticks) are printed as 32-bit values on every kernel: they are
// taken as wrapped at 2^32 when they decrease while the disk's IO counts did not. On a 32-bit JVM
// every counter is taken as 32-bit: a decrease from below 2^32 counts as one wrap.

import groovy.transform.CompileStatic
import io.aegisquartz.plugin.groovy.AegisScript

import java.nio.charset.StandardCharsets
import java.nio.file.FileStore
import java.nio.file.Files
import java.nio.file.Path
import java.util.regex.Pattern
import java.util.regex.PatternSyntaxException

/**
 * A class rather than a script, statically compiled as a whole, so that it makes no dynamic Groovy call:
 * the first one in the agent's JVM sets up Groovy's call-site machinery (about 0.1 s of CPU), and each
 * costs more than a static call until the JIT compiles it, which at one run a minute takes hours.
 *
 * <p>Map lookups: a value that may be null is taken as Object ({@code (Object) map.get(k)}) and cast
 * once it is not, in an if. Static Groovy casts what a generic map returns through an invokedynamic
 * site, and Groovy's call-site cache skips null, so each null reaching such a cast links the site
 * anew; a ternary with a null branch ({@code o == null ? null : (T) o}) casts its result again, null included.
 */
@CompileStatic
class sampler extends AegisScript {

    static final String USAGE = 'usage: sampler.groovy [--only PART,...] [--skip PART,...] [--exclude-mount REGEX] ' +
            '[--exclude-device REGEX] [--exclude-interface REGEX] [--fs-types TYPE,...]'
    static final List<String> PARTS = ['load', 'memory', 'cpu', 'filesystem', 'disk', 'network', 'tcp']
    static final Set<String> OPTIONS = new HashSet<String>(['--only', '--skip', '--exclude-mount', '--exclude-device',
                                                            '--exclude-interface', '--fs-types'])
    static final long TWO_32 = 1L << 32
    static final Set<String> IMAGE_TYPES = new LinkedHashSet<String>(['squashfs', 'iso9660', 'udf', 'erofs', 'cramfs'])
    static final List<String> CPU_NAMES = ['user_pct', 'nice_pct', 'system_pct', 'iowait_pct', 'irq_pct', 'softirq_pct',
                                           'steal_pct', 'idle_pct']
    // /proc/stat column of each name above: user nice system idle iowait irq softirq steal.
    static final int[] CPU_COLUMNS = [0, 1, 2, 4, 5, 6, 7, 3] as int[]
    static final List<String> TCP_STATES = [null, 'established', 'syn_sent', 'syn_recv', 'fin_wait1', 'fin_wait2',
                                            'time_wait', 'close', 'close_wait', 'last_ack', 'listen', 'closing']
    // On a 32-bit JVM (hence kernel) the kernel's unsigned long counters are 32-bit.
    static final boolean WRAP32 = System.getProperty('sun.arch.data.model') == '32'

    // Fewer bytes than this from a read of /proc/net/tcp* mean the end of the file (see countTcpStates).
    static final int SHORT_READ = 4096 - 512

    static final Pattern DEFAULT_EXCLUDE_DEVICE = Pattern.compile('^(loop|ram)[0-9]+$')

    // Set by parseArgs.
    Pattern excludeMount
    Pattern excludeDevice
    Pattern excludeInterface
    Set<String> extraFsTypes
    List<String> procStat
    List<String> parts

    @Override
    Object run() {
        parseArgs(ctx.args())
        sampleParts()
        return null
    }

    void parseArgs(List<String> args) {
        excludeDevice = DEFAULT_EXCLUDE_DEVICE
        extraFsTypes = new HashSet<String>()
        Set<String> only = null
        Set<String> skip = new HashSet<String>()
        for (int i = 0; i < args.size(); i += 2) {
            String option = args[i]
            String value = null    // not a ternary with null: see "Map lookups" at the top
            if (i + 1 < args.size()) value = args[i + 1]
            if (value == null || !OPTIONS.contains(option)) {
                throw new IllegalArgumentException("bad argument '$option'" + (value == null && option.startsWith('--') ? ' (no value)' : '') + "; $USAGE")
            }
            if (option == '--only' || option == '--skip') {
                List<String> named = commaList(value)
                List<String> unknown = new ArrayList<String>()
                for (String name : named) {
                    if (!PARTS.contains(name)) unknown.add(name)
                }
                if (named.isEmpty() || !unknown.isEmpty()) {
                    throw new IllegalArgumentException("bad argument $option '$value': " + (!unknown.isEmpty() ? "no part named ${unknown.join(', ')}" : 'no part given') +
                            "; the parts are ${PARTS.join(', ')}")
                }
                if (option == '--only') {
                    if (only == null) only = new HashSet<String>()
                    only.addAll(named)   // repeated --only options add up
                } else {
                    skip.addAll(named)
                }
                continue
            }
            if (option == '--fs-types') {
                extraFsTypes.addAll(commaList(value))
                continue
            }
            Pattern p
            try {
                p = value.isEmpty() ? null : Pattern.compile(value)
            } catch (PatternSyntaxException e) {
                throw new IllegalArgumentException("bad argument $option '$value': not a regular expression (${e.description}); $USAGE")
            }
            if (option == '--exclude-mount') excludeMount = p
            else if (option == '--exclude-device') excludeDevice = p
            else excludeInterface = p
        }
        // Loops, not closures: this runs on every run, and a closure costs a Groovy object and a call site each time.
        parts = new ArrayList<String>()
        for (String part : PARTS) {
            if ((only == null || only.contains(part)) && !skip.contains(part)) parts.add(part)
        }
        if (parts.isEmpty()) {
            throw new IllegalArgumentException("bad arguments: --only and --skip leave no part to report; the parts are ${PARTS.join(', ')}")
        }
    }

    /** The non-empty items of a comma-separated argument, trimmed. */
    static List<String> commaList(String value) {
        List<String> out = new ArrayList<String>()
        for (String item : value.split(',')) {
            String t = item.trim()
            if (!t.isEmpty()) out.add(t)
        }
        return out
    }

    void sampleParts() {
        // Each part is independent: one that fails (an unexpected format) must not cost the others their samples.
        // The first failure is rethrown at the end, so the run still reports it as an error.
        Throwable failure = null
        for (String part in parts) {
            try {
                // Not a switch: Groovy matches each case label through the metaclass ('isCase').
                if ('load'.equals(part)) loadAndProcesses()
                else if ('memory'.equals(part)) memory()
                else if ('cpu'.equals(part)) cpu()
                else if ('filesystem'.equals(part)) filesystems()
                else if ('disk'.equals(part)) disks()
                else if ('network'.equals(part)) network()
                else if ('tcp'.equals(part)) tcp()
            } catch (Exception e) {
                if (failure == null) failure = e else failure.addSuppressed(e)
            }
        }
        if (failure != null) {
            throw failure
        }
    }

    // ------------------------------------------------------------------ counters

    /** The increase of a counter printed as unsigned long, or -1 if it went backwards (see the header). */
    static long delta(long prev, long cur) {
        if (cur >= prev) return cur - prev
        return WRAP32 && prev < TWO_32 && cur < TWO_32 ? cur + TWO_32 - prev : -1L
    }

    /** The increase of a counter the kernel prints as a 32-bit unsigned int, wrapping at 2^32. */
    static long delta32(long prev, long cur) {
        if (cur >= prev) return cur - prev
        return prev < TWO_32 && cur < TWO_32 ? cur + TWO_32 - prev : -1L
    }

    /** Seconds since the reading kept under {@code key}, or -1 on the first run; records {@code now}. */
    double interval(String key, long now) {
        Object prev = state.put(key, now)
        if (prev == null) return -1d
        double s = (now - ((Long) prev).longValue()) / 1e9d
        return s > 0 ? s : -1d
    }

    /** The long at {@code start} in a line of space-separated numbers, advancing {@code pos[0]} past it. */
    static long nextLong(String s, int[] pos) {
        int i = pos[0]
        int n = s.length()
        while (i < n && s.charAt(i) == (char) ' ') i++
        boolean negative = i < n && s.charAt(i) == (char) '-'
        if (negative) i++
        long v = 0
        int start = i
        while (i < n) {
            char c = s.charAt(i)
            if (c < (char) '0' || c > (char) '9') break
            v = v * 10 + ((int) c - 48)   // int arithmetic: char - char is Groovy's boxed Number math
            i++
        }
        if (i == start) throw new NumberFormatException("no number at column $start of '$s'")
        pos[0] = i
        return negative ? -v : v
    }

    // ------------------------------------------------------------------ load, processes, memory

    void loadAndProcesses() {
        String loadavg = ProcFiles.read('/proc/loadavg')
        if (loadavg == null) {
            throw new IllegalStateException('/proc/loadavg is not readable; is /proc mounted?')
        }
        String[] l = loadavg.trim().split(' ')
        sample('load').value('load1', Double.parseDouble(l[0])).value('load5', Double.parseDouble(l[1]))
                .value('load15', Double.parseDouble(l[2])).emit()

        long running = 0, blocked = 0, forks = -1
        for (String line : procStat()) {
            if (line.startsWith('procs_running ')) running = Long.parseLong(line.substring(14).trim())
            else if (line.startsWith('procs_blocked ')) blocked = Long.parseLong(line.substring(14).trim())
            else if (line.startsWith('processes ')) forks = Long.parseLong(line.substring(10).trim())
        }
        long now = System.nanoTime()
        // Listing /proc is one getdents walk; the directories named by a number are the processes.
        String[] names = new File('/proc').list()
        long total = 0
        for (String n : names) {
            char c = n.charAt(0)
            if (c >= (char) '0' && c <= (char) '9') total++
        }
        long threads = Long.parseLong(l[3].substring(l[3].indexOf('/') + 1))
        def b = sample('processes').value('running', running).value('blocked', blocked).value('total', total).value('threads', threads)
        double dt = interval('processes.time', now)
        Object prev = state.put('processes.forks', forks)
        if (dt > 0 && prev != null && forks >= 0) {
            long d = delta((Long) prev, forks)
            if (d >= 0) b.value('forks_per_s', d / dt, '1/s')
        }
        b.emit()
    }

    /** /proc/stat, read once per run for the processes and cpu parts. */
    List<String> procStat() {
        if (procStat == null) procStat = ProcFiles.lines('/proc/stat')
        return procStat
    }

    void memory() {
        Map<String, Long> mem = ProcFiles.keyValues('/proc/meminfo')
        if (mem.isEmpty()) {
            throw new IllegalStateException('/proc/meminfo is not readable; is /proc mounted?')
        }
        long total = kb(mem, 'MemTotal')
        long free = kb(mem, 'MemFree')
        long buffers = kb(mem, 'Buffers')
        long cached = kb(mem, 'Cached') + kb(mem, 'SReclaimable')
        // MemAvailable exists since Linux 3.14; older kernels get the classic free + buffers + cached estimate.
        long available = mem.containsKey('MemAvailable') ? kb(mem, 'MemAvailable') : free + buffers + kb(mem, 'Cached')
        long swapTotal = kb(mem, 'SwapTotal')
        long swapUsed = swapTotal - kb(mem, 'SwapFree')
        sample('memory')
                .value('total_bytes', total, 'B')
                .value('available_bytes', available, 'B')
                .value('used_bytes', total - available, 'B')
                .value('used_pct', total > 0 ? 100.0d * (total - available) / total : 0.0d, '%')
                .value('swap_total_bytes', swapTotal, 'B')
                .value('swap_used_bytes', swapUsed, 'B')
                .value('free_bytes', free, 'B')
                .value('buffers_bytes', buffers, 'B')
                .value('cached_bytes', cached, 'B')
                .emit()
    }

    /** The counters kept under {@code key}, or null; through Object, as "Map lookups" at the top says. */
    static long[] counters(Map<String, long[]> m, String key) {
        Object found = (Object) m.get(key)
        long[] c = null
        if (found != null) c = (long[]) found
        return c
    }

    static long kb(Map<String, Long> m, String key) {
        Object v = (Object) m.get(key)   // as Object: see "Map lookups" at the top
        return v == null ? 0L : ((Long) v).longValue() * 1024L
    }

    // ------------------------------------------------------------------ cpu

    void cpu() {
        Map<String, long[]> now = new LinkedHashMap<>()
        int[] pos = new int[1]
        for (String line : procStat()) {
            if (!line.startsWith('cpu')) continue
            int space = line.indexOf(' ')
            String name = space == 3 ? 'total' : line.substring(3, space)
            long[] t = new long[8]
            pos[0] = space
            // Kernels before 2.6.11 have no steal column: it stays 0.
            for (int i = 0; i < 8 && pos[0] < line.length(); i++) t[i] = nextLong(line, pos)
            now.put(name, t)
        }
        if (now.isEmpty()) {
            throw new IllegalStateException('/proc/stat has no cpu lines; is /proc mounted?')
        }
        Object kept = state.put('cpu', now)
        if (kept == null) return
        Map<String, long[]> prev = (Map<String, long[]>) kept
        long[] d = new long[8]
        for (Map.Entry<String, long[]> e : now.entrySet()) {
            long[] p = counters(prev, e.getKey())
            if (p == null) continue            // a CPU that just came online
            long sum = 0
            boolean backwards = false
            for (int i = 0; i < 8; i++) {
                d[i] = e.getValue()[i] - p[i]
                if (d[i] < 0) backwards = true
                sum += d[i]
            }
            // Backwards: the counters restarted (a VM migration, a CPU taken offline and back). No share
            // can be computed from that interval.
            if (backwards || sum <= 0) continue
            def b = sample('cpu').tag('cpu', e.getKey())
            for (int i = 0; i < 8; i++) b.value(CPU_NAMES[i], 100.0d * d[CPU_COLUMNS[i]] / sum, '%')
            b.emit()
        }
    }

    // ------------------------------------------------------------------ filesystems

    /** mountinfo fields, unescaped: [mount id, major:minor, root, mount point, type, source]. */
    static List<String[]> mountinfo() {
        List<String[]> out = new ArrayList<>()
        for (String line : ProcFiles.lines('/proc/self/mountinfo')) {
            int dash = line.indexOf(' - ')
            if (dash < 0) continue
            String[] a = line.substring(0, dash).split(' ')
            String[] b = line.substring(dash + 3).split(' ')
            if (a.length < 5 || b.length < 2) continue
            out.add([a[0], a[2], unescape(a[3]), unescape(a[4]), b[0], unescape(b[1])] as String[])
        }
        return out
    }

    /** mountinfo writes space, tab, newline and backslash as \ooo octal escapes. */
    static String unescape(String s) {
        if (s.indexOf('\\') < 0) return s
        StringBuilder sb = new StringBuilder(s.length())
        int i = 0
        while (i < s.length()) {
            char c = s.charAt(i)
            if (c == (char) '\\' && i + 3 < s.length() && octal(s.charAt(i + 1)) && octal(s.charAt(i + 2)) && octal(s.charAt(i + 3))) {
                sb.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8))
                i += 4
                continue
            }
            sb.append(c)
            i++
        }
        return sb.toString()
    }

    static boolean octal(char c) {
        return c >= (char) '0' && c <= (char) '7'
    }

    boolean realFilesystem(String[] m) {
        String type = m[4]
        if (extraFsTypes.contains(type)) return true
        if (IMAGE_TYPES.contains(type)) return false
        if (type == 'overlay') return m[3] == '/'
        return !m[1].startsWith('0:') || m[5].startsWith('/dev/') || type == 'zfs'
    }

    void filesystems() {
        // The last mount on a mount point hides the earlier ones: statfs sees only that one.
        Map<String, String[]> byMountPoint = new LinkedHashMap<>()
        for (String[] m : mountinfo()) {
            byMountPoint.remove(m[3])
            byMountPoint.put(m[3], m)
        }
        // Kept per mount (id, device, place): Boolean.FALSE for a mount point that is a file, else its
        // FileStore once made (making one reads /proc/mounts; statfs is then one call).
        Object kept = state.get('filesystem.stores')
        Map<String, Object> known = null
        if (kept != null) known = (Map<String, Object>) kept
        Map<String, Object> keep = new HashMap<>()
        Map<String, String[]> byDevice = new LinkedHashMap<>()
        for (String[] m : byMountPoint.values()) {
            if (!realFilesystem(m) || (excludeMount != null && excludeMount.matcher(m[3]).find())) continue
            String id = m[0] + ' ' + m[1] + ' ' + m[3]
            Object store = known == null ? null : known.get(id)
            if (store == null) store = Files.isDirectory(Path.of(m[3])) ? Boolean.TRUE : Boolean.FALSE
            keep.put(id, store)
            if (Boolean.FALSE.equals(store)) continue   // not ==: on an Object that is a dynamic equals() call
            String device = m[1].startsWith('0:') && m[5].startsWith('/dev/') ? m[5] : m[1]
            Object seen = (Object) byDevice.get(device)
            if (seen == null || better(m, (String[]) seen)) byDevice.put(device, m)
        }
        state.put('filesystem.stores', keep)
        for (String[] m : byDevice.values()) {
            String id = m[0] + ' ' + m[1] + ' ' + m[3]
            Object store = keep.get(id)
            if (!(store instanceof FileStore)) {
                try {
                    store = Files.getFileStore(Path.of(m[3]))
                } catch (IOException e) {
                    unknownFilesystem(m, e)
                    continue
                }
                keep.put(id, store)
            }
            FileStore fs = (FileStore) store
            long total, free, avail
            try {
                total = fs.getTotalSpace()
                free = fs.getUnallocatedSpace()
                avail = fs.getUsableSpace()
            } catch (IOException e) {
                unknownFilesystem(m, e)
                continue
            }
            long used = total - free
            sample('filesystem').tag('mount', m[3]).tag('device', m[5]).tag('fstype', m[4])
                    .value('total_bytes', total, 'B')
                    .value('used_bytes', used, 'B')
                    .value('available_bytes', avail, 'B')
                    .value('used_pct', used + avail > 0 ? 100.0d * used / (used + avail) : 0.0d, '%')
                    .emit()
        }
    }

    /** Of two mounts of one device, the one to report: its root directory, else the shortest path. */
    static boolean better(String[] m, String[] than) {
        boolean root = m[2] == '/', thanRoot = than[2] == '/'
        if (root != thanRoot) return root
        return m[3].length() < than[3].length()
    }

    void unknownFilesystem(String[] m, IOException e) {
        sample('filesystem').tag('mount', m[3]).tag('device', m[5]).tag('fstype', m[4])
                .status(Status.UNKNOWN).message('cannot statfs ' + m[3] + ': ' + e).emit()
    }

    // ------------------------------------------------------------------ disks

    void disks() {
        // /sys/block holds whole disks only; it writes '/' in a name (cciss/c0d0) as '!'.
        Set<String> wholeDisks = new HashSet<>()
        String[] listed = new File('/sys/block').list()
        if (listed != null) {
            for (String n : listed) wholeDisks.add(n.replace('!', '/'))
        }
        long now = System.nanoTime()
        Map<String, long[]> current = new LinkedHashMap<>()
        int[] pos = new int[1]
        for (String line : ProcFiles.lines('/proc/diskstats')) {
            pos[0] = 0
            nextLong(line, pos)
            nextLong(line, pos)
            int start = pos[0]
            while (start < line.length() && line.charAt(start) == (char) ' ') start++
            int end = line.indexOf(' ', start)
            if (end < 0) continue
            String name = line.substring(start, end)
            if (!wholeDisks.contains(name) || (excludeDevice != null && excludeDevice.matcher(name).find())) continue
            pos[0] = end
            // reads merged sectors ms, writes merged sectors ms, in_flight, io_ticks, weighted ms
            long[] v = new long[11]
            for (int i = 0; i < 11; i++) v[i] = nextLong(line, pos)
            if (v[0] == 0 && v[4] == 0) continue
            current.put(name, v)
        }
        Object kept = state.put('disk', current)
        double dt = interval('disk.time', now)
        if (kept == null || dt <= 0) return
        Map<String, long[]> prev = (Map<String, long[]>) kept
        for (Map.Entry<String, long[]> e : current.entrySet()) {
            long[] p = counters(prev, e.getKey())
            if (p == null) continue
            long[] c = e.getValue()
            long reads = delta(p[0], c[0]), readSectors = delta(p[2], c[2])
            long writes = delta(p[4], c[4]), writeSectors = delta(p[6], c[6])
            // Fewer IOs than before: the device was reset or re-created under the same name.
            if (reads < 0 || writes < 0 || readSectors < 0 || writeSectors < 0) continue
            long readMs = delta32(p[3], c[3]), writeMs = delta32(p[7], c[7]), busyMs = delta32(p[9], c[9])
            def b = sample('disk').tag('device', e.getKey())
                    .value('reads_per_s', reads / dt, '1/s')
                    .value('writes_per_s', writes / dt, '1/s')
                    .value('read_bytes_per_s', readSectors * 512 / dt, 'B/s')   // diskstats sectors are always 512 B
                    .value('write_bytes_per_s', writeSectors * 512 / dt, 'B/s')
            if (readMs >= 0 && writeMs >= 0) b.value('await_ms', reads + writes > 0 ? (double) (readMs + writeMs) / (reads + writes) : 0d, 'ms')
            if (busyMs >= 0) b.value('util_pct', Math.min(100d, busyMs / (dt * 10d)), '%')
            b.emit()
        }
    }

    // ------------------------------------------------------------------ network

    static final List<String> NET_NAMES = ['rx_bytes_per_s', 'rx_packets_per_s', 'rx_errors_per_s', 'rx_drops_per_s',
                                           'tx_bytes_per_s', 'tx_packets_per_s', 'tx_errors_per_s', 'tx_drops_per_s']
    // Their columns in /proc/net/dev: receive bytes packets errs drop (0-3), transmit bytes packets errs drop (8-11).
    static final int[] NET_COLUMNS = [0, 1, 2, 3, 8, 9, 10, 11] as int[]

    void network() {
        long now = System.nanoTime()
        Map<String, long[]> current = new LinkedHashMap<>()
        int[] pos = new int[1]
        for (String line : ProcFiles.lines('/proc/net/dev')) {
            int colon = line.indexOf(':')
            if (colon < 0 || line.indexOf('|') >= 0) continue
            String name = line.substring(0, colon).trim()
            if (excludeInterface != null && excludeInterface.matcher(name).find()) continue
            // Old kernels print "eth0:123" with no space after the colon; nextLong skips spaces only.
            pos[0] = colon + 1
            long[] v = new long[12]
            for (int i = 0; i < 12; i++) v[i] = nextLong(line, pos)
            current.put(name, v)
        }
        Object kept = state.put('network', current)
        double dt = interval('network.time', now)
        if (kept == null || dt <= 0) return
        Map<String, long[]> prev = (Map<String, long[]>) kept
        for (Map.Entry<String, long[]> e : current.entrySet()) {
            long[] p = counters(prev, e.getKey())
            if (p == null) continue
            def b = sample('network').tag('interface', e.getKey())
            int n = 0
            for (int i = 0; i < 8; i++) {
                int col = NET_COLUMNS[i]
                long d = delta(p[col], e.getValue()[col])
                if (d < 0) continue
                b.value(NET_NAMES[i], d / dt, i == 0 || i == 4 ? 'B/s' : '1/s')
                n++
            }
            if (n > 0) b.emit()
        }
    }

    // ------------------------------------------------------------------ tcp

    void tcp() {
        long[] counts = new long[TCP_STATES.size()]
        byte[] buf = new byte[128 * 1024]
        // The state is at a fixed distance from the colon after the slot number ("%4d: local remote st"):
        // IPv4 addresses are "%08X:%04X" (13 characters), IPv6 ones "%08X%08X%08X%08X:%04X" (37).
        boolean v4 = countTcpStates('/proc/net/tcp', 2 + 13 + 1 + 13 + 1, counts, buf)
        boolean v6 = countTcpStates('/proc/net/tcp6', 2 + 37 + 1 + 37 + 1, counts, buf)
        if (!v4 && !v6) {
            throw new IllegalStateException('neither /proc/net/tcp nor /proc/net/tcp6 is readable')
        }
        for (int s = 1; s < TCP_STATES.size(); s++) {
            sample('tcp').tag('state', TCP_STATES[s]).value('connections', counts[s]).emit()
        }
    }

    /**
     * Counts the sockets of one /proc/net/tcp* file by state, reading it in large chunks: a busy host
     * lists 100,000 sockets there (about 15 MB), too much to hold as lines. False if it cannot be read
     * (no IPv6 in this kernel).
     */
    static boolean countTcpStates(String path, int stateOffset, long[] counts, byte[] buf) {
        FileInputStream in
        try {
            in = new FileInputStream(path)
        } catch (IOException ignored) {
            return false
        }
        try {
            int len = 0
            boolean header = true
            boolean eof = false
            while (!eof) {
                // The kernel hands out at most a page per read: gather a good part of the buffer before parsing.
                while (len < buf.length - 16384) {
                    int n = in.read(buf, len, buf.length - len)
                    if (n < 0) {
                        eof = true
                        break
                    }
                    len += n
                    // Reading one of these files walks the kernel's whole TCP hash table, however few
                    // sockets there are (2.4 ms on a 24 GB host: 262,144 buckets), and the read that
                    // finds the end walks all of it again, for nothing. So do not make that read: a read
                    // fills one kernel page (4 KiB or more) up to its last whole line (150-180 bytes),
                    // and comes back shorter only when the file has no more lines.
                    if (n < SHORT_READ) {
                        eof = true
                        break
                    }
                }
                // Latin-1 makes the chunk a String by a plain copy, and gives us String.indexOf's speed.
                String s = new String(buf, 0, len, StandardCharsets.ISO_8859_1)
                int pos = 0
                while (true) {
                    int nl = s.indexOf('\n', pos)
                    if (nl < 0) break
                    if (header) {
                        header = false
                    } else {
                        int at = s.indexOf(':', pos) + stateOffset
                        if (at > stateOffset - 1 && at + 1 < nl) {
                            int hi = Character.digit(s.charAt(at), 16), lo = Character.digit(s.charAt(at + 1), 16)
                            int st = hi * 16 + lo
                            if (hi >= 0 && lo >= 0 && st < counts.length) counts[st]++
                        }
                    }
                    pos = nl + 1
                }
                if (pos == 0 && len >= buf.length - 16384) {
                    throw new IllegalStateException(path + ' has a line longer than ' + buf.length + ' bytes')
                }
                System.arraycopy(buf, pos, buf, 0, len - pos)
                len -= pos
            }
        } finally {
            in.close()
        }
        return true
    }
}
