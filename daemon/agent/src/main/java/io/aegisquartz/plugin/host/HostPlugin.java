package io.aegisquartz.plugin.host;

import io.aegisquartz.config.JobSpec;
import io.aegisquartz.plugin.JobMemory;
import io.aegisquartz.plugin.Plugin;
import io.aegisquartz.plugin.PluginException;
import io.aegisquartz.plugin.PluginKind;
import io.aegisquartz.plugin.RunResult;
import io.aegisquartz.plugin.jar.JarPlugin;

import java.nio.file.Path;
import java.util.List;

/**
 * A Groovy or JAR plugin that runs in the plugin host. The agent keeps what it sends the host (a
 * script's compiled classes; for a JAR, where to read it) and, for a JAR, the samplers the host found.
 * A job's {@code state} and sampler instance live in the host, and start empty in a new one.
 */
public final class HostPlugin implements Plugin, AutoCloseable {

    private final PluginHostClient client;
    final long id;
    final Path file;
    private final PluginKind kind;
    final HostConnection.FrameSource load;
    volatile List<String> samplers = List.of();
    volatile boolean closed;

    HostPlugin(PluginHostClient client, long id, Path file, PluginKind kind, HostConnection.FrameSource load) {
        this.client = client;
        this.id = id;
        this.file = file;
        this.kind = kind;
        this.load = load;
    }

    @Override
    public PluginKind kind() {
        return kind;
    }

    /** Its code runs in the plugin host: it can end or freeze the host, never the agent. */
    @Override
    public boolean inAgentJvm() {
        return false;
    }

    /** Checks that the plugin can serve {@code job}: for a JAR, that the sampler it asks for is there. */
    public void check(JobSpec job) throws PluginException {
        if (kind == PluginKind.JAR) {
            JarPlugin.choose(file, samplers, job);
        }
    }

    @Override
    public RunResult run(JobSpec job, JobMemory memory) throws InterruptedException {
        return client.run(this, job);
    }

    @Override
    public void close() {
        closed = true;
        client.unload(this);
    }
}
