package io.aegisquartz.plugin;

import io.aegisquartz.config.JobSpec;

/** A loaded plugin file, ready to run for any job that names it. */
public interface Plugin {

    PluginKind kind();

    /**
     * True if the plugin's code runs in the agent's own JVM, where it could end or freeze the agent (a
     * Groovy or JAR plugin with {@code isolation=inproc}); false for executables and for plugins that
     * run in the plugin host.
     */
    default boolean inAgentJvm() {
        return kind() != PluginKind.EXEC;
    }

    /**
     * Runs once for {@code job} under the job's limits. Expected failures (timeouts, crashes, bad output)
     * come back as a {@link RunResult} with a failure status; this method does not throw for them.
     *
     * @throws InterruptedException if the calling worker is interrupted (agent shutdown); the run has
     *                              then been stopped
     */
    RunResult run(JobSpec job, JobMemory memory) throws InterruptedException;
}
