package io.aegisquartz.agent;

import io.aegisquartz.config.AgentSettings;
import io.aegisquartz.lock.ProcessLock;

import java.io.IOException;
import java.nio.file.Path;

/**
 * One agent per home: the lock on {@code agent.lock} in {@code [agent] state_dir}, taken before the
 * agent writes anything (log, identity, samples) and held for the life of its JVM.
 *
 * <p>Whatever the mode: the spool has a lock of its own, but an agent writing to a local samples file
 * would otherwise run beside a second one and every sample would be written twice. The samples file
 * and the spool also keep their own locks, for two agents whose state directories differ but which
 * point at the same samples file or spool.
 */
public final class AgentLock {

    /** The lock file's name in the state directory. */
    public static final String FILE = "agent.lock";

    /** The lock, reachable for the JVM's life: an unreachable channel would be closed by its cleaner, and the lock with it. */
    private static volatile ProcessLock held;

    private AgentLock() {
    }

    /**
     * Takes the lock, never to be released: the kernel drops it when the JVM ends, however it ends.
     *
     * @throws Agent.StartException naming the agent that holds it, or why the state directory cannot be used
     */
    public static void acquire(AgentSettings settings) throws Agent.StartException {
        Path file = settings.stateDir().resolve(FILE);
        try {
            held = ProcessLock.acquire(file, "state directory " + settings.stateDir());
        } catch (ProcessLock.Busy e) {
            long pid = e.holder().pid();
            throw new Agent.StartException("another agent is running on this home: " + e.holder().describe() + " (it holds "
                    + file + "); stop it first" + (pid > 0 ? " ('kill " + pid + "', or 'systemctl stop aegis-quartz' for the service)" : "")
                    + ", or give this agent a home of its own (--home DIR, or its own [agent] state_dir, log, samples file and spool)");
        } catch (IOException e) {
            throw new Agent.StartException("[agent] state_dir: cannot lock " + file + ": " + e.getMessage()
                    + " (fix: make " + settings.stateDir() + " writable by this user, or point state_dir elsewhere)");
        }
    }
}
