#!/usr/bin/env python3
"""hello.py: example executable plugin with Nagios-style output: free space of a file system.

Try it:    aegis-quartz run-plugin user/examples/hello.py -w 20 -c 10 /
Schedule:  [0 30 2 L * ?] misfire=run_once user/examples/hello.py -w 20 -c 10 /

Arguments: [-w PCT] [-c PCT] [PATH]
  -w PCT  warning when less than PCT percent of the space is free (default 20)
  -c PCT  critical when less than PCT percent is free (default 10); at most the -w value
  PATH    any path on the file system to check (default /)

Output, as Nagios plugins print it: one line of text, then '|' and performance data (one line,
wrapped here):
  DISK OK - 45.2% free on /: 12.2 GiB of 27.0 GiB | used_pct=54.8%;80;90;0;100
  used_bytes=15887084028B;23192823398;26091926323;0;28991029248
and exit code 0 ok, 1 warning, 2 critical, 3 unknown (bad arguments, PATH not found).
Sizes are computed like df: used / (used + available to unprivileged users).
The agent turns this into one sample: metric hello (the file name), the status from the exit code, the
text as its message, and values used_pct (%), used_pct.warn, used_pct.crit, used_pct.min,
used_pct.max, used_bytes (B), used_bytes.warn, used_bytes.crit, used_bytes.min, used_bytes.max.
"""

import argparse
import os
import sys

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
LABELS = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}


class Usage(Exception):
    pass


class Parser(argparse.ArgumentParser):
    # argparse exits with code 2 on a bad argument, which the agent would read as critical.
    def error(self, message):
        raise Usage(message)


def percent(text):
    value = float(text.rstrip("%"))
    if not 0 <= value <= 100:
        raise ValueError(text)
    return value


def gib(n):
    return "%.1f GiB" % (n / 2**30)


def check(args):
    st = os.statvfs(args.path)
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    avail = st.f_bavail * st.f_frsize
    if used + avail <= 0:
        return UNKNOWN, "%s has no size (not a disk file system?)" % args.path, ""
    used_pct = 100.0 * used / (used + avail)
    free_pct = 100.0 - used_pct
    status = CRITICAL if free_pct < args.critical else WARNING if free_pct < args.warning else OK
    # Perfdata thresholds are in the value's own terms: "used above this" is bad.
    size = used + avail
    perf = "used_pct=%.1f%%;%g;%g;0;100 used_bytes=%dB;%d;%d;0;%d" % (
        used_pct, 100 - args.warning, 100 - args.critical,
        used, size * (100 - args.warning) / 100, size * (100 - args.critical) / 100, size)
    text = "%.1f%% free on %s: %s of %s" % (free_pct, args.path, gib(avail), gib(size))
    return status, text, perf


def main(argv):
    parser = Parser(prog="hello.py", description="Nagios-style free-space check (an aegis-quartz example).")
    parser.add_argument("-w", dest="warning", type=percent, default=20.0, metavar="PCT",
                        help="warning below PCT percent free (default 20)")
    parser.add_argument("-c", dest="critical", type=percent, default=10.0, metavar="PCT",
                        help="critical below PCT percent free (default 10)")
    parser.add_argument("path", nargs="?", default="/", metavar="PATH",
                        help="a path on the file system to check (default /)")
    try:
        args = parser.parse_args(argv)
        if args.critical > args.warning:
            raise Usage("-c %g is above -w %g; critical must be the smaller free percentage" % (args.critical, args.warning))
        status, text, perf = check(args)
    except Usage as e:
        status, text, perf = UNKNOWN, "%s; %s" % (e, parser.format_usage().strip()), ""
    except OSError as e:
        status, text, perf = UNKNOWN, "cannot check %s: %s" % (e.filename, e.strerror), ""
    print("DISK %s - %s%s" % (LABELS[status], text, " | " + perf if perf else ""))
    return status


if __name__ == "__main__":
    # An uncaught exception would exit with code 1, which the agent would read as warning:
    # anything unexpected is reported as unknown instead.
    try:
        sys.exit(main(sys.argv[1:]))
    except Exception as e:  # noqa: BLE001
        print("DISK UNKNOWN - %s: %s" % (type(e).__name__, e))
        sys.exit(UNKNOWN)
