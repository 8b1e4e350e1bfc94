package io.aegisquartz.testing;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.util.ArrayList;
import java.util.List;

/**
 * Processes a test started, killed with everything they started after each test, whatever its
 * outcome, so that no agent or plugin outlives the test that made it. Register with
 * {@code @RegisterExtension final StartedProcesses started = new StartedProcesses();}.
 */
public final class StartedProcesses implements AfterEachCallback {

    private final List<Process> processes = new ArrayList<>();

    /** Remembers {@code p} for killing after the test; returns it. */
    public Process add(Process p) {
        processes.add(p);
        return p;
    }

    /** The processes started so far and still remembered. */
    public List<ProcessHandle> handles() {
        return processes.stream().map(Process::toHandle).toList();
    }

    @Override
    public void afterEach(ExtensionContext context) {
        for (Process p : processes) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
        processes.clear();
    }
}
