// sampler.groovy: basic host metrics, read from /proc (no commands forked).
//
// Arguments: none.
// Emits (units in the sample's "units" map):
//   load    load1, load5, load15                           run-queue averages
//   memory  total_bytes, available_bytes, used_bytes (B), used_pct (%),
//           swap_total_bytes, swap_used_bytes (B)
//   cpu     user_pct, nice_pct, system_pct, iowait_pct, irq_pct, softirq_pct, steal_pct, idle_pct (%)
//           over the interval since the previous run; the first run after a start has no interval,
//           so it emits no cpu sample rather than a wrong one.
//   processes  running, blocked, total (from /proc/stat and /proc/loadavg)

def loadavg = ProcFiles.read('/proc/loadavg')
if (loadavg == null) {
    throw new IllegalStateException('/proc/loadavg is not readable; is /proc mounted?')
}
def l = loadavg.trim().split(/\s+/)
emit('load', [load1: l[0] as double, load5: l[1] as double, load15: l[2] as double])

def mem = ProcFiles.keyValues('/proc/meminfo')
long total = (mem.MemTotal ?: 0L) * 1024
// MemAvailable exists since Linux 3.14; older kernels get the classic free + buffers + cached estimate.
long available = (mem.MemAvailable != null ? mem.MemAvailable : (mem.MemFree ?: 0L) + (mem.Buffers ?: 0L) + (mem.Cached ?: 0L)) * 1024
long swapTotal = (mem.SwapTotal ?: 0L) * 1024
long swapUsed = swapTotal - (mem.SwapFree ?: 0L) * 1024
sample('memory')
        .value('total_bytes', total, 'B')
        .value('available_bytes', available, 'B')
        .value('used_bytes', total - available, 'B')
        .value('used_pct', total > 0 ? 100.0d * (total - available) / total : 0.0d, '%')
        .value('swap_total_bytes', swapTotal, 'B')
        .value('swap_used_bytes', swapUsed, 'B')
        .emit()

def stat = ProcFiles.lines('/proc/stat')
def cpuLine = stat.find { it.startsWith('cpu ') }
// Fields: user nice system idle iowait irq softirq steal (guest time is already inside user/nice).
def now = cpuLine.trim().split(/\s+/)[1..8].collect { it as long }
def prev = state.cpu
state.cpu = now
if (prev != null) {
    def d = (0..7).collect { now[it] - prev[it] }
    long sum = d.sum()
    // A negative delta means the counters restarted (a reboot we slept through, a VM migration): skip.
    if (sum > 0 && d.every { it >= 0 }) {
        def names = ['user_pct', 'nice_pct', 'system_pct', 'idle_pct', 'iowait_pct', 'irq_pct', 'softirq_pct', 'steal_pct']
        def b = sample('cpu')
        names.eachWithIndex { n, i -> b.value(n, 100.0d * d[i] / sum, '%') }
        b.emit()
    }
}

def running = stat.find { it.startsWith('procs_running ') }?.split(' ')?.getAt(1) as Long
def blocked = stat.find { it.startsWith('procs_blocked ') }?.split(' ')?.getAt(1) as Long
def totalProcs = l[3].split('/')[1] as long
emit('processes', [running: running ?: 0, blocked: blocked ?: 0, total: totalProcs])
