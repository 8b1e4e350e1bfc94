package io.aegisquartz.control;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.aegisquartz.agent.Agent;
import io.aegisquartz.agent.AgentSnapshot;
import io.aegisquartz.config.JobSpec;
import io.aegisquartz.schedule.JobStatus;
import io.aegisquartz.schedule.ManualRun;
import jdk.net.ExtendedSocketOptions;
import jdk.net.UnixDomainPrincipal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * The agent's control socket: a Unix socket ({@code control.sock} in {@code [agent] state_dir}) that
 * answers {@code aegis-quartz status} and {@code run-now} (protocol: docs/CONTROL.md). Never a TCP port.
 *
 * <p>Hostile by default. The file is mode 0660 and belongs to the agent's user and group, and every
 * connection is checked again with the kernel's peer credentials ({@link PeerCheck}). One thread
 * with a selector serves at most {@value ControlProtocol#MAX_CONNECTIONS} connections at once, each
 * with a fixed {@value ControlProtocol#MAX_REQUEST_BYTES}-byte request buffer, a deadline to finish
 * its request and one to read its answer: a client that sends garbage, too much, or nothing at all,
 * or never reads, costs the agent that buffer until its deadline and disturbs nothing else. Nothing a
 * client sends is allocated in proportion to its size.
 */
public final class ControlServer implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger("control");
    /** jackson-core's streaming parser only: an ObjectMapper is about 280 classes the agent would keep after the first request. */
    private static final JsonFactory JSON = new JsonFactory();
    /** How long a run-now client may wait beyond the job's own limits (for a free worker). */
    private static final long RUN_NOW_MARGIN_MILLIS = 5 * 60_000;
    /** Refused connections and bad requests are logged at most this often, with a count. */
    private static final long REJECT_LOG_EVERY_MILLIS = 60_000;

    private final Agent agent;
    private final Path socket;
    private final Object fileKey;
    private final ServerSocketChannel server;
    private final Selector selector;
    private final PeerCheck peers;
    private final Thread thread;
    private final ConcurrentLinkedQueue<Runnable> completions = new ConcurrentLinkedQueue<>();
    private final List<Conn> conns = new ArrayList<>();
    /** Connections refused (peer check) or turned away (busy), waiting a moment for their request so their answer is not lost. */
    private final List<TurnedAway> away = new ArrayList<>();
    /** Where a client's bytes after its request line are read and dropped. */
    private final ByteBuffer discard = ByteBuffer.allocate(512);
    private volatile boolean closed;
    private long rejectLoggedAt;
    private int rejectedSinceLog;

    /** Connections answered with an error and closed without being served; at most this many wait at once. */
    private static final int MAX_TURNED_AWAY = 16;
    /** How long a turned-away connection may take to send its request before it is answered anyway. */
    private static final long TURN_AWAY_WAIT_MILLIS = 1_000;

    /**
     * A connection that gets only an error: its request is read (and dropped) before the answer is
     * written and the connection closed, since closing a Unix socket with unread data resets it and
     * the client would lose the answer. Holds no buffer.
     */
    private record TurnedAway(SocketChannel channel, SelectionKey key, byte[] answer, long deadline) {
    }

    /** One client connection and where it is in its exchange. */
    private static final class Conn {
        final SocketChannel channel;
        final ByteBuffer in = ByteBuffer.allocate(ControlProtocol.MAX_REQUEST_BYTES);
        SelectionKey key;
        ByteBuffer out;
        long deadline;
        boolean requestDone;
        boolean awaitingRun;
        boolean closeAfterWrite;
        boolean closed;

        Conn(SocketChannel channel) {
            this.channel = channel;
        }
    }

    private ControlServer(Agent agent, Path socket, ServerSocketChannel server, Selector selector, Object fileKey, PeerCheck peers) {
        this.agent = agent;
        this.socket = socket;
        this.server = server;
        this.selector = selector;
        this.fileKey = fileKey;
        this.peers = peers;
        this.thread = new Thread(null, this::loop, "aegis-control", 256 * 1024);
        thread.setDaemon(true);
    }

    /**
     * Creates {@code socket} (mode 0660; its directory if missing) and starts answering on it. A
     * socket file left by an agent that died is replaced; one that another live agent answers on is not.
     *
     * @throws IOException if the socket cannot be made (the path is too long for a Unix socket, the
     *                     directory is not writable, another agent answers there)
     */
    public static ControlServer start(Path socket, Agent agent) throws IOException {
        Path dir = socket.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        if (answers(socket)) {
            throw new IOException("another process already answers on " + socket + " (an agent on the same state_dir?)");
        }
        // Bound under a temporary name, given its mode, then renamed into place: no client can reach
        // the final path before the file has its mode, and a stale socket is replaced atomically.
        Path fresh = dir.resolve(ControlProtocol.SOCKET_NAME + ".new");
        Files.deleteIfExists(fresh);
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        Selector selector = null;
        try {
            server.bind(UnixDomainSocketAddress.of(fresh), 16);
            Files.setPosixFilePermissions(fresh, PosixFilePermissions.fromString("rw-rw----"));
            Files.move(fresh, socket, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            PosixFileAttributes attrs = Files.readAttributes(socket, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            UserPrincipal root = socket.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("root");
            server.configureBlocking(false);
            selector = Selector.open();
            server.register(selector, SelectionKey.OP_ACCEPT);
            ControlServer s = new ControlServer(agent, socket, server, selector, attrs.fileKey(),
                    new PeerCheck(root, attrs.owner(), attrs.group(), Path.of("/etc/group")));
            s.thread.start();
            LOG.info("control socket {} (mode 0660, user {}, group {}): 'aegis-quartz status' and 'run-now' ask here", socket,
                    attrs.owner().getName(), attrs.group().getName());
            return s;
        } catch (IOException | RuntimeException e) {
            server.close();
            if (selector != null) {
                selector.close();
            }
            Files.deleteIfExists(fresh);
            throw e;
        }
    }

    /** True if something accepts connections on {@code socket} now. */
    private static boolean answers(Path socket) {
        if (!Files.exists(socket, LinkOption.NOFOLLOW_LINKS)) {
            return false;
        }
        try (SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            c.connect(UnixDomainSocketAddress.of(socket));
            return true;
        } catch (IOException e) {
            return false; // refused: a socket file whose agent is gone
        }
    }

    private void loop() {
        while (!closed) {
            try {
                long wait = nearestDeadline() - System.currentTimeMillis();
                if (conns.isEmpty() && away.isEmpty()) {
                    selector.select();
                } else if (wait > 0) {
                    selector.select(wait);
                } else {
                    selector.selectNow();
                }
                Runnable done;
                while ((done = completions.poll()) != null) {
                    done.run();
                }
                for (SelectionKey key : selector.selectedKeys()) {
                    if (!key.isValid()) {
                        continue;
                    }
                    if (key.isAcceptable()) {
                        accept();
                    } else {
                        serve(key.attachment(), key);
                    }
                }
                selector.selectedKeys().clear();
                expire();
            } catch (ClosedSelectorException e) {
                return;
            } catch (IOException | RuntimeException e) {
                if (closed) {
                    return;
                }
                // A bug of ours, not a client's (their errors close their connection): keep serving.
                LOG.error("control socket: unexpected error; still serving", e);
            }
        }
    }

    private long nearestDeadline() {
        long d = Long.MAX_VALUE;
        for (Conn c : conns) {
            d = Math.min(d, c.deadline);
        }
        for (TurnedAway t : away) {
            d = Math.min(d, t.deadline());
        }
        return d;
    }

    private void accept() {
        while (true) {
            SocketChannel ch;
            try {
                ch = server.accept();
            } catch (IOException e) {
                LOG.warn("control socket: accept failed: {}", e.toString());
                return;
            }
            if (ch == null) {
                return;
            }
            try {
                ch.configureBlocking(false);
                UnixDomainPrincipal peer = ch.getOption(ExtendedSocketOptions.SO_PEERCRED);
                String refusal = peers.refusal(peer);
                if (refusal != null) {
                    rejected("refused a connection: " + refusal);
                    turnAway(ch, StatusJson.error("forbidden", "permission denied: " + refusal));
                    continue;
                }
                if (conns.size() >= ControlProtocol.MAX_CONNECTIONS) {
                    rejected("refused a connection: " + conns.size() + " already open");
                    turnAway(ch, StatusJson.error("busy", "too many connections; try again"));
                    continue;
                }
                Conn c = new Conn(ch);
                c.deadline = System.currentTimeMillis() + ControlProtocol.REQUEST_TIMEOUT_MILLIS;
                c.key = ch.register(selector, SelectionKey.OP_READ, c);
                conns.add(c);
            } catch (IOException | RuntimeException e) {
                LOG.debug("control socket: dropped a connection at accept: {}", e.toString());
                closeQuietly(ch);
            }
        }
    }

    /** Answers {@code ch} with {@code answer} once its request is in (or after a moment), then closes it. */
    private void turnAway(SocketChannel ch, byte[] answer) throws IOException {
        if (away.size() >= MAX_TURNED_AWAY) {
            answerAndClose(ch, answer); // a flood: no waiting for its request
            return;
        }
        SelectionKey key = ch.register(selector, SelectionKey.OP_READ);
        TurnedAway t = new TurnedAway(ch, key, answer, System.currentTimeMillis() + TURN_AWAY_WAIT_MILLIS);
        key.attach(t);
        away.add(t);
    }

    private void finish(TurnedAway t) {
        away.remove(t);
        t.key().cancel();
        answerAndClose(t.channel(), t.answer());
    }

    private void serve(Object attachment, SelectionKey key) {
        if (attachment instanceof TurnedAway t) {
            finish(t);
            return;
        }
        Conn c = (Conn) attachment;
        try {
            if (key.isReadable()) {
                read(c);
            }
            if (!c.closed && key.isValid() && key.isWritable()) {
                write(c);
            }
        } catch (IOException e) {
            close(c); // the client went away
        } catch (RuntimeException e) {
            LOG.error("control socket: unexpected error serving a request", e);
            close(c);
        }
    }

    private void read(Conn c) throws IOException {
        if (c.requestDone) {
            // Anything after the request line is dropped; end of stream means the client left.
            discard.clear();
            if (c.channel.read(discard) < 0) {
                if (c.awaitingRun) {
                    LOG.info("control socket: a run-now client left before its run ended; the run goes on");
                }
                close(c);
            }
            return;
        }
        int from = c.in.position();
        int n = c.channel.read(c.in);
        for (int i = from; i < c.in.position(); i++) {
            if (c.in.get(i) == '\n') {
                c.requestDone = true;
                request(c, i);
                return;
            }
        }
        if (n < 0) {
            if (c.in.position() == 0) {
                close(c);
            } else {
                c.requestDone = true; // a client that ends its request by closing its side, without a newline
                request(c, c.in.position());
            }
        } else if (!c.in.hasRemaining()) {
            c.requestDone = true;
            rejected("bad request: longer than " + ControlProtocol.MAX_REQUEST_BYTES + " bytes");
            answer(c, true, StatusJson.error("too_long", "a request is one line of at most " + ControlProtocol.MAX_REQUEST_BYTES
                    + " bytes (docs/CONTROL.md)"));
        }
    }

    /** Parses the request in {@code c.in[0, end)} and answers it. */
    private void request(Conn c, int end) throws IOException {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(c.in.duplicate().flip().limit(end)).toString();
        } catch (CharacterCodingException e) {
            bad(c, "the request is not UTF-8");
            return;
        }
        Request req = Request.parse(text);
        if (req.problem() != null) {
            bad(c, req.problem());
            return;
        }
        if (!req.versionOk()) {
            rejected("bad request: version " + req.version());
            answer(c, true, StatusJson.error("unsupported_version", "this agent speaks version " + ControlProtocol.VERSION));
            return;
        }
        if (ControlProtocol.STATUS.equals(req.cmd())) {
            status(c, req.job());
        } else if (ControlProtocol.RUN_NOW.equals(req.cmd())) {
            if (req.job() == null) {
                bad(c, "run-now needs a 'job'");
            } else {
                runNow(c, req.job());
            }
        } else {
            bad(c, "'cmd' must be \"" + ControlProtocol.STATUS + "\" or \"" + ControlProtocol.RUN_NOW + "\"");
        }
    }

    /**
     * A request line, read with the streaming parser: {@code v}, {@code cmd}, {@code job}; other
     * fields skipped. {@code problem} is set when it is not one JSON object or a field has the wrong type.
     */
    private record Request(String version, boolean versionOk, String cmd, String job, String problem) {

        static Request parse(String text) {
            String version = null;
            boolean versionOk = true;
            String cmd = null;
            String job = null;
            try (JsonParser p = JSON.createParser(text)) {
                if (p.nextToken() != JsonToken.START_OBJECT) {
                    return bad("the request is not one JSON object");
                }
                JsonToken t;
                while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
                    String name = p.currentName();
                    JsonToken v = p.nextToken();
                    switch (name) {
                        case "v" -> {
                            version = p.getText();
                            versionOk = v == JsonToken.VALUE_NUMBER_INT && p.getNumberType() == JsonParser.NumberType.INT
                                    && p.getIntValue() == ControlProtocol.VERSION;
                            p.skipChildren();
                        }
                        case "cmd" -> {
                            if (v != JsonToken.VALUE_STRING) {
                                return bad("'cmd' must be a string");
                            }
                            cmd = p.getText();
                        }
                        case "job" -> {
                            if (v != JsonToken.VALUE_STRING && v != JsonToken.VALUE_NULL) {
                                return bad("'job' must be a string");
                            }
                            job = v == JsonToken.VALUE_NULL ? null : p.getText();
                        }
                        default -> p.skipChildren();
                    }
                }
                if (t != JsonToken.END_OBJECT || p.nextToken() != null) {
                    return bad("the request is not one JSON object");
                }
            } catch (IOException e) {
                return bad("the request is not one JSON object");
            }
            return new Request(version, versionOk, cmd, job, null);
        }

        private static Request bad(String why) {
            return new Request(null, true, null, null, why);
        }
    }

    private void bad(Conn c, String why) throws IOException {
        rejected("bad request: " + why);
        answer(c, true, StatusJson.error("bad_request", why + " (docs/CONTROL.md)"));
    }

    private void status(Conn c, String jobName) throws IOException {
        AgentSnapshot s = agent.snapshot();
        if (jobName == null) {
            answer(c, true, StatusJson.status(s));
            return;
        }
        for (JobStatus j : s.jobs()) {
            if (j.spec().name().equals(jobName)) {
                answer(c, true, StatusJson.job(s, j));
                return;
            }
        }
        answer(c, true, noSuchJob(jobName, s.jobs().size()));
    }

    private static byte[] noSuchJob(String name, int jobs) {
        return StatusJson.error("no_such_job", "no job is named '" + StatusJson.cut(name) + "' (" + jobs
                + " job(s) scheduled; 'aegis-quartz status' lists them)");
    }

    private void runNow(Conn c, String name) throws IOException {
        java.util.concurrent.atomic.AtomicBoolean answered = new java.util.concurrent.atomic.AtomicBoolean();
        JobSpec spec = agent.runNow(name, outcome -> {
            answered.set(true);
            completions.add(() -> finishRun(c, name, outcome));
            selector.wakeup();
        });
        if (spec == null) {
            answer(c, true, noSuchJob(name, agent.snapshot().jobs().size()));
            return;
        }
        c.awaitingRun = true;
        if (answered.get()) {
            return; // refused at once (held, running): the result line follows, no "accepted"
        }
        LOG.info("control socket: run-now of job {}", name);
        answer(c, false, StatusJson.accepted(spec));
        c.deadline = System.currentTimeMillis() + spec.options().timeout().plus(spec.options().killGrace()).toMillis()
                + RUN_NOW_MARGIN_MILLIS;
    }

    /** On the selector thread: the run a client asked for ended; its last line goes out. */
    private void finishRun(Conn c, String name, ManualRun outcome) {
        if (c.closed) {
            return;
        }
        c.awaitingRun = false;
        try {
            answer(c, true, StatusJson.result(name, outcome));
        } catch (IOException e) {
            close(c);
        }
    }

    /** Queues {@code line} for {@code c}; with {@code last}, the connection closes once it is written. */
    private void answer(Conn c, boolean last, byte[] bytes) throws IOException {
        if (c.out != null && c.out.hasRemaining()) {
            ByteBuffer both = ByteBuffer.allocate(c.out.remaining() + bytes.length);
            both.put(c.out).put(bytes).flip();
            c.out = both;
        } else {
            c.out = ByteBuffer.wrap(bytes);
        }
        c.closeAfterWrite = last;
        c.deadline = System.currentTimeMillis() + ControlProtocol.WRITE_TIMEOUT_MILLIS;
        c.key.interestOps(SelectionKey.OP_READ | SelectionKey.OP_WRITE);
        write(c);
    }

    private void write(Conn c) throws IOException {
        if (c.out != null) {
            c.channel.write(c.out);
            if (c.out.hasRemaining()) {
                return;
            }
            c.out = null;
        }
        if (c.closeAfterWrite) {
            close(c);
        } else if (!c.closed) {
            c.key.interestOps(SelectionKey.OP_READ);
        }
    }

    /** Closes connections past their deadline: a request not finished, an answer not read, a run not ended. */
    private void expire() {
        long now = System.currentTimeMillis();
        for (TurnedAway t : List.copyOf(away)) {
            if (now >= t.deadline()) {
                finish(t);
            }
        }
        for (Conn c : List.copyOf(conns)) {
            if (now < c.deadline) {
                continue;
            }
            if (!c.requestDone) {
                rejected("bad request: not complete within " + ControlProtocol.REQUEST_TIMEOUT_MILLIS + " ms");
                answerAndClose(c.channel, StatusJson.error("timeout", "no complete request line within "
                        + ControlProtocol.REQUEST_TIMEOUT_MILLIS + " ms"));
            } else if (c.awaitingRun) {
                answerAndClose(c.channel, StatusJson.error("timeout", "the run did not end in time; see 'aegis-quartz status'"));
            }
            close(c);
        }
    }

    /** One try at writing a short answer to a connection being dropped; it is closed either way. */
    private void answerAndClose(SocketChannel ch, byte[] line) {
        try {
            ch.write(ByteBuffer.wrap(line));
        } catch (IOException | RuntimeException ignored) {
            // The client is gone or not reading: nothing more is owed to it.
        }
        drainAndClose(ch);
    }

    /**
     * Closes {@code ch} after reading what the client has sent and is waiting unread (a bounded amount,
     * without blocking): closing a Unix socket with unread data resets the connection, and the client
     * would then lose the answer it has not read yet.
     */
    private void drainAndClose(SocketChannel ch) {
        try {
            for (int i = 0; i < 16; i++) {
                discard.clear();
                if (ch.read(discard) <= 0) {
                    break;
                }
            }
        } catch (IOException | RuntimeException ignored) {
            // Closing anyway.
        }
        closeQuietly(ch);
    }

    private void close(Conn c) {
        if (c.closed) {
            return;
        }
        c.closed = true;
        conns.remove(c);
        if (c.key != null) {
            c.key.cancel();
        }
        drainAndClose(c.channel);
    }

    private static void closeQuietly(SocketChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // Nothing to do about a close that fails.
        }
    }

    /** Logs a refused connection or a bad request, at most once a minute with how many there were. */
    private void rejected(String what) {
        long now = System.currentTimeMillis();
        rejectedSinceLog++;
        if (now - rejectLoggedAt >= REJECT_LOG_EVERY_MILLIS) {
            LOG.warn("control socket: {}{}", what, rejectedSinceLog > 1 ? " (" + rejectedSinceLog + " rejected since the last such line)" : "");
            rejectLoggedAt = now;
            rejectedSinceLog = 0;
        }
    }

    /** Stops answering and removes the socket file, if it is still ours. */
    @Override
    public void close() {
        closed = true;
        selector.wakeup();
        try {
            thread.join(2_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (Conn c : List.copyOf(conns)) {
            close(c);
        }
        for (TurnedAway t : List.copyOf(away)) {
            finish(t);
        }
        try {
            server.close();
            selector.close();
        } catch (IOException ignored) {
            // Closing at stop: nothing left to do.
        }
        try {
            BasicFileAttributes now = Files.readAttributes(socket, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (Objects.equals(now.fileKey(), fileKey)) {
                Files.delete(socket);
            }
        } catch (IOException ignored) {
            // Gone already, or another agent's now.
        }
    }

    /** The socket file. */
    public Path socket() {
        return socket;
    }
}
