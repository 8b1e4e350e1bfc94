package io.aegisquartz.alert.channel;

import io.aegisquartz.config.JobOptions;
import io.aegisquartz.plugin.exec.ExecOutcome;
import io.aegisquartz.plugin.exec.ExecSpec;
import io.aegisquartz.plugin.exec.ProcessRunner;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Any command (an SMS gateway's client, a pager script): run with the notification's JSON form on
 * standard input, exactly as a plugin runs (its own session and cgroup, RLIMIT_CPU, the wall-time limit,
 * memory_max and pids_max, no capabilities, a clean environment), exit code 0 meaning delivered. The
 * JSON is handed over in a file (mode 0600, removed after the run) that the command's standard input
 * is redirected from: the plugin runner keeps the command's own standard input for its status channel.
 */
final class ExecChannel implements Channel {

    private final String name;
    private final List<String> command;
    private final ProcessRunner runner;
    private final JobOptions limits;
    private final Duration timeout;
    private final Path scratch;
    private final MessageText text;

    ExecChannel(String name, List<String> command, ProcessRunner runner, JobOptions limits, Duration timeout, Path scratch,
                MessageText text) {
        this.name = name;
        this.command = List.copyOf(command);
        this.runner = runner;
        this.limits = limits;
        this.timeout = timeout;
        this.scratch = scratch;
        this.text = text;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String type() {
        return "exec";
    }

    @Override
    public void send(Notification n) throws DeliveryException {
        Path input;
        try {
            Files.createDirectories(scratch);
            input = scratch.resolve(n.id() + ".json");
            Files.deleteIfExists(input);
            Files.createFile(input, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.writeString(input, NotificationJson.of(n, text) + "\n", StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new DeliveryException("exec channel: cannot write the notification for the command in " + scratch + ": " + e.getMessage());
        }
        try {
            List<String> argv = new ArrayList<>();
            argv.add("/bin/sh");
            argv.add("-c");
            argv.add("exec \"$0\" \"$@\" < \"$AEGIS_NOTIFICATION_FILE\"");
            argv.addAll(command);
            Map<String, String> env = Map.of("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "LANG", "C.UTF-8", "AEGIS_NOTIFICATION_FILE", input.toString(), "AEGIS_NOTIFICATION_ID", n.id(),
                    "AEGIS_CHANNEL", name);
            ExecOutcome o = runner.run(new ExecSpec(argv, scratch, env, timeout, limits.cpu(), limits.killGrace(), 64 * 1024, null,
                    limits.memoryMax(), limits.pidsMax(), "alert-channel:" + name));
            if (o.ending() == ExecOutcome.Ending.EXITED && o.exitCode() == 0) {
                return;
            }
            String why = switch (o.ending()) {
                case EXITED -> "exited with " + o.exitCode();
                case TIMEOUT -> "stopped at its time limit of " + io.aegisquartz.config.Units.format(timeout);
                case CPU_LIMIT -> "stopped at its CPU limit";
                case KILLED -> "killed" + (o.detail() == null ? "" : ": " + o.detail());
                case NOT_STARTED -> "did not start" + (o.detail() == null ? "" : ": " + o.detail());
            };
            String err = o.stderr() == null ? "" : o.stderr().strip();
            throw new DeliveryException("exec channel command " + MessageText.clean(command.get(0)) + " " + why
                    + (err.isEmpty() ? "" : "; stderr: " + HttpPoster.quote(err)));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DeliveryException("exec channel: interrupted (the agent is stopping)");
        } finally {
            try {
                Files.deleteIfExists(input);
            } catch (IOException e) {
                // A leftover is overwritten by the next attempt of the same id and is the agent's own file.
            }
        }
    }
}
