package io.aegisquartz.control;

import io.aegisquartz.config.AgentSettings;

import java.nio.file.Path;

/**
 * The control socket's constants, shared by the agent's {@link ControlServer} and the CLI's
 * {@link ControlClient}. The protocol itself is specified in docs/CONTROL.md.
 */
public final class ControlProtocol {

    /** The socket's file name inside {@code [agent] state_dir}. */
    public static final String SOCKET_NAME = "control.sock";
    /** Protocol version; a request with another {@code v} is refused with {@code unsupported_version}. */
    public static final int VERSION = 1;
    /** Longest request line, newline included. Longer ones are refused with {@code too_long}. */
    public static final int MAX_REQUEST_BYTES = 4096;
    /** A request line must be complete this long after the connection is accepted. */
    public static final long REQUEST_TIMEOUT_MILLIS = 5_000;
    /** A response must be read by the client within this long, or the connection is closed. */
    public static final long WRITE_TIMEOUT_MILLIS = 10_000;
    /** Connections served at once; more are answered {@code busy} and closed. */
    public static final int MAX_CONNECTIONS = 8;
    /** Characters of a plugin message kept in a response (each run of {@code status JOB} has one). */
    public static final int MAX_MESSAGE_CHARS = 1024;

    /** Commands of the {@code cmd} field. */
    public static final String STATUS = "status";
    public static final String RUN_NOW = "run-now";

    private ControlProtocol() {
    }

    /** Where the agent configured by {@code settings} listens. */
    public static Path socketPath(AgentSettings settings) {
        return settings.stateDir().resolve(SOCKET_NAME);
    }
}
