// hello.groovy: example Groovy plugin. Arguments, a counter kept in `state`, tags, a status, /proc.
//
// Try it:    aegis-quartz run-plugin user/examples/hello.groovy --greeting hi
// Schedule:  [*/10 * * * * ?] user/examples/hello.groovy --greeting hi
//
// Arguments: [--greeting WORD] [--min-uptime SECONDS]
//   --greeting WORD        the greeting to count (default: hello)
//   --min-uptime SECONDS   a host up for less than this is reported as a warning (default: 600)
//
// Emits:
//   greeting  runs    runs of this job so far (kept in `state`: restarts at 1 when the agent restarts
//                     or this file changes)
//             length  characters in WORD
//             tags: greeting=WORD
//   uptime    uptime_s, idle_s (s) from /proc/uptime (idle_s is summed over all CPUs)
//             status ok, or warning if uptime_s is below --min-uptime; the message says which

def usage = 'usage: hello.groovy [--greeting WORD] [--min-uptime SECONDS]'
def greeting = 'hello'
double minUptime = 600
// `args` is a List<String>: the words after the plugin path on the cron line.
for (int i = 0; i < args.size(); i += 2) {
    def option = args[i]
    def value = i + 1 < args.size() ? args[i + 1] : null
    if (option == '--greeting' && value) {
        greeting = value
    } else if (option == '--min-uptime' && value?.isDouble()) {
        minUptime = value as double
    } else {
        // An exception ends the run with status error and this message (plus the script line).
        throw new IllegalArgumentException("bad argument '$option'; $usage")
    }
}

// `state` survives between runs of this job; a plain local variable would start over every run.
state.runs = (state.runs ?: 0) + 1
if (state.runs == 1) {
    log("counting '$greeting' greetings")    // goes to the agent log, prefixed with the job name
}
emit('greeting', [runs: state.runs, length: greeting.length()], [greeting: greeting])

// ProcFiles reads /proc and /sys safely: null if the file is missing or unreadable, never a hang.
def text = ProcFiles.read('/proc/uptime')
if (text == null) {
    throw new IllegalStateException('/proc/uptime is not readable; is /proc mounted?')
}
def fields = text.trim().split(/\s+/)
double up = fields[0] as double
double idle = fields[1] as double
long secs = up as long
def upFor = String.format('%d d %02d:%02d', secs.intdiv(86400), (secs % 86400).intdiv(3600), (secs % 3600).intdiv(60))
def uptime = sample('uptime')
        .value('uptime_s', up, 's')
        .value('idle_s', idle, 's')
if (up < minUptime) {
    uptime.status(Status.WARNING).message("up for only $upFor (less than ${minUptime as long} s): rebooted recently?")
} else {
    uptime.status(Status.OK).message("up for $upFor")
}
uptime.emit()
