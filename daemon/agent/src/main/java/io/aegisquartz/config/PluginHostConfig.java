package io.aegisquartz.config;

import java.nio.file.Path;
import java.time.Duration;

/**
 * The plugin host's settings ([plugin_host] in aegis_config.ini; docs/PLUGIN-HOST.md).
 *
 * @param heapMax  the host JVM's heap cap in bytes (-Xmx)
 * @param liveness while runs are in flight, the longest the host may go without answering before it
 *                 counts as frozen and is killed
 * @param socket   where a host started by someone else (systemd) listens; null: the agent starts the
 *                 host as its own child process
 */
public record PluginHostConfig(long heapMax, Duration liveness, Path socket) {
}
