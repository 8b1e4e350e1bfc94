// process_top.groovy: what every process costs, found without configuration: CPU, memory, disk IO,
// threads, open files and TCP traffic, per command line, for the few command lines that matter.
//
// Try it:    aegis-quartz run-plugin default/process_top.groovy --top 5
//            (one run has no interval, so it shows memory only; a scheduled job shows everything)
// Schedule:  [45 * * * * ?] output_max=8MiB default/process_top.groovy   (conf/aegis_quartz.conf.default)
//
// Arguments: [--top N] [--cpu-pct P] [--rss-mb M] [--io-kbps K] [--net-kbps K]
//   --top N         how many groups may be reported per dimension (default 10, at most 1000)
//   --cpu-pct P     a group counts for the CPU dimension from P % of one core (default 1)
//   --rss-mb M      ... for memory from M MiB resident (default 200)
//   --io-kbps K     ... for disk IO from K KiB/s read + written (default 100; KiB, not kilobits)
//   --net-kbps K    ... for network from K KiB/s received + sent over TCP (default 100)
//   A group is reported if, for at least one of the four dimensions, its value is above zero, at
//   least that dimension's threshold, and among the N largest of all groups in that dimension. So a
//   run emits at most 4 x N process samples (40 by default) plus one process_top_summary sample,
//   however many processes the host runs.
//
// Groups: processes with the same command line are one group, so a series survives restarts of its
// command and a pre-forked server's workers add up. The group's id is the first 12 hex digits of the
// SHA-1 of the command line as the kernel holds it (arguments separated by NUL bytes). A process
// with no command line (a zombie) is identified by "[comm]"; kernel threads by their name without
// the CPU or instance suffix: kworker/0:1 and kworker/u8:2 are one group, "[kworker]".
//
// Emits, for each reported group:
//   process  processes                  processes in the group
//            cpu_pct (%)                user + system CPU over the interval, in % of one core (200
//                                       means two cores' worth); includes the children the group's
//                                       processes reaped in the interval (see below)
//            rss_bytes (B)              resident memory, summed (shared pages count in each process)
//            threads                    threads, summed
//            fds                        open file descriptors, summed
//            read_bytes_per_s (B/s)     bytes read from storage (/proc/PID/io read_bytes)
//            write_bytes_per_s (B/s)    bytes written to storage (write_bytes: counted when the
//                                       process dirties page cache, so tmpfs writes do not count)
//            net_rx_bytes_per_s (B/s)   TCP payload received by the group's sockets
//            net_tx_bytes_per_s (B/s)   TCP payload sent and acknowledged by the peer
//            tags: name (comm of its oldest process), id (the hash), cmdline (cut to 120 characters),
//                  user (effective user of its oldest process, when first reported)
//            message: the PIDs (the first 20, then "and N more")
//   process_top_summary  (one per run)
//            processes                  processes seen in this run
//            groups                     command-line groups among them
//            reported                   groups emitted as process samples
//            unreadable                 processes whose io or fd directory could not be read (needs
//                                       CAP_SYS_PTRACE for other users' processes); their values
//                                       for those are absent, not zero
//            sockets                    TCP sockets found in processes' file descriptors
//            interval_s (s)             time since the previous run (absent on the first)
//            new                        processes that started in the interval and are still running
//            exited                     processes seen by the previous run that are gone
//            forks                      processes and threads created in the interval (/proc/stat)
//            unattributed_cpu_pct (%)   user + nice + system CPU of the host in the interval that no
//                                       process seen in this run accounts for: processes that started
//                                       and were reaped by a parent that also ended, the part of an
//                                       exited process not folded into its parent, processes whose
//                                       interval was unknown. Clamped at 0.
//            message: what was measured, and why network values are absent if they are
//
// Rates (cpu_pct and every _per_s value) need a previous run: the first run after a start reports
// memory, threads and fds only. A process that started in the interval counts from zero; one whose
// counters went backwards gives no rate for that interval.
//
// Short-lived processes: a child reaped by a living parent adds its CPU to the parent's cutime and
// cstime, and its IO to the parent's /proc/PID/io; both are counted in the parent's group. When the
// reaped child had been seen by the previous run, the part it already reported is subtracted, so it
// is not counted twice. What no surviving parent accounts for shows as unattributed_cpu_pct.
//
// Network: the kernel keeps byte counters per TCP socket (tcpi_bytes_acked, tcpi_bytes_received,
// Linux 4.1 and later). Java cannot query them without native code, so each run runs `ss -tine`
// (iproute2) once and matches the socket inodes it prints to the `socket:[INODE]` links in each
// process's /proc/PID/fd. Loopback connections count for both ends' processes. Bytes of connections
// that opened and closed between two runs, and of the last part of a connection that closed since the
// previous run, are lost. Only TCP, and only the agent's network namespace. Without ss, or on a kernel
// without the counters, the network values are absent and the summary's message says why.
//
// ss output is cut at the job's output_max (about 450 bytes a connection: 1 MiB holds ~2,000); the
// default job line raises it to 8 MiB. Cut output gives no network values rather than partial ones.
//
// Cost, per process and run: /proc/PID/stat. /proc/PID/io and the size of /proc/PID/fd (the number of
// descriptors since Linux 6.2; older kernels list the directory) only if the process used CPU since
// the last run: one without a tick of CPU has made at most a few system calls, so its last readings
// are kept, and what those calls did shows at its next run with CPU (the counters are cumulative:
// delayed, never lost while it lives). readlink of each descriptor only for processes that may hold
// a socket ss reported (they held one at the last run, are new, or their descriptor count changed;
// if a socket is then still without an owner, all of them). cmdline only for a process not seen
// before (identities are cached by PID, start time and comm). Plus one fork of ss. About the CPU of
// one `ps -eo pid,pcpu,rss,comm` at 1,000 processes: docs/BENCHMARKS.md. Kernel threads: CPU and
// threads only (no io, fds 0).

import groovy.transform.CompileStatic
import io.aegisquartz.plugin.groovy.AegisScript
import groovy.transform.stc.POJO
import io.aegisquartz.api.CommandResult
import io.aegisquartz.api.SampleBuilder

import java.nio.charset.StandardCharsets
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.Paths
import java.security.MessageDigest

/**
 * A class rather than a script, statically compiled as a whole, so that it makes no dynamic Groovy call:
 * the first one in the agent's JVM sets up Groovy's call-site machinery (about 0.1 s of CPU), and each
 * costs more than a static call until the JIT compiles it, which at one run a minute takes hours.
 * Map lookups that may be null are taken as Object and cast once they are not (sampler.groovy says why).
 */
@CompileStatic
class process_top extends AegisScript {

    static final String USAGE = 'usage: process_top.groovy [--top N] [--cpu-pct P] [--rss-mb M] [--io-kbps K] [--net-kbps K]'
    static final List<String> DIMENSIONS = ['--cpu-pct', '--rss-mb', '--io-kbps', '--net-kbps']
    static final double[] UNITS = [1.0d, 1024.0d * 1024, 1024.0d, 1024.0d] as double[]
    static final List<String> SS_PATHS = ['/usr/sbin/ss', '/usr/bin/ss', '/sbin/ss', '/bin/ss']

    // Set by parseArgs.
    int top
    double[] thresholds

    @Override
    Object run() {
        parseArgs(ctx.args())
        runTop()
        return null
    }

    void parseArgs(List<String> args) {
        top = 10
        thresholds = [1.0d, 200.0d * 1024 * 1024, 100.0d * 1024, 100.0d * 1024] as double[]   // cpu %, rss B, io B/s, net B/s
        for (int i = 0; i < args.size(); i += 2) {
            String option = args[i]
            String value = null    // not a ternary with null: see sampler.groovy, "Map lookups"
            if (i + 1 < args.size()) value = args[i + 1]
            if (value == null) {
                throw new IllegalArgumentException("'" + option + "' needs a value; " + USAGE)
            }
            if (option == '--top') {
                if (!value.isInteger() || Integer.parseInt(value) < 1 || Integer.parseInt(value) > 1000) {
                    throw new IllegalArgumentException("--top '" + value + "': give a whole number from 1 to 1000; " + USAGE)
                }
                top = Integer.parseInt(value)
                continue
            }
            int dim = DIMENSIONS.indexOf(option)
            if (dim < 0) {
                throw new IllegalArgumentException("bad argument '" + option + "'; " + USAGE)
            }
            if (!value.isDouble() || Double.parseDouble(value) < 0 || !Double.isFinite(Double.parseDouble(value))) {
                throw new IllegalArgumentException(option + " '" + value + "': give a number, 0 or more; " + USAGE)
            }
            thresholds[dim] = Double.parseDouble(value) * UNITS[dim]
        }
    }

    void runTop() {
        // Read before the /proc walk, so that a process which started after this instant is known to be
        // new at the next run.
        long nowNanos = System.nanoTime()
        String uptimeText = ProcFiles.read('/proc/uptime')
        if (uptimeText == null) {
            throw new IllegalStateException('/proc/uptime is not readable; is /proc mounted?')
        }
        long uptimeTicks = Math.round(Double.parseDouble(uptimeText.trim().split(/\s+/)[0]) * Top.HZ)
        long busyTicks = -1
        long forks = -1
        for (String line : ProcFiles.lines('/proc/stat')) {
            if (line.startsWith('cpu ')) {
                String[] f = line.trim().split(/\s+/)
                busyTicks = Long.parseLong(f[1]) + Long.parseLong(f[2]) + Long.parseLong(f[3])    // user + nice + system (guest is in user)
            } else if (line.startsWith('processes ')) {
                forks = Long.parseLong(line.substring(10).trim())
            }
        }

        // TCP sockets and their byte counters, by inode.
        Map<Long, long[]> sockets = null
        String netNote = null
        String ss = null
        for (String path : SS_PATHS) {
            if (ss == null && new File(path).canExecute()) {
                ss = path
            }
        }
        if (ss == null) {
            netNote = 'ss (iproute2) is not installed: no network values'
        } else {
            CommandResult r = exec([ss, '-tine'], 20)
            if (!r.ok()) {
                List<String> err = r.stderr().trim().readLines()
                netNote = 'ss ' + (r.timedOut() ? 'timed out' : 'exited with ' + String.valueOf(r.exitCode()) + (err ? ': ' + err.last() : '')) +
                        ': no network values'
            } else if (r.truncated()) {
                netNote = 'ss printed more than the job\'s output_max: no network values (raise output_max on the job line)'
            } else {
                sockets = Top.parseSs(r.stdout())
                if (sockets == null) {
                    netNote = 'the kernel reports no per-socket byte counters (Linux 4.1 or later needed): no network values'
                }
            }
        }

        // Everything kept between runs is in one object of this script's own class (state is emptied
        // when this file changes, so it never holds an object of an older version of the class).
        Object kept = state.get('top')
        TopState st = kept instanceof TopState ? (TopState) kept : new TopState()
        state.put('top', st)
        if (st.pageSize == 0) {
            st.pageSize = Top.pageSize()
        }
        boolean rates = st.run > 0 && nowNanos > st.nanos
        double interval = rates ? (nowNanos - st.nanos) / 1e9d : -1
        Map<Long, long[]> socketDeltas = null
        if (rates && sockets != null && st.sockets != null) socketDeltas = Top.socketDeltas(sockets, st.sockets)

        Walk w = Top.walk(st, rates, sockets)
        List<Group> groups = Top.group(w.procs, socketDeltas, interval)
        List<Group> chosen = Top.choose(groups, top, thresholds)

        long lastBusy = st.busyTicks
        long lastForks = st.forks
        st.nanos = nowNanos
        st.uptimeTicks = uptimeTicks
        st.busyTicks = busyTicks
        st.forks = forks
        st.sockets = sockets

        Top.emit(ctx, chosen, interval, Users.names(state))

        SampleBuilder summary = sample('process_top_summary')
                .value('processes', w.procs.size())
                .value('groups', groups.size())
                .value('reported', chosen.size())
                .value('unreadable', w.unreadable)
                .value('sockets', w.sockets)
        // Messages are built from Strings only: Groovy's number-to-text conversion (GStrings, String +
        // number) initialises its FormatHelper, which loads part of the compiler and indexes the JDK's
        // classes, about 4.5 MB of memory for good (docs/BENCHMARKS.md).
        String measured = String.valueOf(w.procs.size()) + ' processes in ' + String.valueOf(groups.size()) + ' command lines; ' +
                String.valueOf(chosen.size()) + ' reported (top ' + String.valueOf(top) + ' per dimension)'
        if (rates) {
            summary.value('interval_s', interval, 's').value('new', w.fresh).value('exited', w.exited)
            if (forks >= lastForks && lastForks >= 0) {
                summary.value('forks', forks - lastForks)
            }
            if (busyTicks >= lastBusy && lastBusy >= 0) {
                long free = Math.max(0L, busyTicks - lastBusy - w.cpuTicks)
                summary.value('unattributed_cpu_pct', 100.0d * free / Top.HZ / interval, '%')
            }
        } else {
            measured += '; first run: no rates until the next run'
        }
        if (w.unreadable > 0) {
            measured += '; ' + String.valueOf(w.unreadable) + (w.unreadable == 1 ? ' process' : ' processes') +
                    ' not fully readable (the agent needs CAP_SYS_PTRACE)'
        }
        summary.message(netNote != null ? measured + '; ' + netNote : measured).emit()
    }
}

/** What the job keeps between runs. */
@CompileStatic
class TopState {
    long run            // runs so far
    long nanos          // System.nanoTime() of the last run
    long uptimeTicks    // uptime at the last run, read before its /proc walk
    long busyTicks = -1 // user + nice + system of the host, /proc/stat
    long forks = -1     // the processes line of /proc/stat
    long pageSize
    Map<Integer, Rec> recs = new HashMap<>()   // by PID, the processes the last run saw
    Map<Long, long[]> sockets   // ss counters by inode at the last run, null if unknown
}

/**
 * One process, kept from run to run while it lives: its identity, and its readings at the last run
 * that saw it. A plain Java class (@POJO): there is one per process.
 */
@POJO
@CompileStatic
class Rec {
    int pid
    int ppid
    long start          // starttime, in ticks since boot
    String comm
    boolean kthread
    String id
    String name
    String cmdline
    String user         // effective user, looked up when first reported
    long run            // the last run that saw it
    // Readings: -1 if unknown or unreadable
    long cpu = -1       // utime + stime + cutime + cstime, ticks
    long children = -1  // cutime + cstime: CPU of the children it reaped
    long read = -1      // read_bytes
    long write = -1     // write_bytes
    long fds = -1
    int sockets         // TCP sockets among its fds
    // This run
    long threads
    long rss            // bytes
    long[] inodes       // [count, inode, ...]: TCP sockets among its fds at its last scan
    boolean scanned     // its fd links were read in this run
    long dCpu = -1      // over the interval, -1 if unknown
    long dChildren = -1
    long dRead = -1
    long dWrite = -1
    long goneCpu        // last readings of its children that exited in the interval
    long goneRead
    long goneWrite
}

/** The result of one walk of /proc. */
@CompileStatic
class Walk {
    List<Rec> procs
    int fresh           // started in the interval
    int exited          // seen by the last run, gone now
    long unreadable     // io or fd directory not readable
    long sockets        // TCP sockets found in fds
    long cpuTicks       // CPU accounted to processes over the interval
}

/** Processes with one command line. */
@POJO
@CompileStatic
class Group {
    List<Rec> procs = new ArrayList<>(1)
    long cpuTicks = -1
    long rss
    long threads
    long fds = -1
    long read = -1
    long write = -1
    long rx = -1
    long tx = -1
    double[] dims = new double[4]   // cpu %, rss B, io B/s, net B/s; -1 if unknown
}

/**
 * The work, statically compiled. Loops are few and coarse on purpose: every loop iteration of a
 * plugin runs a budget check, so bytes are scanned with String and Long methods instead.
 */
@CompileStatic
class Top {

    /** USER_HZ: the unit of /proc/PID/stat times; 100 on every architecture Linux distributions ship for. */
    static final int HZ = 100
    static final int KTHREAD = 0x00200000   // PF_KTHREAD in the flags field of /proc/PID/stat
    static final char[] HEX = '0123456789abcdef'.toCharArray()

    /**
     * Reads every process, updates its record, and sets its values over the interval.
     *
     * <p>A process that used no CPU since the last run keeps its last io, fd and socket readings. The
     * fd links of the others are read (one readlink per descriptor, the costliest part of a run) only
     * when ss found sockets and the process may hold one: it held one at the last run, is new, or its
     * descriptor count changed. If a socket is then still without an owner, the other processes'
     * links are read too, until it has one.
     */
    static Walk walk(TopState st, boolean rates, Map<Long, long[]> sockets) {
        long run = ++st.run
        Map<Integer, Rec> recs = st.recs
        String[] entries = new File('/proc').list()
        byte[] buf = new byte[65536]
        long[] f = new long[25]
        MessageDigest sha1 = MessageDigest.getInstance('SHA-1')
        boolean links = sockets != null && !sockets.isEmpty()
        // Ifs, not ternaries with null: Groovy would cast the null (see sampler.groovy, "Map lookups").
        Set<Long> owned = null
        Map<Long, long[]> linked = null    // the sockets to look for in fds, if any
        if (links) {
            owned = new HashSet<Long>()
            linked = sockets
        }
        List<Rec> gone = new ArrayList<>()
        Walk w = new Walk()
        w.procs = new ArrayList<>(entries.length)
        for (String e : entries) {
            char c0 = e.charAt(0)
            if (c0 < ((char) '1') || c0 > ((char) '9')) {
                continue
            }
            String dir = '/proc/' + e
            int n = read(dir + '/stat', buf, 4096)
            String stat = null
            if (n > 0) stat = new String(buf, 0, n, StandardCharsets.ISO_8859_1)
            int close = stat != null ? stat.lastIndexOf(')') : -1
            if (close < 0) {
                continue    // gone since the listing
            }
            int pid = Integer.parseInt(e)
            try {
                fields(stat, close, f)
            } catch (NumberFormatException | IndexOutOfBoundsException ignored) {
                continue    // not the stat format of proc(5): skip rather than fail the run
            }
            long start = f[22]
            Object found = (Object) recs.get(pid)
            Rec r = null
            if (found != null) r = (Rec) found
            boolean known = r != null && r.start == start
            if (!known) {
                if (r != null) {
                    gone.add(r)     // the PID was reused: the process the last run saw has exited
                }
                r = new Rec()
                r.pid = pid
                r.start = start
                recs.put(pid, r)
            }
            int open = stat.indexOf('(')
            String comm = stat.substring(open + 1, close)
            if (!comm.equals(r.comm)) {
                r.comm = new String(buf, open + 1, close - open - 1, StandardCharsets.UTF_8)
                identify(r, f[9], buf, sha1)    // new, or exec()ed another program
            }
            r.run = run
            r.ppid = (int) f[4]
            r.threads = f[20]
            r.rss = f[24] * st.pageSize
            long children = f[16] + f[17]
            long cpu = f[14] + f[15] + children
            long readBytes = -1
            long writeBytes = -1
            long fdCount = 0
            r.scanned = false
            if (known && cpu == r.cpu && !r.kthread) {
                // Not a single tick of CPU since the last run, so it made at most a few system calls:
                // its IO counters and descriptors are as they were, bar what those calls did, which
                // shows at its next run with CPU (counters are cumulative: delayed, not lost). Most
                // processes are idle at any time; this saves two thirds of the reads.
                readBytes = r.read
                writeBytes = r.write
                fdCount = r.fds
            } else if (!r.kthread) {
                n = read(dir + '/io', buf, 4096)
                if (n > 0) {
                    String io = new String(buf, 0, n, StandardCharsets.ISO_8859_1)
                    try {
                        readBytes = field(io, '\nread_bytes: ')
                        writeBytes = readBytes < 0 ? -1L : field(io, '\nwrite_bytes: ')
                    } catch (NumberFormatException ignored) {
                        readBytes = writeBytes = -1L
                    }
                }
                // Since Linux 6.2 the size of /proc/PID/fd is the number of open descriptors: one
                // stat() instead of reading the directory. 0 means an older kernel (or no access).
                fdCount = new File(dir + '/fd').length()
                boolean maybe = !known || r.sockets > 0 || r.fds != fdCount
                if (fdCount <= 0 || (links && maybe)) {
                    fdCount = fds(r, dir + '/fd', linked, owned)
                } else {
                    r.inodes = null
                }
                if ((readBytes < 0 || fdCount < 0) && !new File(dir).exists()) {
                    recs.remove(pid)
                    if (known) {
                        gone.add(r)
                    }
                    continue    // exited during the walk: not unreadable, just gone
                }
            }
            // Over the interval. A process that started in it counts from zero: everything it has
            // used belongs to the interval.
            boolean fresh = !known && rates && start >= st.uptimeTicks - 1
            if (fresh) {
                w.fresh++
            }
            boolean base = rates && (known || fresh)
            long cpu0 = known ? r.cpu : 0L
            long children0 = known ? r.children : 0L
            long read0 = known ? r.read : 0L
            long write0 = known ? r.write : 0L
            r.dCpu = base && cpu >= cpu0 ? cpu - cpu0 : -1L
            r.dChildren = base && children >= children0 ? children - children0 : -1L
            boolean io = base && readBytes >= 0 && read0 >= 0 && readBytes >= read0 && writeBytes >= write0
            r.dRead = io ? readBytes - read0 : -1L
            r.dWrite = io ? writeBytes - write0 : -1L
            r.goneCpu = 0
            r.goneRead = 0
            r.goneWrite = 0
            r.cpu = cpu
            r.children = children
            r.read = readBytes
            r.write = writeBytes
            r.fds = fdCount
            if (!r.kthread && (readBytes < 0 || fdCount < 0)) {
                w.unreadable++
            }
            w.procs.add(r)
        }
        if (links) {
            for (Rec r : w.procs) {
                long[] a = null
                if (!r.scanned) a = r.inodes     // carried over from an idle process's last scan
                for (int i = 1; a != null && i <= a[0]; i++) {
                    if (sockets.containsKey(a[i])) {
                        owned.add(a[i])
                    }
                }
            }
        }
        if (links && owned.size() < sockets.size()) {
            for (Rec r : w.procs) {
                if (!r.scanned && !r.kthread && r.fds > 0) {
                    fds(r, '/proc/' + String.valueOf(r.pid) + '/fd', sockets, owned)
                    if (owned.size() == sockets.size()) {
                        break
                    }
                }
            }
        }
        Iterator<Rec> it = recs.values().iterator()
        while (it.hasNext()) {
            Rec r = it.next()
            if (r.run != run) {
                gone.add(r)
                it.remove()
            }
        }
        if (rates) {
            w.exited = gone.size()
            unfold(gone, recs, run)
        }
        for (Rec r : w.procs) {
            r.sockets = r.inodes == null ? 0 : (int) r.inodes[0]
            w.sockets += r.sockets
            w.cpuTicks += Math.max(0L, r.dCpu)
        }
        return w
    }

    /**
     * A child reaped in the interval moved all of its CPU and IO into its parent's counters. The part
     * it had when the last run saw it was reported then: take it out of the parent's interval. Reaped
     * children are the only source of cutime/cstime growth, so no more than that growth is taken, and
     * the parent's own use is never touched.
     */
    static void unfold(List<Rec> gone, Map<Integer, Rec> recs, long run) {
        List<Rec> parents = new ArrayList<>()
        for (Rec child : gone) {
            Object found = (Object) recs.get(child.ppid)
            if (found == null) {
                continue    // no parent seen: what it left is unattributed
            }
            Rec parent = (Rec) found
            if (parent.run != run || parent.dChildren < 0 || parent.start > child.start) {
                continue    // no parent seen in both runs: what it left is unattributed
            }
            if (parent.goneCpu == 0 && parent.goneRead == 0 && parent.goneWrite == 0) {
                parents.add(parent)
            }
            parent.goneCpu += Math.max(0L, child.cpu)
            parent.goneRead += Math.max(0L, child.read)
            parent.goneWrite += Math.max(0L, child.write)
        }
        for (Rec p : parents) {
            p.dCpu = Math.max(0L, p.dCpu - Math.min(p.goneCpu, p.dChildren))
            if (p.dRead >= 0 && p.dChildren >= p.goneCpu) {
                p.dRead = Math.max(0L, p.dRead - p.goneRead)
                p.dWrite = Math.max(0L, p.dWrite - p.goneWrite)
            }
        }
    }

    /**
     * The numeric fields of a stat line after the ')' into f, indexed as proc(5) numbers them: 4 ppid,
     * 9 flags, 14-17 utime stime cutime cstime, 20 num_threads, 22 starttime, 24 rss (pages).
     */
    static void fields(String s, int close, long[] f) {
        // split() with a one-character separator takes no regex and no loop of ours (every loop
        // iteration of a plugin runs a budget check): the cheapest way through 22 fields.
        String[] w = s.substring(close + 2, s.length() - 1).split(' ', 24)
        for (int i : STAT_FIELDS) {
            f[i] = Long.parseLong(w[i - 3])
        }
    }

    static final int[] STAT_FIELDS = [4, 9, 14, 15, 16, 17, 20, 22, 24] as int[]

    /** The number after `key` in text, up to the end of its line; -1 if absent. */
    static long field(String text, String key) {
        int at = text.indexOf(key)
        if (at < 0) {
            return -1
        }
        int from = at + key.length()
        int nl = text.indexOf('\n', from)
        return Long.parseLong(text, from, nl < 0 ? text.length() : nl, 10)
    }

    /**
     * Counts the fds and, if sockets is not null, collects the inodes of the TCP sockets that ss
     * reported into r.inodes ([count, inode, inode...]). Returns the count, -1 if unreadable.
     */
    static long fds(Rec r, String dir, Map<Long, long[]> sockets, Set<Long> owned) {
        r.inodes = null
        r.scanned = false
        String[] fds = new File(dir).list()
        if (fds == null) {
            return -1   // not ours to read, or gone
        }
        if (sockets == null) {
            return fds.length
        }
        r.scanned = true
        for (String fd : fds) {
            String target
            try {
                target = Files.readSymbolicLink(Paths.get(dir, fd)).toString()
            } catch (IOException | UnsupportedOperationException ignored) {
                continue    // closed meanwhile
            }
            if (!target.startsWith('socket:[')) {
                continue
            }
            long inode = Long.parseLong(target, 8, target.length() - 1, 10)
            if (sockets.containsKey(inode)) {
                owned.add(inode)
                long[] a = r.inodes
                if (a == null) {
                    a = new long[5]
                } else if (a[0] + 1 == a.length) {
                    a = Arrays.copyOf(a, a.length * 2)
                }
                a[(int) a[0] + 1] = inode
                a[0] = a[0] + 1
                r.inodes = a
            }
        }
        return fds.length
    }

    /** Sets id, name and cmdline of a process that is new or has exec()ed another program. */
    static void identify(Rec r, long flags, byte[] buf, MessageDigest sha1) {
        r.kthread = (flags & KTHREAD) != 0
        r.id = null
        r.user = null
        if (r.kthread) {
            r.name = kernelName(r.comm)
            r.cmdline = '[' + r.name + ']'
        } else {
            r.name = r.comm
            int n = read('/proc/' + String.valueOf(r.pid) + '/cmdline', buf, buf.length)
            String raw = n > 0 ? new String(buf, 0, n, StandardCharsets.ISO_8859_1) : ''
            int end = raw.length()
            while (end > 0 && raw.charAt(end - 1) == ((char) '\u0000')) {
                end--
            }
            if (end > 0) {
                sha1.update(buf, 0, end)
                r.id = hex(sha1.digest())
                // NULs between arguments, and newlines or tabs inside them, become spaces.
                String text = new String(buf, 0, Math.min(end, 480), StandardCharsets.UTF_8).replaceAll('[\\x00-\\x1f\\x7f]', ' ').trim()
                r.cmdline = text.length() > 120 ? text.substring(0, 117) + '...' : text
            } else {
                r.cmdline = '[' + r.comm + ']'     // a zombie, or a process that cleared its arguments
            }
        }
        if (r.id == null) {
            r.id = hex(sha1.digest(r.cmdline.getBytes(StandardCharsets.UTF_8)))
        }
    }

    /** kworker/0:1-events and kworker/u8:2 are both "kworker"; kswapd0 is "kswapd". */
    static String kernelName(String comm) {
        int slash = comm.indexOf('/')
        String s = slash > 0 ? comm.substring(0, slash) : comm
        String bare = s.replaceFirst('[0-9]+$', '')
        return bare.isEmpty() ? s : bare
    }

    /**
     * Bytes [acked, received] per socket in the interval. A socket the previous run did not see was
     * opened in the interval and counts from zero; so does one whose counters went backwards (its
     * inode was reused by a new socket).
     */
    static Map<Long, long[]> socketDeltas(Map<Long, long[]> now, Map<Long, long[]> prev) {
        Map<Long, long[]> out = new HashMap<>(now.size() * 2)
        for (Map.Entry<Long, long[]> e : now.entrySet()) {
            long[] c = e.value
            Object found = (Object) prev.get(e.key)
            long[] p = null
            if (found != null) p = (long[]) found
            if (p == null || c[0] < p[0] || c[1] < p[1]) {
                out.put(e.key, c)
            } else {
                out.put(e.key, [c[0] - p[0], c[1] - p[1]] as long[])
            }
        }
        return out
    }

    /** Groups by command-line id, sums, and computes the four ranking dimensions. */
    static List<Group> group(List<Rec> procs, Map<Long, long[]> socketDeltas, double interval) {
        Map<String, Group> byId = new HashMap<>(procs.size() * 2)
        List<Group> out = new ArrayList<>()
        for (Rec p : procs) {
            // Most lookups find nothing (a group per command line), hence Object: see sampler.groovy, "Map lookups".
            Object found = (Object) byId.get(p.id)
            Group g
            if (found != null) {
                g = (Group) found
            } else {
                g = new Group()
                byId.put(p.id, g)
                out.add(g)
            }
            g.procs.add(p)
            g.rss += p.rss
            g.threads += p.threads
            if (p.fds >= 0) {
                g.fds = Math.max(0L, g.fds) + p.fds
            }
            if (p.dCpu >= 0) {
                g.cpuTicks = Math.max(0L, g.cpuTicks) + p.dCpu
            }
            if (p.dRead >= 0) {
                g.read = Math.max(0L, g.read) + p.dRead
                g.write = Math.max(0L, g.write) + p.dWrite
            }
            if (socketDeltas != null && p.fds >= 0) {
                g.rx = Math.max(0L, g.rx)
                g.tx = Math.max(0L, g.tx)
            }
        }
        boolean rates = interval > 0
        for (Group g : out) {
            if (g.procs.size() > 1) {
                // Oldest first: its name and user label the group (the master of a pre-forked server).
                g.procs.sort(OLDEST_FIRST)
            }
            if (g.rx >= 0) {
                Set<Long> counted = null    // a socket held by several fds or processes counts once
                for (Rec p : g.procs) {
                    long[] a = p.inodes
                    for (int i = 1; a != null && i <= a[0]; i++) {
                        Object found = (Object) socketDeltas.get(a[i])
                        if (found == null) {
                            continue
                        }
                        long[] d = (long[]) found
                        if (counted == null) {
                            counted = new HashSet<>()
                        }
                        if (counted.add(a[i])) {
                            g.tx += d[0]
                            g.rx += d[1]
                        }
                    }
                }
            }
            g.dims[0] = rates && g.cpuTicks >= 0 ? 100.0d * g.cpuTicks / HZ / interval : -1.0d
            g.dims[1] = g.rss
            g.dims[2] = rates && g.read >= 0 ? (g.read + g.write) / interval : -1.0d
            g.dims[3] = rates && g.rx >= 0 ? (g.rx + g.tx) / interval : -1.0d
        }
        return out
    }

    static final Comparator<Rec> OLDEST_FIRST = new OldestFirst()

    /**
     * The groups to report: for each dimension, the `top` largest with a value above zero and at least
     * the threshold. At most 4 x top groups, most CPU first.
     */
    static List<Group> choose(List<Group> groups, int top, double[] thresholds) {
        Set<Group> chosen = new LinkedHashSet<>()
        double[] values = new double[groups.size()]
        for (int d = 0; d < 4; d++) {
            // The top-th largest value that qualifies is the cut-off; ties at it fill up to `top`.
            int n = 0
            for (Group g : groups) {
                if (g.dims[d] > 0 && g.dims[d] >= thresholds[d]) {
                    values[n++] = g.dims[d]
                }
            }
            if (n == 0) {
                continue
            }
            Arrays.sort(values, 0, n)
            double cut = values[Math.max(0, n - top)]
            int taken = 0
            for (Group g : groups) {
                if (g.dims[d] > cut && g.dims[d] >= thresholds[d]) {
                    chosen.add(g)
                    taken++
                }
            }
            for (Group g : groups) {
                if (taken < top && g.dims[d] == cut && g.dims[d] > 0 && g.dims[d] >= thresholds[d]) {
                    chosen.add(g)
                    taken++
                }
            }
        }
        List<Group> out = new ArrayList<>(chosen)
        out.sort(MOST_CPU_FIRST)
        return out
    }

    static final Comparator<Group> MOST_CPU_FIRST = new MostCpuFirst()

    /** One process sample per chosen group. */
    static void emit(SampleContext ctx, List<Group> chosen, double interval, Map<Integer, String> users) {
        for (Group g : chosen) {
            Rec first = g.procs.get(0)
            SampleBuilder s = ctx.sample('process').value('processes', g.procs.size())
            if (g.cpuTicks >= 0) {
                s.value('cpu_pct', 100.0d * g.cpuTicks / HZ / interval, '%')
            }
            s.value('rss_bytes', g.rss, 'B').value('threads', g.threads)
            if (g.fds >= 0) {
                s.value('fds', g.fds)
            }
            if (g.read >= 0) {
                s.value('read_bytes_per_s', g.read / interval, 'B/s').value('write_bytes_per_s', g.write / interval, 'B/s')
            }
            if (g.rx >= 0) {
                s.value('net_rx_bytes_per_s', g.rx / interval, 'B/s').value('net_tx_bytes_per_s', g.tx / interval, 'B/s')
            }
            if (first.user == null) {
                first.user = Users.of(first.pid, users)
            }
            s.tag('name', first.name).tag('id', first.id).tag('cmdline', first.cmdline).tag('user', first.user)
                    .message(pids(g, 20))
                    .emit()
        }
    }

    /** "PIDs 1 2 3", the first `max`, then "and N more". */
    static String pids(Group g, int max) {
        int[] pids = new int[g.procs.size()]
        for (int i = 0; i < pids.length; i++) {
            pids[i] = g.procs.get(i).pid
        }
        Arrays.sort(pids)
        StringBuilder b = new StringBuilder('PIDs')
        for (int i = 0; i < Math.min(max, pids.length); i++) {
            b.append(' ').append(pids[i])
        }
        if (pids.length > max) {
            b.append(' and ').append(pids.length - max).append(' more')
        }
        return b.toString()
    }
    /**
     * Parses `ss -tine` output into inode -> [bytes_acked, bytes_received]. Works on the token level,
     * so it does not depend on ss's columns or on whether the -i details are on the socket's line or
     * the next (that differs between iproute2 versions): "ino:" starts a socket, the byte counters
     * that follow belong to it. Sockets without an inode (orphans) are skipped. Returns null if ss
     * printed tcp_info (rtt:) but never a byte counter: a kernel older than 4.1.
     */
    static Map<Long, long[]> parseSs(String out) {
        Map<Long, long[]> sockets = new HashMap<>()
        boolean info = out.contains(' rtt:')
        boolean counters = false
        int at = out.indexOf(' ino:')
        while (at >= 0) {
            int from = at + 5
            int to = from
            int len = out.length()
            while (to < len && Character.isDigit(out.charAt(to))) {
                to++
            }
            long inode = to > from ? Long.parseLong(out, from, to, 10) : 0L
            int next = out.indexOf(' ino:', to)
            int end = next < 0 ? len : next
            long acked = counter(out, ' bytes_acked:', to, end)
            long received = counter(out, ' bytes_received:', to, end)
            if (acked >= 0 || received >= 0) counters = true   // not '|=': Groovy boxes both sides and unboxes through a helper
            if (inode > 0) {
                sockets.put(inode, [Math.max(0L, acked), Math.max(0L, received)] as long[])
            }
            at = next
        }
        return info && !counters && !sockets.isEmpty() ? null : sockets
    }

    /** The number after key between from and end, -1 if key is not there (ss leaves out zero counters). */
    static long counter(String out, String key, int from, int end) {
        int at = out.indexOf(key, from)
        if (at < 0 || at >= end) {
            return -1
        }
        int s = at + key.length()
        int e = s
        while (e < end && Character.isDigit(out.charAt(e))) {
            e++
        }
        return e > s ? Long.parseLong(out, s, e, 10) : -1L
    }

    /**
     * Reads a /proc file into buf: the byte count, or -1 if it is gone or unreadable. One reused
     * buffer, because this runs several times for every process. A file of one record (stat, io)
     * comes whole in one read of up to `max` bytes (at most 8 KiB, which the JDK reads without a
     * malloc); cmdline is read until EOF or the buffer is full.
     */
    static int read(String path, byte[] buf, int max) {
        RandomAccessFile f
        try {
            f = new RandomAccessFile(path, 'r')
        } catch (IOException ignored) {
            return -1
        }
        try {
            if (max <= 8192) {
                return Math.max(0, f.read(buf, 0, max))
            }
            int n = 0
            while (n < buf.length) {
                int r = f.read(buf, n, buf.length - n)
                if (r < 0) {
                    break
                }
                n += r
            }
            return n
        } catch (IOException ignored) {
            return -1   // the process exited while we read, or ptrace access was denied
        } finally {
            f.close()
        }
    }

    static String hex(byte[] digest) {
        char[] out = new char[12]
        for (int i = 0; i < 6; i++) {
            out[2 * i] = HEX[(digest[i] >> 4) & 15]
            out[2 * i + 1] = HEX[digest[i] & 15]
        }
        return new String(out)
    }

    /** The kernel's page size, from this process's first mapping (rss in stat counts pages). */
    static long pageSize() {
        byte[] buf = new byte[4096]
        int n = read('/proc/self/smaps', buf, 4096)
        String text = n > 0 ? new String(buf, 0, n, StandardCharsets.US_ASCII) : ''
        long kb = field(text.replace('KernelPageSize:', '\nKernelPageSize:').replaceAll('\nKernelPageSize: +', '\nKernelPageSize: ').replaceAll('(KernelPageSize: [0-9]+) kB', '$1'), '\nKernelPageSize: ')
        return kb > 0 ? kb * 1024 : 4096L
    }
}

/**
 * Processes, oldest first: by start time, then PID. A class rather than Comparator.comparingLong { ... }:
 * a closure given for a Java interface is called through a proxy and its metaclass at every comparison,
 * and an anonymous class gets dynamic methodMissing helpers.
 */
@CompileStatic
class OldestFirst implements Comparator<Rec> {
    @Override
    int compare(Rec a, Rec b) {
        int c = Long.compare(a.start, b.start)
        return c != 0 ? c : Integer.compare(a.pid, b.pid)
    }
}

/** Groups, most CPU first, then most memory (a class: see OldestFirst). */
@CompileStatic
class MostCpuFirst implements Comparator<Group> {
    @Override
    int compare(Group a, Group b) {
        int c = Double.compare(-a.dims[0], -b.dims[0])
        return c != 0 ? c : Double.compare(-a.dims[1], -b.dims[1])
    }
}

/** User names for the `user` tag: /etc/passwd, read again when it changes; a number if not found there. */
@CompileStatic
class Users {

    static Map<Integer, String> names(Map<String, Object> state) {
        Path passwd = Paths.get('/etc/passwd')
        long mtime = -1
        try {
            mtime = Files.getLastModifiedTime(passwd).toMillis()
        } catch (IOException ignored) {
        }
        Object kept = state.get('users')
        if (kept != null && Long.valueOf(mtime).equals(state.get('usersMtime'))) {
            return (Map<Integer, String>) kept
        }
        Map<Integer, String> m = new HashMap<>()
        try {
            for (String line : Files.readAllLines(passwd)) {
                String[] f = line.split(':', -1)
                if (f.length > 2 && f[2].isInteger()) {
                    m.putIfAbsent(Integer.parseInt(f[2]), f[0])
                }
            }
        } catch (IOException ignored) {
        }
        state.put('users', m)
        state.put('usersMtime', mtime)
        return m
    }

    /** The effective user of a process, from the Uid line of /proc/PID/status. */
    static String of(int pid, Map<Integer, String> names) {
        for (String line : ProcFiles.lines('/proc/' + String.valueOf(pid) + '/status')) {
            if (line.startsWith('Uid:')) {
                String[] f = line.substring(4).trim().split('\\s+')
                if (f.length > 1 && f[1].isInteger()) {
                    int uid = Integer.parseInt(f[1])
                    return names.getOrDefault(uid, String.valueOf(uid))
                }
            }
        }
        return 'unknown'
    }
}
