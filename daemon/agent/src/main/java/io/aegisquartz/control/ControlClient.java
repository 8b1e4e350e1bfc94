package io.aegisquartz.control;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.ConnectException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;

/**
 * The client side of the control socket (docs/CONTROL.md): sends one request line and reads the
 * answer's lines until the agent closes the connection, within a deadline.
 */
public final class ControlClient {

    /** The client's only mapper: the command classes are built in every JVM, the agent's too, and must not hold one. */
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The most a client reads of one answer (a status of thousands of jobs is a few MB). */
    private static final int MAX_ANSWER_BYTES = 64 << 20;

    /** No agent answers: no socket file, or a stale one. */
    public static final class NotRunning extends IOException {
        NotRunning(String message) {
            super(message);
        }
    }

    /** This user may not talk to the agent (file permissions, or the agent's own peer check). */
    public static final class Forbidden extends IOException {
        Forbidden(String message) {
            super(message);
        }
    }

    /** The agent accepted the connection but did not answer in time. */
    public static final class NoAnswer extends IOException {
        NoAnswer(String message) {
            super(message);
        }
    }

    /** Gets each line of the answer; returns 0, or how many ms from now the next line may take (a run-now's run). */
    @FunctionalInterface
    public interface LineReader {
        long line(JsonNode line) throws IOException;
    }

    private final Path socket;

    public ControlClient(Path socket) {
        this.socket = socket;
    }

    /** {@code node} as one line of JSON, for the commands that print an answer as it came ({@code --json}). */
    public static String toJson(JsonNode node) throws IOException {
        return JSON.writeValueAsString(node);
    }

    /** The request line for {@code cmd} (and {@code job}, if not null). */
    public static ObjectNode request(String cmd, String job) {
        ObjectNode r = JSON.createObjectNode();
        r.put("v", ControlProtocol.VERSION);
        r.put("cmd", cmd);
        if (job != null) {
            r.put("job", job);
        }
        return r;
    }

    /**
     * Sends {@code request} and hands each line of the answer to {@code reader}. An {@code error}
     * line of kind {@code forbidden} is thrown as {@link Forbidden}; other error lines are handed on.
     *
     * @param timeoutMillis how long the first line may take
     */
    public void exchange(ObjectNode request, long timeoutMillis, LineReader reader) throws IOException {
        if (Files.notExists(socket, LinkOption.NOFOLLOW_LINKS)) {
            throw new NotRunning("the agent is not running: there is no control socket " + socket
                    + " (its [agent] state_dir in aegis_config.ini)");
        }
        if (!Files.exists(socket, LinkOption.NOFOLLOW_LINKS)) {
            throw new Forbidden("permission denied: cannot reach " + socket + " (a directory above it is closed to this user)");
        }
        if (!Files.isWritable(socket)) {
            throw new Forbidden("permission denied: " + socket + " is " + who() + "; run this as root, as that user, or as a member of that group");
        }
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            try {
                ch.connect(UnixDomainSocketAddress.of(socket));
            } catch (ConnectException e) {
                throw new NotRunning("the agent is not running: nothing answers on " + socket + " (left by an agent that stopped abnormally)");
            } catch (java.net.SocketException e) {
                if (String.valueOf(e.getMessage()).contains("ermission denied")) {
                    throw new Forbidden("permission denied: " + socket + " is " + who());
                }
                throw e;
            }
            IOException unsent = null;
            try {
                ch.write(ByteBuffer.wrap((JSON.writeValueAsString(request) + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8)));
            } catch (IOException e) {
                unsent = e; // the agent may have answered and closed at once (a refusal): read that answer
            }
            if (!read(ch, timeoutMillis, reader) && unsent != null) {
                throw unsent;
            }
        }
    }

    /** Reads the answer to its end; true if it had at least one line. */
    private boolean read(SocketChannel ch, long timeoutMillis, LineReader reader) throws IOException {
        ch.configureBlocking(false);
        try (Selector selector = Selector.open()) {
            ch.register(selector, SelectionKey.OP_READ);
            ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            long deadline = System.currentTimeMillis() + timeoutMillis;
            long total = 0;
            boolean any = false;
            while (true) {
                long wait = deadline - System.currentTimeMillis();
                if (wait <= 0) {
                    throw new NoAnswer("the agent accepted the connection but did not answer within " + timeoutMillis + " ms");
                }
                selector.select(wait);
                selector.selectedKeys().clear();
                buf.clear();
                int n = ch.read(buf);
                if (n < 0) {
                    if (line.size() > 0) {
                        throw new IOException("the agent's answer ended in the middle of a line");
                    }
                    return any;
                }
                total += n;
                if (total > MAX_ANSWER_BYTES) {
                    throw new IOException("the agent's answer is larger than " + MAX_ANSWER_BYTES + " bytes");
                }
                for (int i = 0; i < buf.position(); i++) {
                    byte b = buf.get(i);
                    if (b != '\n') {
                        line.write(b);
                        continue;
                    }
                    JsonNode node = JSON.readTree(line.toByteArray());
                    line.reset();
                    any = true;
                    if ("error".equals(node.path("type").asText()) && "forbidden".equals(node.path("error").asText())) {
                        throw new Forbidden(node.path("message").asText());
                    }
                    long more = reader.line(node);
                    deadline = more > 0 ? System.currentTimeMillis() + more : System.currentTimeMillis() + timeoutMillis;
                }
            }
        }
    }

    /** "owned by USER, group GROUP, mode rw-rw----", as far as this user can tell. */
    private String who() {
        try {
            PosixFileAttributes a = Files.readAttributes(socket, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            return "owned by " + a.owner().getName() + ", group " + a.group().getName() + ", mode "
                    + java.nio.file.attribute.PosixFilePermissions.toString(a.permissions());
        } catch (IOException e) {
            return "not accessible";
        }
    }
}
