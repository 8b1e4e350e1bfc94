# Turns conf/aegis_config.ini (every key commented out, showing its default) into the packaged one:
# each "section.key=value" in -v set="a.b=x;c.d=y" replaces the commented default of that key, so
# the comments and every other default stay exactly as in the source file. Fails if a key is not
# found, so a renamed setting breaks the build rather than the installed agent.
BEGIN {
    n = split(set, pairs, ";")
    for (i = 1; i <= n; i++) {
        eq = index(pairs[i], "=")
        want[substr(pairs[i], 1, eq - 1)] = substr(pairs[i], eq + 1)
    }
    print "; Installed by the aegis-quartz package: the paths below point at its layout (README.md,"
    print "; \"Install from the RPM\"). Package upgrades keep your edits to this file."
}
/^\[[a-z_]+\]/ { section = substr($1, 2, length($1) - 2) }
/^; [a-z_]+ =/ {
    id = section "." $2
    if (id in want) {
        print $2 " = " want[id]
        done[id] = 1
        next
    }
}
{ print }
END {
    for (id in want) {
        if (!(id in done)) {
            dot = index(id, ".")
            print "installed-ini.awk: no '; " substr(id, dot + 1) " =' line in [" substr(id, 1, dot - 1) "] of the source file" > "/dev/stderr"
            exit 1
        }
    }
}
