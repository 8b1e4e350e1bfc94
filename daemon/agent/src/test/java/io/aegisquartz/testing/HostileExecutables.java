package io.aegisquartz.testing;

/**
 * Executables written by a hostile author, shared by the tests that run them in the agent
 * ({@code ExecIsolationTest}) and in the exec host ({@code ExecHostTest}): the same attack must fail
 * the same way wherever an executable runs. Each writes the pids it wants to outlive the run to the
 * file named by its first argument.
 */
public final class HostileExecutables {

    /**
     * Burns CPU, leaves a child in its session, kills the wrapper (its parent), writes what the old
     * wrapper wrote on stderr (exit 0, no CPU) and stays: it must neither pass as 'ok' nor keep running.
     */
    public static final String FORGED_EXIT_MARKER = """
            #!/bin/sh
            echo $$ >> "$1"
            sleep 300 >/dev/null 2>&1 &
            echo $! >> "$1"
            i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done
            kill -s KILL $PPID
            printf '\\n@aegis-exit 0\\n0m0.00s 0m0.00s\\n0m0.00s 0m0.00s\\n' >&2
            echo 'FORGED OK - all fine | x=1'
            exec sleep 300
            """;

    /** Leaves its session with a process that keeps the output pipe, then exits 0. */
    public static final String SETSID_ESCAPER = """
            #!/bin/sh
            setsid sleep 300 &
            echo $! >> "$1"
            # Until it has left the session: the wrapper kills its process group as the plugin exits.
            while [ "$(ps -o sid= -p $!)" -eq "$(ps -o sid= -p $$)" ] 2>/dev/null; do :; done
            echo 'ESCAPED OK | x=1'
            """;

    /** 200 sleepers, each in a process group of its own (bash's 'set -m'), output to /dev/null. */
    public static final String FORK_200_SLEEPERS = """
            #!/bin/bash
            set -m
            i=0
            while [ $i -lt 200 ]; do
                sleep 300 >/dev/null 2>&1 </dev/null &
                echo $! >> "$1"
                i=$((i+1))
            done
            echo 'FORKED OK | n=200'
            """;

    /** Ignores SIGTERM and runs forever, with a child. */
    public static final String IGNORES_SIGTERM = """
            #!/bin/sh
            trap '' TERM
            echo $$ >> "$1"
            sleep 300 &
            echo $! >> "$1"
            while :; do sleep 1; done
            """;

    /** Prints a line, then floods its standard output until the pipe closes. */
    public static final String OUTPUT_FLOOD = "#!/bin/sh\necho 'FLOOD OK | x=1'\nexec cat /dev/zero\n";

    private HostileExecutables() {
    }
}
