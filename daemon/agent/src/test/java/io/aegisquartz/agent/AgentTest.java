package io.aegisquartz.agent;

import com.fasterxml.jackson.databind.JsonNode;
import io.aegisquartz.schedule.ScheduledJob;
import io.aegisquartz.testing.AgentHome;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The agent in this JVM, on a real home directory, with real plugins, cron files and a real sink. */
class AgentTest {

    private static final String FAST_RELOAD = "[plugins]\nreload_delay = 100ms\n";

    @TempDir
    Path dir;

    private Agent agent;

    @AfterEach
    void stopAgent() {
        if (agent != null) {
            agent.stop();
        }
    }

    private Agent start(AgentHome home) throws Exception {
        agent = new Agent(home.settings());
        agent.start();
        return agent;
    }

    /**
     * Starts the agent on {@code cron} over two plugins: user/hog.sh sleeps {@code seconds} and user/tick.sh
     * returns at once. {@code settings} are added to aegis_config.ini (the file watcher is off).
     */
    private AgentHome hogAndTicker(String settings, int seconds, String cron) throws Exception {
        AgentHome home = new AgentHome(dir, "[plugins]\nwatch = false\n" + settings);
        home.userPlugin("hog.sh", "#!/bin/sh\nsleep " + seconds + "\necho 'HOG OK'\n");
        home.userPlugin("tick.sh", "#!/bin/sh\necho 'TICK OK'\n");
        home.cron("aegis_quartz.conf.user", cron);
        start(home);
        return home;
    }

    private static ScheduledJob job(Agent a, String name) {
        return a.jobs().values().stream().filter(j -> j.spec().name().equals(name)).findFirst().orElse(null);
    }

    @Test
    void editingOneCronLineReschedulesOnlyThatJob() throws Exception {
        AgentHome home = new AgentHome(dir, FAST_RELOAD);
        home.userPlugin("a.sh", "#!/bin/sh\necho '{\"metric\":\"a\",\"values\":{\"x\":1}}'\n");
        home.userPlugin("b.sh", "#!/bin/sh\necho '{\"metric\":\"b\",\"values\":{\"x\":1}}'\n");
        home.cron("aegis_quartz.conf.user", "[0 0 3 * * ?] user/a.sh\n[0 0 4 * * ?] user/b.sh\n");
        start(home);
        ScheduledJob a = job(agent, "user/a.sh");
        ScheduledJob b = job(agent, "user/b.sh");

        // The file watcher picks the edit up; no signal, no restart.
        home.cron("aegis_quartz.conf.user", "[0 30 3 * * ?] user/a.sh\n[0 0 4 * * ?] user/b.sh\n");

        await().atMost(Duration.ofSeconds(10)).until(() -> job(agent, "user/a.sh") != a);
        ScheduledJob a2 = job(agent, "user/a.sh");
        assertEquals("0 30 3 * * ?", a2.spec().cron());
        assertSame(b, job(agent, "user/b.sh"), "the unchanged job was not touched");
        assertSame(a.memory(), a2.memory(), "a changed job keeps its plugin state");
    }

    @Test
    void aBadEditKeepsTheLastGoodSchedule() throws Exception {
        AgentHome home = new AgentHome(dir, "[plugins]\nwatch = false\n");
        home.userPlugin("a.sh", "#!/bin/sh\necho 'OK'\n");
        home.userPlugin("b.sh", "#!/bin/sh\necho 'OK'\n");
        home.cron("aegis_quartz.conf.user", "[0 0 3 * * ?] user/a.sh\n[0 0 4 * * ?] user/b.sh\n");
        start(home);
        ScheduledJob a = job(agent, "user/a.sh");
        ScheduledJob b = job(agent, "user/b.sh");

        // Hours 25 on a's line: its job keeps the old definition; b is untouched.
        home.cron("aegis_quartz.conf.user", "[0 0 25 * * ?] user/a.sh\n[0 0 4 * * ?] user/b.sh\n");
        agent.reload("SIGHUP");
        assertSame(a, job(agent, "user/a.sh"));
        assertSame(b, job(agent, "user/b.sh"));

        // A line that cannot even be identified might be an edit of any job: nothing is removed.
        home.cron("aegis_quartz.conf.user", "[0 0 4 * * ? user/b.sh\n");
        agent.reload("SIGHUP");
        assertEquals(2, agent.jobs().size());

        // Fixing the file applies it: a is removed, b stays.
        home.cron("aegis_quartz.conf.user", "[0 0 4 * * ?] user/b.sh\n");
        agent.reload("SIGHUP");
        assertEquals(1, agent.jobs().size());
        assertSame(b, job(agent, "user/b.sh"));
    }

    @Test
    void dropInFilesAreWatchedEachOnItsOwn() throws Exception {
        AgentHome home = new AgentHome(dir, FAST_RELOAD);
        home.userPlugin("a.sh", "#!/bin/sh\necho 'OK'\n");
        start(home);
        assertEquals(0, agent.jobs().size());

        // The directory did not exist at start: creating it and a file in it is enough.
        Path dropIns = Files.createDirectories(home.conf().resolve("aegis_quartz.conf.d"));
        AgentHome.write(dropIns.resolve("10-a.conf"), "[0 0 3 * * ?] name=a user/a.sh\n");
        await().atMost(Duration.ofSeconds(10)).until(() -> job(agent, "a") != null);
        ScheduledJob a = job(agent, "a");

        // A broken file beside it, and an editor's backup, change nothing for a.
        AgentHome.write(dropIns.resolve("20-b.conf"), "[0 0 25 * * ?] name=b user/a.sh\n");
        AgentHome.write(dropIns.resolve("10-a.conf~"), "[0 0 4 * * ?] name=a user/a.sh\n");
        AgentHome.write(dropIns.resolve("30-c.conf"), "[0 0 5 * * ?] name=c user/a.sh\n");
        await().atMost(Duration.ofSeconds(10)).until(() -> job(agent, "c") != null);
        assertSame(a, job(agent, "a"));
        assertEquals(null, job(agent, "b"));

        Files.delete(dropIns.resolve("10-a.conf"));
        await().atMost(Duration.ofSeconds(10)).until(() -> job(agent, "a") == null);
        assertEquals(1, agent.jobs().size());
    }

    @Test
    void aBrokenUserFileNeverDisablesDefaultJobs() throws Exception {
        AgentHome home = new AgentHome(dir, "[plugins]\nwatch = false\n");
        Files.writeString(home.home().resolve("plugins-default/d.sh"), "#!/bin/sh\necho OK\n");
        home.home().resolve("plugins-default/d.sh").toFile().setExecutable(true);
        home.cron("aegis_quartz.conf.default", "[0 0 3 * * ?] default/d.sh\n");
        home.cron("aegis_quartz.conf.user", "this is not a cron line\n[0 0 3 * * ?] default/d.sh\n[broken\n");
        start(home);

        assertEquals(1, agent.jobs().size());
        assertEquals("default/d.sh", agent.jobs().values().iterator().next().spec().name());
    }

    @Test
    void anOverlappingFireIsSkippedAndRecordedAsSkipped() throws Exception {
        AgentHome home = new AgentHome(dir, "[plugins]\nwatch = false\n");
        home.userPlugin("slow.sh", "#!/bin/sh\nsleep 2.5\necho 'SLOW OK'\n");
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] timeout=10s user/slow.sh\n");
        start(home);

        await().atMost(Duration.ofSeconds(10)).until(() -> !home.samples("user/slow.sh", "skipped").isEmpty());
        JsonNode skipped = home.samples("user/slow.sh", "skipped").get(0);
        assertTrue(skipped.get("message").asText().startsWith("previous run still going"), skipped.toString());
        await().atMost(Duration.ofSeconds(10)).until(() -> !home.samples("user/slow.sh", "ok").isEmpty());
    }

    @Test
    void aJobThatKeepsFailingIsBackedOffAndItsSamplesSaySo() throws Exception {
        AgentHome home = new AgentHome(dir, "[plugins]\nwatch = false\n[limits]\nbackoff_after = 2\n");
        home.userPlugin("broken.sh", "#!/bin/sh\necho 'something broke' >&2\nexit 7\n");
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] user/broken.sh\n");
        start(home);

        await().atMost(Duration.ofSeconds(15)).until(() -> home.samples("user/broken.sh", s ->
                s.get("status").asText().equals("skipped") && s.get("message").asText().startsWith("backing off")).size() > 0);
        List<JsonNode> errors = home.samples("user/broken.sh", "error");
        assertTrue(errors.size() >= 2);
        assertTrue(errors.get(0).get("message").asText().contains("exit code 7"), errors.get(0).toString());
        assertTrue(errors.get(0).get("message").asText().contains("something broke"), "stderr's last line is in the reason");
    }

    @Test
    void firesDueWhileThePluginsCompileAtStartAreNotCountedAsMissed() throws Exception {
        AgentHome home = new AgentHome(dir, "[plugins]\nwatch = false\n");
        // Compiling this script takes 4 s, more than Quartz's 2 s misfire threshold: @ASTTest runs its
        // closure at compile time.
        home.userPlugin("slow_compile.groovy", "import groovy.transform.ASTTest\n@ASTTest(value = { Thread.sleep(4000); true })\n"
                + "def v = 1\nemit('slow_compile', [v: v])\n");
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] user/slow_compile.groovy\n");
        start(home);

        await().atMost(Duration.ofSeconds(60)).until(() -> home.samples("user/slow_compile.groovy", "ok").size() >= 2);
        // (A fire may still be skipped as "previous run still going" while the script's first run sets Groovy up.)
        assertEquals(List.of(), home.samples("user/slow_compile.groovy", s -> s.get("status").asText().equals("skipped")
                        && s.get("message").asText().startsWith("missed")),
                "the job is scheduled once its plugin is compiled: no fire passed while it compiled");
    }

    @Test
    void missedFiresAreSkippedNotReplayedAndOtherJobsKeepRunning() throws Exception {
        // One worker: while the hog holds it for 4 s, the ticker's fires pass their time.
        AgentHome home = hogAndTicker("[agent]\nworkers = 1\n", 4, "[0/10 * * * * ?] user/hog.sh\n[* * * * * ?] user/tick.sh\n");

        await().atMost(Duration.ofSeconds(25)).until(() -> !home.samples("user/tick.sh", s ->
                s.get("status").asText().equals("skipped") && s.get("message").asText().startsWith("missed")).isEmpty());
        await().atMost(Duration.ofSeconds(10)).until(() -> !home.samples("user/hog.sh", "ok").isEmpty());
        // After the hog is done the ticker runs again, once a second, not a burst of the missed fires.
        long hogEnd = millis(home.samples("user/hog.sh", "ok").get(0));
        await().atMost(Duration.ofSeconds(10)).until(() -> home.samples("user/tick.sh", s ->
                s.get("status").asText().equals("ok") && millis(s) > hogEnd + 2_000).size() >= 1);
        long burst = home.samples("user/tick.sh", s -> s.get("status").asText().equals("ok")
                && millis(s) > hogEnd && millis(s) <= hogEnd + 1_000).size();
        assertTrue(burst <= 2, "at most the one late fire plus the next on-time one in the second after, got " + burst);
    }

    @Test
    void withRunOnceAMissedFireRunsAsSoonAsAWorkerIsFree() throws Exception {
        // The hog holds the one worker from :00 to :05 of every ten seconds; the ticker's fire at :01
        // passes while it does. With misfire=run_once it runs as soon as the hog is done (at :05), not at
        // its next fire time (:11), and nothing is reported skipped.
        AgentHome home = hogAndTicker("[agent]\nworkers = 1\n", 5, "[0/10 * * * * ?] user/hog.sh\n[1/10 * * * * ?] misfire=run_once user/tick.sh\n");

        await().atMost(Duration.ofSeconds(25)).until(() -> !home.samples("user/hog.sh", "ok").isEmpty());
        long hogEnd = millis(home.samples("user/hog.sh", "ok").get(0));
        // The next on-time fire is about 6 s after the hog ends, so 3.5 s leaves a loaded machine room.
        await().atMost(Duration.ofSeconds(6)).until(() -> home.samples("user/tick.sh", s ->
                s.get("status").asText().equals("ok") && millis(s) > hogEnd && millis(s) <= hogEnd + 3_500).size() == 1);
        assertEquals(List.of(), home.samples("user/tick.sh", "skipped"), "nothing skipped with misfire=run_once");
    }

    @Test
    void aSlowJobDoesNotDelayTheOthers() throws Exception {
        AgentHome home = hogAndTicker("", 5, "[* * * * * ?] user/hog.sh\n[* * * * * ?] user/tick.sh\n");

        await().atMost(Duration.ofSeconds(15)).until(() -> !home.samples("user/hog.sh", "ok").isEmpty());
        JsonNode slow = home.samples("user/hog.sh", "ok").get(0);
        long slowEnd = millis(slow);
        long slowStart = slowEnd - (long) slow.get("duration_ms").asDouble();
        // Five ticks fall inside the slow run. A host stalled for seconds (a loaded CI machine) may
        // make one miss its fire time, which is the misfire policy's business, not this test's; a slow
        // job that held the scheduler or the workers would leave none at all.
        List<JsonNode> during = home.samples("user/tick.sh", s -> s.get("status").asText().equals("ok")
                && millis(s) >= slowStart && millis(s) <= slowEnd);
        assertTrue(during.size() >= 3, "the ticker ran " + during.size() + " time(s) during the 5 s slow run; its other samples: "
                + home.samples("user/tick.sh", s -> !s.get("status").asText().equals("ok")));
    }

    /** In the agent's JVM (isolation=inproc); in the plugin host such a thread costs the host instead (PluginHostIT). */
    @Test
    void pluginThreadsThatWillNotStopAreQuarantinedAndTooManyRestartTheAgent() throws Exception {
        AgentHome home = new AgentHome(dir, "[plugins]\nwatch = false\n[limits]\nmax_abandoned_threads = 1\nkill_grace = 200ms\n");
        // ServerSocket.accept() ignores interrupts: the plugin thread cannot be stopped from inside the JVM.
        String stuck = """
                def s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())
                new File(args[0]).text = s.localPort as String
                try { s.accept().close() } finally { s.close() }
                """;
        Files.writeString(home.home().resolve("plugins-user/stuck.groovy"), stuck);
        Path port1 = dir.resolve("port1");
        Path port2 = dir.resolve("port2");
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] timeout=500ms isolation=inproc name=stuck1 user/stuck.groovy " + port1 + "\n"
                + "[* * * * * ?] timeout=500ms isolation=inproc name=stuck2 user/stuck.groovy " + port2 + "\n");
        start(home);
        try {
            await().atMost(Duration.ofSeconds(60)).until(() -> !home.samples("stuck1", s -> s.get("status").asText().equals("skipped")
                    && s.get("message").asText().startsWith("quarantined")).isEmpty()
                    || agent.exitCode() == Agent.EXIT_RESTART);
            // Two abandoned threads > max 1: the agent stops itself and asks to be restarted.
            await().atMost(Duration.ofSeconds(15)).until(() -> agent.exitCode() == Agent.EXIT_RESTART);
            agent.awaitStop();
            List<JsonNode> timeouts = home.samples("stuck1", "timeout");
            assertTrue(timeouts.get(0).get("message").asText().contains("abandoned"), timeouts.get(0).toString());
        } finally {
            release(port1);
            release(port2);
        }
    }

    /** Unblocks a stuck test plugin so its thread ends. */
    private static void release(Path portFile) {
        try {
            if (Files.exists(portFile)) {
                new Socket(InetAddress.getLoopbackAddress(), Integer.parseInt(Files.readString(portFile).strip())).close();
            }
        } catch (Exception ignored) {
            // Already gone.
        }
    }

    @Test
    void editingAPluginTakesEffectAtItsNextRun() throws Exception {
        AgentHome home = new AgentHome(dir, FAST_RELOAD);
        Path plugin = home.home().resolve("plugins-user/v.groovy");
        Files.writeString(plugin, "emit('v', [version: 1])\n");
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] user/v.groovy\n");
        start(home);
        await().atMost(Duration.ofSeconds(60)).until(() -> !home.samples("user/v.groovy", "ok").isEmpty());

        AgentHome.write(plugin, "emit('v', [version: 2])\n");

        // A compile in a JVM of its own, then (in the plugin host) a load there: seconds on a loaded machine.
        await().atMost(Duration.ofSeconds(60)).until(() -> home.samples("user/v.groovy", s ->
                s.path("values").path("version").asInt() == 2).size() > 0);
    }

    @Test
    void stopLetsARunningJobFinishAndRecordsItsSample() throws Exception {
        AgentHome home = new AgentHome(dir, "[plugins]\nwatch = false\n");
        Path started = dir.resolve("started");
        home.userPlugin("slow.sh", "#!/bin/sh\ntouch \"$1\"\nsleep 1\necho 'SLOW OK'\n");
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] user/slow.sh " + started + "\n");
        start(home);
        await().atMost(Duration.ofSeconds(5)).until(() -> Files.exists(started));

        agent.stop();

        String name = "user/slow.sh " + started;
        assertEquals(1, home.samples(name, "ok").size(), "the run in progress finished and was recorded");
        assertTrue(home.samples(name, "timeout").isEmpty() && home.samples(name, "killed").isEmpty());
    }

    @Test
    void aQuarantinedJobResumesWhenItsPluginFileChanges() throws Exception {
        AgentHome home = new AgentHome(dir, "[plugins]\nwatch = false\n[limits]\nkill_grace = 200ms\n");
        Path plugin = home.home().resolve("plugins-user/q.groovy");
        Path port = dir.resolve("port");
        Files.writeString(plugin, """
                def s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())
                new File(args[0]).text = s.localPort as String
                try { s.accept().close() } finally { s.close() }
                """);
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] timeout=500ms isolation=inproc name=q user/q.groovy " + port + "\n");
        start(home);
        try {
            await().atMost(Duration.ofSeconds(60)).until(() -> !home.samples("q", s -> s.get("status").asText().equals("skipped")
                    && s.get("message").asText().startsWith("quarantined")).isEmpty());
            assertEquals(1, home.samples("q", "timeout").size(), "no run while quarantined");

            // Raising the timeout is the natural reaction, but the stuck thread still runs: stay quarantined.
            home.cron("aegis_quartz.conf.user", "[* * * * * ?] timeout=600ms isolation=inproc name=q user/q.groovy " + port + "\n");
            agent.reload("SIGHUP");
            int skipped = home.samples("q", "skipped").size();
            await().atMost(Duration.ofSeconds(10)).until(() -> home.samples("q", "skipped").size() >= skipped + 2);
            assertEquals(1, home.samples("q", "timeout").size(), "an edited line does not release the quarantine");

            AgentHome.write(plugin, "emit('q', [fixed: 1])\n");

            await().atMost(Duration.ofSeconds(60)).until(() -> !home.samples("q", "ok").isEmpty());
        } finally {
            release(port);
        }
    }

    @Test
    void eventsFromTheEventCommandAreStoredLikeSamples() throws Exception {
        AgentHome home = new AgentHome(dir, "[plugins]\nwatch = false\n");
        // One written while the agent is down, one while it runs.
        io.aegisquartz.spool.EventInbox.write(home.home().resolve("spool"), "backup.failed", "rsync exit 23", "storage", 1_000L);
        start(home);
        io.aegisquartz.spool.EventInbox.write(home.home().resolve("spool"), "deploy.done", "v42", null, 2_000L);

        await().atMost(Duration.ofSeconds(10)).until(() -> home.samples("agent/event", "ok").size() == 2);
        JsonNode first = home.samples("agent/event", "ok").get(0);
        assertEquals("event", first.get("metric").asText());
        assertEquals("backup.failed", first.get("tags").get("name").asText());
        assertEquals("storage", first.get("tags").get("group").asText());
        assertEquals("rsync exit 23", first.get("message").asText());
        assertEquals("1970-01-01T00:00:01.000Z", first.get("time").asText());
        try (var left = Files.list(home.home().resolve("spool/incoming"))) {
            assertEquals(0, left.count(), "stored events are removed from incoming/");
        }
    }

    private static long millis(JsonNode sample) {
        return Instant.parse(sample.get("time").asText()).toEpochMilli();
    }
}
