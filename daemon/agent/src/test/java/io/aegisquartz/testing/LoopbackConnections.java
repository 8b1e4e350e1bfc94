package io.aegisquartz.testing;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;

/** Established IPv4 TCP connections over 127.0.0.1, both ends held open by this JVM until closed. */
public final class LoopbackConnections implements AutoCloseable {

    private final List<SocketChannel> ends = new ArrayList<>();

    private LoopbackConnections() {
    }

    /** Opens and accepts {@code n} connections; on failure, closes whatever it opened. */
    public static LoopbackConnections open(int n) throws IOException {
        LoopbackConnections held = new LoopbackConnections();
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.INET)) {
            server.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0), n);
            for (int i = 0; i < n; i++) {
                SocketChannel c = SocketChannel.open(StandardProtocolFamily.INET);
                held.ends.add(c);
                c.connect(server.getLocalAddress());
                held.ends.add(server.accept());
            }
            return held;
        } catch (IOException | RuntimeException e) {
            held.close();
            throw e;
        }
    }

    @Override
    public void close() throws IOException {
        for (SocketChannel c : ends) {
            c.close();
        }
    }
}
