# Readings of a process tree from /proc, shared by the shell benchmarks in bench/ (sourced, not run).

tree() { # PID and all its descendants
    local p=$1
    echo "$p"
    for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do tree "$c"; done
}
ticks() { # utime+stime+cutime+cstime of PID (children it has waited for included)
    awk '{s = substr($0, index($0, ")") + 2); split(s, f, " "); print f[12] + f[13] + f[14] + f[15]}' /proc/"$1"/stat
}
memory() { # "PSS_kB RSS_kB anonymous_kB threads" summed over the tree
    local pss=0 rss=0 anon=0 thr=0 p
    for p in $(tree "$1"); do
        pss=$((pss + $(awk '/^Pss:/ {print $2}' /proc/"$p"/smaps_rollup 2>/dev/null || echo 0)))
        rss=$((rss + $(awk '/^Rss:/ {print $2}' /proc/"$p"/smaps_rollup 2>/dev/null || echo 0)))
        anon=$((anon + $(awk '/^Anonymous:/ {print $2}' /proc/"$p"/smaps_rollup 2>/dev/null || echo 0)))
        thr=$((thr + $(ls /proc/"$p"/task | wc -l)))
    done
    echo "$pss $rss $anon $thr"
}
