package io.aegisquartz.agent;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The agent's proof of life for the launcher's watchdog: the file {@code STATE_DIR/heartbeat},
 * rewritten every {@link #interval()} by the timer thread, but only while the scheduling machinery
 * makes progress ({@code stall} says why it does not). A frozen JVM, a suspended scheduler or
 * worker, a scheduler thread stuck on a lock or a worker held past all its limits all stop it; the
 * launcher then kills the JVM with SIGKILL and starts it again. Format: docs/SUPERVISION.md.
 *
 * <p>Cost: one wake-up of the timer thread per interval (a quarter of the timeout, 15 s by default),
 * a look at a few threads' states without a safepoint, and one small write to the page cache.
 */
final class Heartbeat implements AutoCloseable {

    /** The file's name in the state directory. */
    static final String FILE_NAME = "heartbeat";

    private static final Logger LOG = LoggerFactory.getLogger("agent");

    /** What the agent is doing, as the launcher reads it. */
    enum State {
        /** Starting: beats come from the timer alone (the scheduler has not started). */
        STARTING,
        /** Scheduling: beats only while the machinery makes progress. */
        RUNNING,
        /** Stopping on request: beats from the timer alone, until the end. */
        STOPPING,
        /** Stopping to be restarted (exit code 75): the launcher may trust that exit code. */
        RESTART;

        String word() {
            return name().toLowerCase();
        }
    }

    private final Path file;
    private final FileChannel channel;
    private final long pid = ProcessHandle.current().pid();
    private final long timeoutSeconds;
    private final Supplier<String> stall;
    private ScheduledFuture<?> task;
    private volatile State state = State.STARTING;
    private long seq;
    private String withheld;

    private Heartbeat(Path file, FileChannel channel, long timeoutSeconds, Supplier<String> stall) {
        this.file = file;
        this.channel = channel;
        this.timeoutSeconds = timeoutSeconds;
        this.stall = stall;
    }

    /**
     * Creates the state directory if needed, writes the first beat and, unless {@code timeout} is
     * zero (no watchdog: the file says so and is not rewritten), beats on {@code timer}.
     *
     * @param stall why the machinery is not making progress, or null when it is; asked at each beat
     *              while running
     * @throws IOException if the state directory or the file cannot be written
     */
    static Heartbeat start(Path stateDir, Duration timeout, ScheduledExecutorService timer, Supplier<String> stall) throws IOException {
        Files.createDirectories(stateDir);
        Path file = stateDir.resolve(FILE_NAME);
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        long seconds = timeout.isZero() ? 0 : Math.max(1, (timeout.toMillis() + 999) / 1000);
        Heartbeat h = new Heartbeat(file, ch, seconds, stall);
        h.write();
        if (seconds > 0) {
            long every = interval(timeout).toMillis();
            h.task = timer.scheduleWithFixedDelay(h::beat, every, every, TimeUnit.MILLISECONDS);
        }
        return h;
    }

    /**
     * How often the agent beats for {@code timeout}: four beats per timeout, at most every 15 s. The
     * launcher looks every third of the timeout (at most every 20 s), so it always sees a beat between
     * two looks of a live agent.
     */
    static Duration interval(Duration timeout) {
        return Duration.ofMillis(Math.max(250, Math.min(15_000, timeout.toMillis() / 4)));
    }

    Path file() {
        return file;
    }

    /** Says what the agent is doing now; a restart request is never turned back into a stop. */
    synchronized void state(State next) {
        if (state == State.RESTART && next == State.STOPPING) {
            return;
        }
        state = next;
        write();
    }

    /** One beat, on the timer thread: written only if the machinery makes progress (or is not yet or no longer judged). */
    synchronized void beat() {
        if (state == State.RUNNING) {
            String why;
            try {
                why = stall.get();
            } catch (RuntimeException e) {
                why = "the liveness check failed: " + e;
            }
            if (why != null) {
                if (withheld == null) {
                    LOG.error("heartbeat withheld: {}; the launcher's watchdog restarts the agent if this lasts {} s", why, timeoutSeconds);
                }
                withheld = why;
                return;
            }
            if (withheld != null) {
                LOG.warn("heartbeat resumed (it was withheld: {})", withheld);
                withheld = null;
            }
        }
        write();
    }

    private void write() {
        seq++;
        byte[] line = (pid + " " + seq + " " + timeoutSeconds + " " + state.word() + "\n").getBytes(StandardCharsets.US_ASCII);
        try {
            // In place, no fsync: the reader is the launcher on this host, through the page cache. A
            // shorter line leaves old bytes after its newline until the truncate; the launcher reads
            // the first line only.
            channel.write(ByteBuffer.wrap(line), 0);
            channel.truncate(line.length);
        } catch (IOException e) {
            if (withheld == null) {
                LOG.error("cannot write the heartbeat {}: {}; the launcher's watchdog will restart the agent", file, e.getMessage());
                withheld = "cannot write " + file;
            }
        }
    }

    @Override
    public synchronized void close() {
        if (task != null) {
            task.cancel(false);
        }
        try {
            channel.close();
        } catch (IOException e) {
            // Nothing was pending: every write went to the page cache already.
        }
    }
}
