package io.aegisquartz.plugin.exec;

/**
 * The processes of one executable run, as the agent can find them: its cgroup ({@link RunCgroup}) or,
 * where there is none, its process session ({@link ProcessTree}).
 */
interface RunScope {

    /** SIGTERM to every process of the run; how many were signalled. */
    int terminate();

    /** SIGKILL to every process of the run until none is left (bounded at a few seconds); true if none is. */
    boolean kill();

    /** True if no process of the run is left. */
    boolean isEmpty();

    /** CPU time the run's processes used so far; -1 if unknown. */
    long cpuNanos();

    /** True if {@link #cpuNanos} counts every process of the run, those that exited included. */
    boolean exactCpu();

    /** What the run's resource limits did, for the run's message ("" if nothing). */
    default String limitNotes() {
        return "";
    }

    /** True if the kernel's OOM killer ended a process at the run's memory limit. */
    default boolean oomKilled() {
        return false;
    }

    /** Frees what the scope holds (a cgroup directory); true if nothing is left behind. */
    default boolean close() {
        return true;
    }
}
