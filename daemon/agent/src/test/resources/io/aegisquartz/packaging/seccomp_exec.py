#!/usr/bin/python3
"""Runs a command under the system call filter of a systemd unit, as systemd would apply it.

Usage: seccomp_exec.py UNIT_FILE COMMAND [ARG ...]

For tests on machines where systemd is not the init: reads the unit's SystemCallFilter= lines in
order (@groups expanded by 'systemd-analyze syscall-filter', '~' removing from the allow-list),
allows only the native architecture (SystemCallArchitectures=native) and makes any other system call
fail with the errno of SystemCallErrorNumber= (or kills the process where the unit sets none), as
systemd does. Needs python3-seccomp.
"""
import errno
import os
import subprocess
import sys

import seccomp


def expand(name, seen):
    if not name.startswith("@"):
        return {name}
    if name in seen:
        return set()
    seen.add(name)
    out = subprocess.run(["systemd-analyze", "syscall-filter", name], capture_output=True, text=True, check=True).stdout
    calls = set()
    for line in out.splitlines():
        # Members are indented; the group's name and its '#' description are not.
        if line[:1].isspace() and not line.strip().startswith("#"):
            calls |= expand(line.strip(), seen)
    return calls


def allowed(unit):
    calls = set()
    for line in open(unit, encoding="utf-8"):
        key, _, value = line.strip().partition("=")
        if key != "SystemCallFilter":
            continue
        deny = value.startswith("~")
        names = set()
        for word in value.lstrip("~").split():
            names |= expand(word, set())
        calls = calls - names if deny else calls | names
    return calls


def error_number(unit):
    for line in open(unit, encoding="utf-8"):
        key, _, value = line.strip().partition("=")
        if key == "SystemCallErrorNumber":
            return getattr(errno, value.strip())
    return None


def main():
    unit, command = sys.argv[1], sys.argv[2:]
    number = error_number(unit)
    f = seccomp.SyscallFilter(defaction=seccomp.KILL_PROCESS if number is None else seccomp.ERRNO(number))
    for name in sorted(allowed(unit)):
        try:
            f.add_rule(seccomp.ALLOW, name)
        except (RuntimeError, ValueError):
            pass  # not a system call of this architecture or kernel
    f.load()
    os.execvp(command[0], command)


main()
