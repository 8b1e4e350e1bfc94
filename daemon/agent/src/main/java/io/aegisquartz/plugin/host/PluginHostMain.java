package io.aegisquartz.plugin.host;

import io.aegisquartz.plugin.CappedOutput;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayInputStream;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * The plugin host JVM's entry point: {@code java [OPTIONS] -cp CLASSPATH io.aegisquartz.plugin.host.PluginHostMain [--heartbeat FILE]}.
 *
 * <p>The protocol (docs/PLUGIN-HOST.md) runs over standard input and output: pipes from the agent
 * when the agent started the host, or a Unix socket connection when systemd did (socket activation,
 * one host per connection). Plugin code must never write to that channel by accident, so
 * System.out and System.err go to standard error, capped; System.in is empty.
 */
public final class PluginHostMain {

    /** What plugins and the host may print to standard error in all (a pipe the agent reads, or the journal). */
    static final int STDERR_MAX = 64 * 1024;

    private PluginHostMain() {
    }

    public static void main(String[] args) {
        Path heartbeat = args.length == 2 && args[0].equals("--heartbeat") ? Path.of(args[1]) : null;
        BufferedOutputStream protocolOut = new BufferedOutputStream(new FileOutputStream(FileDescriptor.out), 1 << 16);
        BufferedInputStream protocolIn = new BufferedInputStream(new FileInputStream(FileDescriptor.in), 1 << 16);
        PrintStream stderr = new PrintStream(new CappedOutput(new FileOutputStream(FileDescriptor.err), STDERR_MAX), true, StandardCharsets.UTF_8);
        System.setOut(stderr);
        System.setErr(stderr);
        System.setIn(new ByteArrayInputStream(new byte[0]));
        HostSession session = new HostSession(protocolOut, heartbeat, stderr);
        try {
            session.serve(protocolIn);
        } catch (ProtocolException e) {
            session.halt(HostSession.EXIT_BAD_AGENT, "the agent broke the protocol: " + e.getMessage());
        } catch (IOException e) {
            session.halt(HostSession.EXIT_AGENT_GONE, "cannot read from the agent: " + e.getMessage());
        }
    }
}
