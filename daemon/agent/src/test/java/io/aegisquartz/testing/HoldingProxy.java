package io.aegisquartz.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A TCP proxy on 127.0.0.1 (port 0) in front of a loopback server, that can withhold the server's
 * answers: after {@link #hold()}, whatever the server sends back is read and kept from the client.
 * So a test can have a backend store a request while its client never hears so (and then kill the
 * client): the window between "stored" and "acknowledged" held open instead of hit by luck.
 */
public final class HoldingProxy implements AutoCloseable {

    private final ServerSocket listener;
    private final InetSocketAddress target;
    private final List<Socket> sockets = new ArrayList<>();
    private final AtomicInteger answersPassed = new AtomicInteger();
    private final AtomicInteger answersHeld = new AtomicInteger();
    private volatile boolean holding;
    private volatile boolean closed;

    private HoldingProxy(ServerSocket listener, InetSocketAddress target) {
        this.listener = listener;
        this.target = target;
    }

    /** A proxy to the server of {@code url} (http://127.0.0.1:PORT/...), accepting on a port of its own. */
    public static HoldingProxy to(String url) throws IOException {
        URI u = URI.create(url);
        ServerSocket s = new ServerSocket(0, 16, InetAddress.getLoopbackAddress());
        HoldingProxy p = new HoldingProxy(s, new InetSocketAddress(u.getHost(), u.getPort()));
        Thread t = new Thread(p::accept, "proxy-accept-" + s.getLocalPort());
        t.setDaemon(true);
        t.start();
        return p;
    }

    /** {@code url} with its host and port replaced by this proxy's. */
    public String url(String url) {
        URI u = URI.create(url);
        return u.getScheme() + "://127.0.0.1:" + listener.getLocalPort() + (u.getRawPath() == null ? "" : u.getRawPath());
    }

    /** From now on, answers go no further than this proxy. */
    public void hold() {
        holding = true;
    }

    /** Reads of the server's answer that reached the client (a chunk each, roughly one answer each). */
    public int answersPassed() {
        return answersPassed.get();
    }

    /** Reads of the server's answer kept from the client since {@link #hold()}. */
    public int answersHeld() {
        return answersHeld.get();
    }

    private void accept() {
        while (!closed) {
            try {
                Socket client = listener.accept();
                Socket server = new Socket();
                server.connect(target, 5_000);
                synchronized (sockets) {
                    sockets.add(client);
                    sockets.add(server);
                }
                pump(client, server, false);
                pump(server, client, true);
            } catch (IOException e) {
                if (!closed) {
                    continue; // one connection failed; the next may not
                }
                return;
            }
        }
    }

    private void pump(Socket from, Socket to, boolean answers) {
        Thread t = new Thread(() -> {
            byte[] buf = new byte[16 << 10];
            try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
                for (int n; (n = in.read(buf)) > 0; ) {
                    if (answers && holding) {
                        answersHeld.incrementAndGet();
                        continue;
                    }
                    out.write(buf, 0, n);
                    out.flush();
                    if (answers) {
                        answersPassed.incrementAndGet();
                    }
                }
            } catch (IOException e) {
                // the other side went away: so does this direction
            } finally {
                closeQuietly(from);
                closeQuietly(to);
            }
        }, "proxy-pump");
        t.setDaemon(true);
        t.start();
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException e) {
            // closing
        }
    }

    @Override
    public void close() {
        closed = true;
        closeQuietly(listener);
        synchronized (sockets) {
            sockets.forEach(HoldingProxy::closeQuietly);
        }
    }

    private static void closeQuietly(ServerSocket s) {
        try {
            s.close();
        } catch (IOException e) {
            // closing
        }
    }
}
