#!/bin/sh
# hello.sh: example executable plugin printing JSON lines (one sample per line).
#
# Try it:    aegis-quartz run-plugin user/examples/hello.sh
# Schedule:  [0 * * * * ?] timeout=5s cpu=2s user/examples/hello.sh
#
# Arguments: [MAX_LOAD]
#   MAX_LOAD  a 1-minute load average at or above this is reported as a warning
#             (default: the number of online CPUs)
#
# Emits:
#   hello  args (number of arguments), timeout_s (s, from $AEGIS_TIMEOUT_SECONDS)
#          tags: job=$AEGIS_JOB, user=the user the plugin runs as
#   load   load1, load5, load15, max_load, runnable, threads, from /proc/loadavg
#          (runnable and threads: kernel scheduling entities now runnable / in existence)
#          status ok, or warning if load1 >= MAX_LOAD; the message says which
# A MAX_LOAD that is not a number gives one 'hello' sample with status unknown, and exit code 3.
#
# The agent runs this with a clean environment (PATH, LANG=C, LC_ALL=C, HOME=this directory,
# TMPDIR=/tmp, AEGIS_JOB, AEGIS_TIMEOUT_SECONDS), stdin from /dev/null, in this directory.

# A JSON string, escaping the characters a job or user name might hold.
json_string() {
    printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"
}

max_load=${1:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)}
case $max_load in
    '' | . | *[!0-9.]* | *.*.*)
        printf '{"metric": "hello", "status": "unknown", "message": %s}\n' \
            "$(json_string "MAX_LOAD must be a number, not '$max_load'")"
        exit 3 ;;
esac
# sh has no floating point: awk normalises the number (".5" is not valid JSON, "0.5" is) and compares.
max_load=$(awk -v m="$max_load" 'BEGIN { print m + 0 }')

user=$(id -un 2>/dev/null || id -u)
printf '{"metric": "hello", "values": {"args": %d, "timeout_s": %d}, "units": {"timeout_s": "s"}, "tags": {"job": %s, "user": %s}}\n' \
    "$#" "${AEGIS_TIMEOUT_SECONDS:-0}" "$(json_string "${AEGIS_JOB:-}")" "$(json_string "$user")"

# /proc/loadavg: "0.52 0.58 0.59 2/1234 56789"
read -r load1 load5 load15 entities _ < /proc/loadavg
if awk -v l="$load1" -v m="$max_load" 'BEGIN { exit !(l + 0 >= m + 0) }'; then
    status=warning
    message="load1 $load1 is at or above $max_load"
else
    status=ok
    message="load1 $load1 is below $max_load"
fi
printf '{"metric": "load", "values": {"load1": %s, "load5": %s, "load15": %s, "max_load": %s, "runnable": %s, "threads": %s}, "status": "%s", "message": "%s"}\n' \
    "$load1" "$load5" "$load15" "$max_load" "${entities%/*}" "${entities#*/}" "$status" "$message"
