// check_process.groovy: counts the processes with a name or a command line, the job of
// `ps -ef | grep "[p]ython /alidata/fms/app.py"` or check_process.py mysql, and reports critical when
// there are too few or too many. Reads /proc; forks nothing.
//
// Try it:    aegis-quartz run-plugin default/check_process.groovy --name sshd
// Schedule:  one check per cron line, each with its own name=, e.g. in conf/aegis_quartz.conf.user:
//   [0 * * * * ?] name=mysqld_up default/check_process.groovy --name mysqld --min 1
//   [0 * * * * ?] name=fms_app default/check_process.groovy --cmdline 'python /alidata/fms/app.py' --min 1 --max 4
//
// Arguments: (--name NAME | --cmdline REGEX) [--min N] [--max N]
//   --name NAME       processes called NAME: the kernel's name for it (comm, as in /proc/PID/comm and
//                     `ps -o comm`, which the kernel cuts to 15 characters; a longer NAME matches on its
//                     first 15), or the file name of its argv[0]. So `--name mysqld` finds
//                     /usr/sbin/mysqld, and `--name app.py` a script started through its #! line.
//                     Kernel threads match by name too (`--name kswapd0`).
//   --cmdline REGEX   processes whose command line (the arguments joined by spaces) contains a match
//                     of the Java regular expression REGEX, as grep finds it in `ps -ef`. Kernel
//                     threads have no command line and never match.
//   --min N           fewest matching processes that are fine (default 1)
//   --max N           most matching processes that are fine (default: no maximum)
//
// It never counts itself: the agent's own JVM and every process descended from it (commands that this
// or another plugin runs) are left out. Zombies (exited, not yet reaped by their parent) are not
// counted either: they hold no resources but a PID.
//
// Emits:
//   process_check  count            matching processes
//                  rss_bytes (B)    resident memory, summed over them
//                  threads          threads, summed over them
//                  tags: name=NAME or cmdline=REGEX (cut to 200 characters)
//                  status critical if count < --min or count > --max, ok otherwise; the message has the
//                  count, the limits and the matching PIDs (the first 20, then "and N more").

import groovy.transform.CompileStatic

import java.nio.charset.StandardCharsets
import java.util.regex.Pattern
import java.util.regex.PatternSyntaxException

def usage = 'usage: check_process.groovy (--name NAME | --cmdline REGEX) [--min N] [--max N]'
String name = null
Pattern regex = null
String regexText = null
long min = 1
long max = Long.MAX_VALUE
for (int i = 0; i < args.size(); i += 2) {
    def option = args[i]
    def value = i + 1 < args.size() ? args[i + 1] : null
    if (value == null) {
        throw new IllegalArgumentException("'$option' needs a value; $usage")
    }
    switch (option) {
        case '--name':
            if (value.isEmpty() || value.contains('/')) {
                throw new IllegalArgumentException("--name '$value': give a process name without a directory, e.g. --name mysqld; $usage")
            }
            name = value
            break
        case '--cmdline':
            try {
                regex = Pattern.compile(value)
            } catch (PatternSyntaxException e) {
                throw new IllegalArgumentException("--cmdline '$value' is not a valid regular expression: ${e.description}; $usage")
            }
            regexText = value
            break
        case '--min':
        case '--max':
            if (!value.isLong() || (value as long) < 0) {
                throw new IllegalArgumentException("$option '$value': give a whole number of processes, 0 or more; $usage")
            }
            if (option == '--min') {
                min = value as long
            } else {
                max = value as long
            }
            break
        default:
            throw new IllegalArgumentException("bad argument '$option'; $usage")
    }
}
if ((name == null) == (regex == null)) {
    throw new IllegalArgumentException("give exactly one of --name NAME and --cmdline REGEX; $usage")
}
if (max < min) {
    throw new IllegalArgumentException("--max $max is below --min $min; $usage")
}

// Command lines are cached by PID, start time and comm: cheaper than reading every process's cmdline
// each run, and safe, since a PID with the same start time and comm is the same program (an exec()
// changes comm; a reused PID has another start time).
Map<Integer, Object[]> cmdlines = (Map<Integer, Object[]>) state.computeIfAbsent('cmdlines', { new HashMap<Integer, Object[]>() })
if (state.pageSize == null) {
    state.pageSize = Procs.pageSize()
}
List<long[]> found = Procs.match(name, regex, ProcessHandle.current().pid(), cmdlines, (long) state.pageSize)

long rss = 0
long threads = 0
List<Long> pids = []
for (long[] p : found) {
    pids << p[0]
    rss += p[1]
    threads += p[2]
}
String what = name != null ? "named $name" : "matching /$regexText/"
String limits = max == Long.MAX_VALUE ? "at least $min" : min == max ? "exactly $min" : min == 0 ? "at most $max" : "$min to $max"
String pidList = pids.isEmpty() ? '' : ': PIDs ' + pids.take(20).join(' ') + (pids.size() > 20 ? " and ${pids.size() - 20} more" : '')
def s = sample('process_check')
        .value('count', pids.size())
        .value('rss_bytes', rss, 'B')
        .value('threads', threads)
        .tag(name != null ? 'name' : 'cmdline', name != null ? name : (regexText.length() > 200 ? regexText.substring(0, 200) : regexText))
String text = "${pids.size()} ${pids.size() == 1 ? 'process' : 'processes'} $what, expected $limits$pidList"
s.status(pids.size() < min || pids.size() > max ? Status.CRITICAL : Status.OK).message(text)
s.emit()

/** The /proc walk, statically compiled: it reads every process's stat file each run. */
@CompileStatic
class Procs {

    static final int KTHREAD = 0x00200000   // PF_KTHREAD in the flags field of /proc/PID/stat
    // ASCII codes, for parsing bytes without decoding them
    static final int NEWLINE = 10, SPACE = 32, LPAREN = 40, RPAREN = 41, MINUS = 45, ZERO = 48, NINE = 57, DEAD = 88, ZOMBIE = 90

    /**
     * Matching processes as {pid, rss bytes, threads}, sorted by PID, without this JVM, its
     * descendants, and zombies.
     */
    static List<long[]> match(String name, Pattern regex, long self, Map<Integer, Object[]> cache, long pageSize) {
        String[] entries = new File('/proc').list()
        byte[] buf = new byte[65536]
        Map<Integer, Integer> parents = new HashMap<>(entries.length * 2)
        List<long[]> candidates = new ArrayList<>()
        Set<Integer> seen = new HashSet<>()
        for (String e : entries) {
            int pid = pid(e)
            if (pid <= 0) {
                continue
            }
            int n = read('/proc/' + e + '/stat', buf)
            int close = lastIndexOf(buf, n, RPAREN)
            if (close < 0) {
                continue    // gone since the listing
            }
            int open = indexOf(buf, n, LPAREN)
            String comm = new String(buf, open + 1, close - open - 1, StandardCharsets.UTF_8)
            // Fields after the ')': 3 state, 4 ppid, 9 flags, 20 num_threads, 22 starttime, 24 rss.
            long[] f = fields(buf, close + 2, n, 24)
            int ppid = (int) f[4]
            parents.put(pid, ppid)
            seen.add(pid)
            int state = buf[close + 2]
            if (state == ZOMBIE || state == DEAD) {
                continue
            }
            boolean kthread = (f[9] & KTHREAD) != 0
            boolean hit
            if (name != null) {
                hit = comm == name || (name.length() > 15 && comm == name.substring(0, 15))
                if (!hit && !kthread) {
                    String argv0 = argv0(cmdline(pid, f[22], comm, cache, buf))
                    hit = argv0 == name
                }
            } else {
                hit = !kthread && regex.matcher(cmdline(pid, f[22], comm, cache, buf)).find()
            }
            if (hit) {
                candidates.add([(long) pid, f[24] * pageSize, f[20]] as long[])
            }
        }
        cache.keySet().retainAll(seen)
        List<long[]> out = new ArrayList<>()
        for (long[] c : candidates) {
            if (!descends((int) c[0], (int) self, parents)) {
                out.add(c)
            }
        }
        out.sort { long[] a, long[] b -> Long.compare(a[0], b[0]) }
        return out
    }

    /** True if pid is self or below it; the walk up stops at PID 1, a missing parent or a loop. */
    static boolean descends(int pid, int self, Map<Integer, Integer> parents) {
        int p = pid
        for (int depth = 0; depth < 4096 && p > 1; depth++) {
            if (p == self) {
                return true
            }
            Integer up = parents.get(p)
            if (up == null) {
                return false
            }
            p = up.intValue()
        }
        return false
    }

    /** The command line with its arguments joined by spaces ("" for kernel threads and zombies). */
    static String cmdline(int pid, long start, String comm, Map<Integer, Object[]> cache, byte[] buf) {
        Object[] c = cache.get(pid)
        if (c != null && ((Long) c[0]).longValue() == start && comm == c[1]) {
            return (String) c[2]
        }
        int n = read('/proc/' + pid + '/cmdline', buf)
        while (n > 0 && buf[n - 1] == 0) {
            n--
        }
        for (int i = 0; i < n; i++) {
            if (buf[i] == 0) {
                buf[i] = (byte) SPACE
            }
        }
        String text = n > 0 ? new String(buf, 0, n, StandardCharsets.UTF_8) : ''
        cache.put(pid, [start, comm, text] as Object[])
        return text
    }

    /** The file name of the first word of a command line. */
    static String argv0(String cmdline) {
        int end = cmdline.indexOf(' ')
        String first = end < 0 ? cmdline : cmdline.substring(0, end)
        return first.substring(first.lastIndexOf('/') + 1)
    }

    /**
     * Reads a small /proc file into buf: the byte count, or -1 if it is gone or unreadable. Plain
     * FileInputStream and one reused buffer, because this runs for every process.
     */
    static int read(String path, byte[] buf) {
        FileInputStream in
        try {
            in = new FileInputStream(path)
        } catch (IOException ignored) {
            return -1
        }
        try {
            int n = 0
            while (n < buf.length) {
                int r = in.read(buf, n, buf.length - n)
                if (r < 0) {
                    break
                }
                n += r
            }
            return n
        } catch (IOException ignored) {
            return -1   // the process exited while we read
        } finally {
            in.close()
        }
    }

    static int pid(String s) {
        int v = 0
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i)
            if (c < ZERO || c > NINE || i > 9) {
                return -1
            }
            v = v * 10 + (c - ZERO)
        }
        return v
    }

    static int indexOf(byte[] b, int n, int c) {
        for (int i = 0; i < n; i++) {
            if (b[i] == c) {
                return i
            }
        }
        return -1
    }

    static int lastIndexOf(byte[] b, int n, int c) {
        for (int i = n - 1; i >= 0; i--) {
            if (b[i] == c) {
                return i
            }
        }
        return -1
    }

    /**
     * The numeric fields of a stat line from `from` (field 3, the state) on, indexed by their field
     * number as proc(5) counts them (f[4] is the ppid); non-numeric fields are 0.
     */
    static long[] fields(byte[] b, int from, int n, int last) {
        long[] f = new long[last + 1]
        int field = 3
        int i = from
        while (i < n && field <= last) {
            long v = 0
            boolean neg = false
            while (i < n && b[i] != SPACE && b[i] != NEWLINE) {
                int c = b[i]
                if (c == MINUS) {
                    neg = true
                } else if (c >= ZERO && c <= NINE) {
                    v = v * 10 + (c - ZERO)
                }
                i++
            }
            f[field++] = neg ? -v : v
            i++
        }
        return f
    }

    /** The kernel's page size, from the first mapping of this process (rss in stat counts pages). */
    static long pageSize() {
        byte[] buf = new byte[4096]
        int n = read('/proc/self/smaps', buf)
        String text = n > 0 ? new String(buf, 0, n, StandardCharsets.US_ASCII) : ''
        int at = text.indexOf('KernelPageSize:')
        if (at >= 0) {
            String rest = text.substring(at + 15).trim()
            String num = rest.substring(0, rest.indexOf(' '))
            if (num.isLong()) {
                return Long.parseLong(num) * 1024
            }
        }
        return 4096
    }
}
