package io.aegisquartz.plugin.host;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The plugin host's own watchdog thread: ends the host when a run is stuck past its limits or the
 * agent has stopped pinging while runs are in flight, and, when a launcher watches for it, proves that
 * the host is alive by appending a byte to a heartbeat file every second.
 *
 * <p>This is what stops a stuck host when the agent cannot kill it itself (under the packaged service
 * the host is another user's process). If a plugin freezes this thread too, the heartbeat stops and the
 * launcher kills the JVM from outside (daemon/bin/aegis-quartz plugin-host). It parks when there is
 * nothing to watch: no wake-ups in an idle host without a heartbeat.
 */
final class HostWatchdog extends Thread {

    static final long BEAT_NANOS = TimeUnit.SECONDS.toNanos(1);
    /** The agent pings every quarter of the liveness while runs are in flight; three livenesses of silence is no agent. */
    static final int DEAF_AFTER_LIVENESS = 3;

    private final HostSession session;
    private final long livenessNanos;
    private final Path heartbeat;
    private volatile long lastPingNanos = System.nanoTime();

    HostWatchdog(HostSession session, long livenessNanos, Path heartbeat) {
        super(null, null, "aegis-host-watchdog", 256 * 1024);
        this.session = session;
        this.livenessNanos = livenessNanos;
        this.heartbeat = heartbeat;
        setDaemon(true);
        setPriority(MAX_PRIORITY);
    }

    void pinged() {
        lastPingNanos = System.nanoTime();
    }

    /** A run started: look again. */
    void wake() {
        LockSupport.unpark(this);
    }

    @Override
    public void run() {
        FileChannel beat = null;
        if (heartbeat != null) {
            try {
                beat = FileChannel.open(heartbeat, StandardOpenOption.WRITE, StandardOpenOption.APPEND, StandardOpenOption.CREATE);
            } catch (IOException e) {
                session.halt(HostSession.EXIT_BAD_AGENT, "cannot write the heartbeat file " + heartbeat + ": " + e.getMessage());
            }
        }
        long nextBeat = System.nanoTime();
        while (true) {
            long now = System.nanoTime();
            long wakeAt = Long.MAX_VALUE;
            long oldestStart = Long.MAX_VALUE;
            for (HostSession.RunState r : session.runs()) {
                if (now - r.hardDeadlineNanos() >= 0) {
                    session.halt(HostSession.EXIT_STUCK, "run " + r.id() + " of job " + r.jobName() + " is past its limits and did not end");
                }
                wakeAt = Math.min(wakeAt, r.hardDeadlineNanos());
                oldestStart = Math.min(oldestStart, r.startNanos());
            }
            if (oldestStart != Long.MAX_VALUE) {
                long deafAt = Math.max(lastPingNanos, oldestStart) + DEAF_AFTER_LIVENESS * livenessNanos;
                if (now - deafAt >= 0) {
                    session.halt(HostSession.EXIT_DEAF, "no word from the agent for " + TimeUnit.NANOSECONDS.toMillis(now - Math.max(lastPingNanos, oldestStart))
                            + " ms while runs are in flight");
                }
                wakeAt = Math.min(wakeAt, deafAt);
            }
            if (beat != null) {
                if (now - nextBeat >= 0) {
                    try {
                        beat.write(ByteBuffer.wrap(new byte[] {'.'}));
                    } catch (IOException e) {
                        session.halt(HostSession.EXIT_BAD_AGENT, "cannot write the heartbeat file: " + e.getMessage());
                    }
                    nextBeat = now + BEAT_NANOS;
                }
                wakeAt = Math.min(wakeAt, nextBeat);
            }
            if (wakeAt == Long.MAX_VALUE) {
                LockSupport.park(this);
            } else {
                LockSupport.parkNanos(this, Math.max(1, wakeAt - System.nanoTime()));
            }
        }
    }
}
