package io.aegisquartz.plugin.host;

import io.aegisquartz.config.JobOptions;
import io.aegisquartz.config.JobSpec;
import io.aegisquartz.config.PluginHostConfig;
import io.aegisquartz.plugin.JobMemory;
import io.aegisquartz.plugin.PluginException;
import io.aegisquartz.plugin.RunResult;
import io.aegisquartz.plugin.groovy.CompiledScripts;
import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Status;
import io.aegisquartz.testing.TestJobs;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The agent's side of the plugin host protocol against a host that lies: a fake host on a real Unix
 * socket (the agent connects as it does to systemd's socket) that sends what a plugin in a real host
 * could write to the channel. Each broken message ends that host, the run is reported, and the next
 * run gets a new host.
 */
@Timeout(60)
class HostProtocolTest {

    @TempDir
    Path dir;

    private ServerSocketChannel server;
    private PluginHostClient client;
    /** One script per connection, taken in order; a connection with none left is served politely. */
    private final BlockingQueue<Script> scripts = new LinkedBlockingQueue<>();
    private final List<FakeHost> hosts = new CopyOnWriteArrayList<>();
    private Path plugin;

    interface Script {
        void serve(FakeHost h) throws Exception;
    }

    @BeforeEach
    void listen() throws IOException {
        Path socket = dir.resolve("host.sock");
        server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(socket));
        Thread accept = new Thread(() -> {
            try {
                while (true) {
                    SocketChannel ch = server.accept();
                    FakeHost h = new FakeHost(ch);
                    hosts.add(h);
                    Script s = scripts.poll();
                    Thread t = new Thread(() -> {
                        try {
                            h.handshake();
                            Script script = s == null ? HostProtocolTest::polite : s;
                            script.serve(h);
                        } catch (Exception e) {
                            // The agent closed the connection: what a host sees when it is ended.
                        } finally {
                            h.close();
                        }
                    }, "fake-host");
                    t.setDaemon(true);
                    t.start();
                }
            } catch (IOException e) {
                // Closed at the end of the test.
            }
        }, "fake-host-accept");
        accept.setDaemon(true);
        accept.start();
        newClient();
        plugin = Files.writeString(dir.resolve("p.groovy"), "emit('p', [v: 1])\n");
    }

    /** A client of its own, which connects anew: the next connection takes the next script. */
    private void newClient() {
        if (client != null) {
            client.close();
        }
        client = new PluginHostClient(new PluginHostConfig(64 << 20, Duration.ofMillis(500), dir.resolve("host.sock")));
    }

    @AfterEach
    void close() throws IOException {
        client.close();
        server.close();
    }

    /** The agent's view of a host: frames in, frames out. */
    static final class FakeHost {
        final SocketChannel ch;
        final InputStream in;
        final OutputStream out;
        final CompletableFuture<Void> closedByAgent = new CompletableFuture<>();
        final AtomicInteger runsInFlight = new AtomicInteger();
        volatile int mostRunsAtOnce;

        FakeHost(SocketChannel ch) {
            this.ch = ch;
            this.in = ChannelStreams.in(ch);
            this.out = ChannelStreams.out(ch);
        }

        void handshake() throws IOException {
            HostProtocol.readHello(Frame.read(in, HostProtocol.MAX_TO_HOST));
            send(HostProtocol.ready(4242, 64 << 20));
        }

        /** The next frame from the agent other than a ping (answered) or a load (acknowledged); null when the agent closed. */
        Frame next() throws IOException {
            while (true) {
                Frame f = Frame.read(in, HostProtocol.MAX_TO_HOST);
                if (f == null) {
                    closedByAgent.complete(null);
                    return null;
                }
                if (f.type() == HostProtocol.PING) {
                    send(HostProtocol.pong(f.i64()));
                } else if (f.type() == HostProtocol.LOAD) {
                    send(HostProtocol.loaded(HostProtocol.readLoad(f).pluginId(), List.of()));
                } else {
                    return f;
                }
            }
        }

        HostProtocol.Run nextRun() throws IOException {
            Frame f = next();
            if (f == null) {
                throw new IOException("closed");
            }
            return HostProtocol.readRun(f);
        }

        synchronized void send(Frame f) throws IOException {
            f.writeTo(out);
        }

        void raw(byte[] bytes) throws IOException {
            synchronized (this) {
                out.write(bytes);
                out.flush();
            }
        }

        /** Reads until the agent closes, answering pings or not. */
        void drain(boolean answerPings) throws IOException {
            while (true) {
                Frame f = Frame.read(in, HostProtocol.MAX_TO_HOST);
                if (f == null) {
                    closedByAgent.complete(null);
                    return;
                }
                if (answerPings && f.type() == HostProtocol.PING) {
                    send(HostProtocol.pong(f.i64()));
                }
            }
        }

        void close() {
            try {
                ch.close();
            } catch (IOException e) {
                // Gone.
            }
        }
    }

    /** What an honest host does: each run, on a thread of its own, takes 100 ms, emits one sample and completes. */
    static void polite(FakeHost h) throws IOException {
        while (true) {
            Frame f = h.next();
            if (f == null) {
                return;
            }
            HostProtocol.Run r = HostProtocol.readRun(f);
            int now = h.runsInFlight.incrementAndGet();
            synchronized (h) {
                h.mostRunsAtOnce = Math.max(h.mostRunsAtOnce, now);
            }
            new Thread(() -> {
                try {
                    h.send(HostProtocol.started(r.runId()));
                    Thread.sleep(100);
                    h.send(HostProtocol.sample(r.runId(), Measurement.status(System.currentTimeMillis(), "p", Status.OK, "fine")));
                    h.runsInFlight.decrementAndGet();
                    h.send(result(r.runId(), HostProtocol.Ending.COMPLETED));
                } catch (IOException | InterruptedException e) {
                    // The agent ended this host.
                }
            }).start();
        }
    }

    static Frame result(long runId, HostProtocol.Ending ending) {
        return HostProtocol.result(new HostProtocol.Result(runId, ending, null, false, 1_000_000, 500_000, -1, false, 0, null, false));
    }

    private JobSpec job() {
        return TestJobs.job(plugin, TestJobs.limits(Duration.ofSeconds(1), Duration.ofSeconds(1)).withMaxSamples(5)
                .withIsolation(JobOptions.Isolation.HOST));
    }

    private HostPlugin load() throws PluginException {
        return client.groovy(plugin, new CompiledScripts.Entry("P", Map.of("P", new byte[] {1, 2, 3})));
    }

    /** Runs with a host that does {@code hostile} after the run started; the run's result, and a good run after. */
    private RunResult afterStart(Script hostile) throws Exception {
        scripts.add(h -> {
            HostProtocol.Run r = h.nextRun();
            h.send(HostProtocol.started(r.runId()));
            hostile.serve(h);
            h.drain(true);
        });
        newClient();
        HostPlugin p = load();
        RunResult bad = p.run(job(), new JobMemory());
        RunResult good = p.run(job(), new JobMemory());
        assertEquals(Status.OK, good.outcome(), "a new host serves the next run: " + good);
        assertEquals("fine", good.measurements().get(0).message());
        return bad;
    }

    private static void assertBroke(RunResult r, String what) {
        assertEquals(Status.ERROR, r.outcome(), r.toString());
        String m = r.measurements().get(r.measurements().size() - 1).message();
        assertTrue(m.startsWith("the plugin host sent a message the protocol does not allow (") && m.contains(what), m);
    }

    /** Two runs of {@code p}, started together from two threads, as two jobs firing at once. */
    private List<RunResult> twoRunsAtOnce(HostPlugin p) throws Exception {
        List<CompletableFuture<RunResult>> runs = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            runs.add(CompletableFuture.supplyAsync(() -> {
                try {
                    return p.run(job(), new JobMemory());
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            }));
        }
        List<RunResult> out = new ArrayList<>();
        for (CompletableFuture<RunResult> f : runs) {
            out.add(f.get(30, TimeUnit.SECONDS));
        }
        return out;
    }

    @Test
    void anHonestHostsRunIsTakenAsItsResult() throws Exception {
        HostPlugin p = load();
        RunResult r = p.run(job(), new JobMemory());
        assertEquals(Status.OK, r.outcome());
        assertEquals(List.of("fine"), r.measurements().stream().map(Measurement::message).toList());
        assertTrue(r.cpuNanos() <= r.wallNanos(), "CPU claimed is clamped to the time the run took");
        assertEquals(1, hosts.size(), "one host for both the load and the run");
    }

    @Test
    void aMessageOverTheCapEndsTheHost() throws Exception {
        // A length field of 2 MiB: refused before anything is allocated for it.
        RunResult r = afterStart(h -> h.raw(new byte[] {0, 0x20, 0, 0, HostProtocol.SAMPLE}));
        assertBroke(r, "a message of 2097152 bytes (at most 1048576 allowed)");
        assertEquals(2, hosts.size(), "the agent started a new host");
    }

    @Test
    void samplesPastTheRunsCapEndTheHost() throws Exception {
        RunResult r = afterStart(h -> {
            for (int i = 0; i < 7; i++) {
                h.send(HostProtocol.sample(1, Measurement.status(System.currentTimeMillis(), "p", Status.OK, "x")));
            }
        });
        assertBroke(r, "more samples for run 1 than its cap of 5");
    }

    @Test
    void aMessageForARunNotInFlightEndsTheHost() throws Exception {
        assertBroke(afterStart(h -> h.send(result(99, HostProtocol.Ending.COMPLETED))), "a message for run 99, which is not in flight");
        assertBroke(afterStart(h -> h.send(HostProtocol.started(1))), "a message for run 1, which is started");
    }

    @Test
    void badFieldsEndTheHost() throws Exception {
        // Invalid UTF-8 in a log line: type LOG, run 1, level 1, a string of 2 bytes C3 28.
        assertBroke(afterStart(h -> h.raw(new byte[] {0, 0, 0, 12, HostProtocol.LOG, 0, 0, 0, 1, 1, 0, 0, 0, 2, (byte) 0xC3, 0x28})),
                "log text is not valid UTF-8");
        // A status no plugin can report (7: skipped): SAMPLE, run 1, time, metric "p", status 7.
        assertBroke(afterStart(h -> h.send(new Frame(HostProtocol.SAMPLE).u32(1).i64(System.currentTimeMillis()).str("p").u8(7))),
                "sample status 7");
        assertBroke(afterStart(h -> h.send(new Frame(HostProtocol.RESULT).u32(1).u8(9))), "run ending 9");
        assertBroke(afterStart(h -> h.send(new Frame(99).u32(1))), "message type 99");
        assertBroke(afterStart(h -> h.send(HostProtocol.started(1).u8(0))), "1 bytes more than its fields");
    }

    @Test
    void aFloodOfLogLinesEndsTheHost() throws Exception {
        assertBroke(afterStart(h -> {
            for (int i = 0; i < 101; i++) {
                h.send(HostProtocol.log(1, false, "line " + i));
            }
        }), "more than 100 log lines in run 1");
    }

    @Test
    void invalidSamplesAreDroppedAndTimesOutsideTheRunReplaced() throws Exception {
        scripts.add(h -> {
            HostProtocol.Run r = h.nextRun();
            h.send(HostProtocol.started(r.runId()));
            h.send(HostProtocol.sample(r.runId(), new Measurement(0, "from 1970", Status.OK, null, Map.of("v", 1.0), Map.of(), Map.of())));
            h.send(HostProtocol.sample(r.runId(), new Measurement(0, "old", Status.OK, null, Map.of("v", 1.0), Map.of(), Map.of())));
            h.send(result(r.runId(), HostProtocol.Ending.COMPLETED));
            h.drain(true);
        });
        HostPlugin p = load();
        long before = System.currentTimeMillis();
        RunResult r = p.run(job(), new JobMemory());
        assertEquals(Status.OK, r.outcome());
        assertEquals(List.of("old", "p"), r.measurements().stream().map(Measurement::metric).toList());
        assertTrue(r.measurements().get(0).timeMillis() >= before, "a time before the run is the agent's now");
        assertTrue(r.measurements().get(1).message().startsWith("1 invalid sample(s) dropped; first: metric name 'from 1970'"),
                r.measurements().get(1).message());
    }

    @Test
    void aHostSpeakingAnotherVersionIsNotUsed() throws Exception {
        Path socket = dir.resolve("v2.sock");
        try (ServerSocketChannel v2 = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            v2.bind(UnixDomainSocketAddress.of(socket));
            Thread t = new Thread(() -> {
                try (SocketChannel ch = v2.accept()) {
                    OutputStream out = ChannelStreams.out(ch);
                    Frame.read(ChannelStreams.in(ch), HostProtocol.MAX_TO_HOST);
                    new Frame(HostProtocol.READY).i32(HostProtocol.MAGIC).u16(HostProtocol.VERSION + 1).i64(1).i64(1).writeTo(out);
                    Frame.read(ChannelStreams.in(ch), HostProtocol.MAX_TO_HOST);
                } catch (IOException e) {
                    // Closed by the agent.
                }
            });
            t.start();
            try (PluginHostClient other = new PluginHostClient(new PluginHostConfig(64 << 20, Duration.ofMillis(500), socket))) {
                PluginException e = assertThrows(PluginException.class,
                        () -> other.groovy(plugin, new CompiledScripts.Entry("P", Map.of("P", new byte[] {1}))));
                assertTrue(e.getMessage().contains("protocol version " + (HostProtocol.VERSION + 1) + "; this side speaks " + HostProtocol.VERSION), e.getMessage());
            }
            t.join(10_000);
        }
    }

    @Test
    void aHostThatStopsAnsweringIsKilledAndItsRunReportedKilled() throws Exception {
        RunResult r = afterStart(h -> h.drain(false));
        assertEquals(Status.KILLED, r.outcome(), r.toString());
        String m = r.measurements().get(0).message();
        assertTrue(m.startsWith("the plugin host stopped answering for 500ms while runs were in flight"), m);
        assertTrue(hosts.get(0).closedByAgent.isDone(), "the agent closed the connection");
    }

    @Test
    void aRunTheHostNeverEndsIsATimeoutAndCostsTheHost() throws Exception {
        long start = System.nanoTime();
        RunResult r = afterStart(h -> h.drain(true));
        assertEquals(Status.TIMEOUT, r.outcome(), r.toString());
        String m = r.measurements().get(0).message();
        assertTrue(m.startsWith("timeout: the run did not end within its 1s wall-time limit and 500ms kill_grace; "
                + "the plugin host was killed and restarted to stop it"), m);
        long took = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertTrue(took >= 2_500, "timeout + kill_grace + the margin of 1 s: " + took + " ms");
    }

    @Test
    void ofTwoRunsTheOneThatHadNotStartedIsRunAgainAndTheOtherBlamed() throws Exception {
        CompletableFuture<Void> bothSent = new CompletableFuture<>();
        scripts.add(h -> {
            HostProtocol.Run first = h.nextRun();
            h.nextRun();
            bothSent.complete(null);
            h.send(HostProtocol.started(first.runId()));
            // A host ending by itself (EOF) with a run started and one not: no word from it about why.
        });
        List<Status> outcomes = twoRunsAtOnce(load()).stream().map(RunResult::outcome).toList();
        assertTrue(bothSent.isDone());
        assertEquals(List.of(Status.OK, Status.ERROR), outcomes.stream().sorted().toList(), outcomes.toString());
    }

    @Test
    void runsThatMayHaveEndedTheHostAreRunAgainEachAlone() throws Exception {
        scripts.add(h -> {
            HostProtocol.Run a = h.nextRun();
            HostProtocol.Run b = h.nextRun();
            h.send(HostProtocol.started(a.runId()));
            h.send(HostProtocol.started(b.runId()));
            // Either could have done it: the host just ends.
        });
        for (RunResult r : twoRunsAtOnce(load())) {
            assertEquals(Status.OK, r.outcome());
        }
        assertEquals(2, hosts.size());
        assertEquals(1, hosts.get(1).mostRunsAtOnce, "the two suspects were run one at a time");
    }

    @Test
    void theHostsWordNamesTheRunThatCalledExitButOnlyARunThatStarted() throws Exception {
        scripts.add(h -> {
            HostProtocol.Run r = h.nextRun();
            h.send(HostProtocol.started(r.runId()));
            h.send(HostProtocol.ending(r.runId(), HostProtocol.Why.EXIT_CALLED));
        });
        // The next host (started as soon as this one ends): a plugin forging the last words of a run that had
        // not started, as if it ran out of memory. Ignored: that run goes again.
        scripts.add(h -> {
            HostProtocol.Run mine = h.nextRun();
            h.send(HostProtocol.ending(mine.runId(), HostProtocol.Why.OUT_OF_MEMORY));
        });
        HostPlugin p = load();
        RunResult r = p.run(job(), new JobMemory());
        assertEquals(Status.ERROR, r.outcome());
        assertTrue(r.measurements().get(0).message().startsWith("the plugin called System.exit: the plugin host exited"), r.toString());

        RunResult again = p.run(job(), new JobMemory());
        assertEquals(Status.OK, again.outcome(), again.toString());
        assertFalse(hosts.isEmpty());
    }

    // ---------------------------------------------------------------- executables (EXEC, #17 item 7)

    private Path executable() throws IOException {
        return TestJobs.script(dir, "x.sh", "#!/bin/sh\necho 'X OK | v=1'\n");
    }

    private JobSpec execJob(Path exe) {
        return TestJobs.job(exe, TestJobs.limits(Duration.ofSeconds(1), Duration.ofSeconds(1)).withOutputMax(4096));
    }

    /** An exec run whose host does {@code hostile} after STARTED; the run's result, and an honest run on the next host after it. */
    private RunResult execAfterStart(Script hostile) throws Exception {
        Script honest = h -> {
            while (true) {
                Frame f = h.next();
                if (f == null) {
                    return;
                }
                HostProtocol.Exec e = HostProtocol.readExec(f);
                h.send(HostProtocol.started(e.runId()));
                byte[] out = "X OK | v=1\n".getBytes(java.nio.charset.StandardCharsets.UTF_8);
                h.send(HostProtocol.execOutput(e.runId(), out, 0, out.length));
                h.send(HostProtocol.execResult(new HostProtocol.ExecResult(e.runId(), 0, 0, null, false, "", 1_000_000, 5_000_000_000L)));
            }
        };
        scripts.add(h -> {
            HostProtocol.Exec e = HostProtocol.readExec(h.next());
            h.send(HostProtocol.started(e.runId()));
            hostile.serve(h);
            h.drain(true);
        });
        scripts.add(honest);
        newClient();
        Path exe = executable();
        HostPlugin p = client.executable(exe, true);
        RunResult bad = p.run(execJob(exe), new JobMemory());
        RunResult good = p.run(execJob(exe), new JobMemory());
        assertEquals(Status.OK, good.outcome(), "a new host serves the next run: " + good);
        assertEquals(1.0, good.measurements().get(0).values().get("v"));
        assertTrue(good.cpuNanos() <= good.wallNanos() * Runtime.getRuntime().availableProcessors(),
                "5 s of CPU claimed for a run of 1 ms is clamped to its wall time on every core: " + good.cpuNanos());
        return bad;
    }

    @Test
    void anExecutablesOutputPastItsOutputMaxEndsTheHost() throws Exception {
        RunResult r = execAfterStart(h -> {
            byte[] chunk = new byte[3000];
            h.send(HostProtocol.execOutput(1, chunk, 0, chunk.length));
            h.send(HostProtocol.execOutput(1, chunk, 0, chunk.length));
        });
        assertBroke(r, "more standard output for run 1 than its output_max of 4096 bytes");
    }

    @Test
    void aSampleOrAGroovyResultForAnExecutablesRunEndsTheHost() throws Exception {
        RunResult r = execAfterStart(h -> h.send(HostProtocol.sample(1, Measurement.status(System.currentTimeMillis(), "p", Status.OK, "forged"))));
        assertBroke(r, "only a run of a Groovy or JAR plugin may have");
        RunResult r2 = execAfterStart(h -> h.send(result(1, HostProtocol.Ending.COMPLETED)));
        assertBroke(r2, "only a run of a Groovy or JAR plugin may have");
    }

    @Test
    void anExecResultForAGroovyRunEndsTheHost() throws Exception {
        RunResult r = afterStart(h -> h.send(HostProtocol.execResult(new HostProtocol.ExecResult(1, 0, 0, null, false, "", 1, 1))));
        assertBroke(r, "only a run of an executable may have");
    }

    @Test
    void anExecResultWithAnEndingOrExitCodeOutOfRangeEndsTheHost() throws Exception {
        RunResult r = execAfterStart(h -> h.send(HostProtocol.execResult(new HostProtocol.ExecResult(1, 9, 0, null, false, "", 1, 1))));
        assertBroke(r, "exec ending 9");
        RunResult r2 = execAfterStart(h -> h.send(HostProtocol.execResult(new HostProtocol.ExecResult(1, 0, 300, null, false, "", 1, 1))));
        assertBroke(r2, "exit code 300");
        RunResult r3 = execAfterStart(h -> h.send(HostProtocol.execResult(new HostProtocol.ExecResult(1, 0, -1, null, false, "", 1, 1))));
        assertBroke(r3, "exited without an exit code");
    }

    @Test
    void anExecRunWithNoResultIsStoppedAtTheAgentsOwnDeadline() throws Exception {
        long t0 = System.nanoTime();
        RunResult r = execAfterStart(h -> { });
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertEquals(Status.TIMEOUT, r.outcome(), r.toString());
        assertTrue(ms < 20_000, "the agent's deadline (timeout + kill grace + 6 s), not forever: " + ms + " ms");
    }
}
