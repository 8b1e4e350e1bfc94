package io.aegisquartz.agent;

import com.fasterxml.jackson.databind.JsonNode;
import io.aegisquartz.testing.AgentHome;
import io.aegisquartz.testing.StartedProcesses;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The journal of runs in progress with the real agent process ('aegis-quartz run' as a child, started
 * again after it dies with AEGIS_PREVIOUS_EXIT set as the launcher sets it): a run interrupted by
 * kill -9 is reported at the next start; a plugin that ends the agent is named, quarantined across
 * restarts, and released by 'aegis-quartz unquarantine'.
 */
class RunJournalIT {

    /** Groovy and JAR plugins of plugins-user/ in the agent's own JVM (not the plugin host): what these tests are about. */
    static final String IN_AGENT_JVM = "[plugins]\nwatch = false\nisolation = inproc\n";

    static final Path REPO = Path.of(System.getProperty("aegis.repo", "../..")).toAbsolutePath().normalize();

    @TempDir
    Path dir;

    @RegisterExtension
    final StartedProcesses started = new StartedProcesses();

    private int starts;

    @Test
    void runsInterruptedByKillNineAreReportedAtTheNextStart() throws Exception {
        AgentHome home = new AgentHome(dir.resolve("home"), IN_AGENT_JVM);
        Path marks = dir.resolve("marks");
        Files.createDirectories(marks);
        // Each writes a mark when it starts, then takes far longer than the test waits.
        home.userPlugin("slow.sh", "#!/bin/sh\ndate +%s > " + marks.resolve("slow") + "\nsleep 60\necho OK\n");
        home.userPlugin("slowg.groovy", "new File('" + marks.resolve("slowg") + "').text = 'x'\nsleep(60000)\n");
        home.cron("aegis_quartz.conf.user", """
                [* * * * * ?] name=slow timeout=90s user/slow.sh
                [* * * * * ?] name=slowg timeout=90s user/slowg.groovy
                """);

        Process agent = agent(home, null);
        await().atMost(Duration.ofSeconds(90)).until(() -> Files.exists(marks.resolve("slow")) && Files.exists(marks.resolve("slowg")));
        Instant killedAt = Instant.now();
        kill9(agent);

        // Restarted without a launcher: nobody says how it ended.
        agent = agent(home, null);
        await().atMost(Duration.ofSeconds(60)).until(() -> home.samples("slow", "killed").size() == 1
                && home.samples("slowg", "killed").size() == 1);
        JsonNode slow = home.samples("slow", "killed").get(0);
        String m = slow.get("message").asText();
        assertTrue(m.startsWith("the agent stopped during this run (job slow, started "), m);
        Instant startedAt = Instant.parse(m.substring(m.indexOf("started ") + 8, m.indexOf(')')));
        assertTrue(!startedAt.isAfter(killedAt) && startedAt.isAfter(killedAt.minusSeconds(5)), startedAt + " vs kill at " + killedAt);
        assertTrue(m.endsWith("; what the plugin printed after that was lost"), m);
        assertEquals("user/slow.sh", slow.get("plugin").asText());
        assertEquals("slow", slow.get("metric").asText());
        String g = home.samples("slowg", "killed").get(0).get("message").asText();
        assertTrue(g.startsWith("the agent stopped during this run (job slowg, started "), g);
        String log = read(home.home().resolve("log/aegis_quartz.log"));
        assertTrue(log.contains("job slow was interrupted: the agent stopped during this run"), log);
        assertTrue(log.contains("2 run(s) were in progress"), log);
        assertFalse(log.contains("quarantined"), "a kill from outside blames no plugin: " + log);

        // Once more, restarted the way the launcher does after a SIGKILL: the samples say so.
        Files.delete(marks.resolve("slow"));
        await().atMost(Duration.ofSeconds(30)).until(() -> Files.exists(marks.resolve("slow")));
        kill9(agent);
        agent(home, "signal:KILL");
        await().atMost(Duration.ofSeconds(60)).until(() -> home.samples("slow", "killed").size() == 2);
        assertTrue(home.samples("slow", "killed").get(1).get("message").asText().startsWith("the agent was killed by SIGKILL during this run"));
        assertEquals(0, unquarantine(home, dir.resolve("list.out")));
        assertTrue(read(dir.resolve("list.out")).startsWith("no job is quarantined"), read(dir.resolve("list.out")));
    }

    @Test
    void underTheLauncherAKillNineOfTheJvmIsReportedWithTheSignal() throws Exception {
        AgentHome home = new AgentHome(dir.resolve("home"), IN_AGENT_JVM);
        Path mark = dir.resolve("mark");
        home.userPlugin("slow.sh", "#!/bin/sh\ndate +%s > " + mark + "\nsleep 60\necho OK\n");
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] name=slow timeout=90s user/slow.sh\n");
        ProcessBuilder pb = new ProcessBuilder(REPO.resolve("daemon/bin/aegis-quartz").toString(), "--home", home.home().toString(), "run")
                .redirectErrorStream(true).redirectOutput(dir.resolve("launcher.out").toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.environment().remove("AEGIS_HOME");
        pb.environment().remove("AEGIS_CONF");
        pb.environment().remove("AEGIS_PREVIOUS_EXIT");
        pb.environment().put("AEGIS_CDS_ARCHIVE", dir.resolve("no-such-dir/aq.jsa").toString());
        Process launcher = started.add(pb.start());
        await().atMost(Duration.ofSeconds(90)).until(() -> Files.exists(mark));

        ProcessHandle jvm = launcher.toHandle().children().filter(h -> h.info().commandLine().orElse("").contains("io.aegisquartz.cli.Main"))
                .findFirst().orElseThrow();
        List<ProcessHandle> plugins = jvm.descendants().toList();
        jvm.destroyForcibly();
        plugins.forEach(ProcessHandle::destroyForcibly);

        await().atMost(Duration.ofSeconds(90)).until(() -> !home.samples("slow", "killed").isEmpty());
        String m = home.samples("slow", "killed").get(0).get("message").asText();
        assertTrue(m.startsWith("the agent was killed by SIGKILL during this run (job slow, started "), m);
        assertTrue(launcher.isAlive());
        assertEquals(List.of(), home.samples("slow", s -> s.get("message").asText().startsWith("quarantined")), "an outside kill blames no plugin");
    }

    @Test
    void aPluginThatCallsSystemExitIsNamedQuarantinedAcrossRestartsAndReleasedByUnquarantine() throws Exception {
        AgentHome home = new AgentHome(dir.resolve("home"), IN_AGENT_JVM);
        home.userPlugin("exit.groovy", "System.exit(3)\n");
        home.userPlugin("reflect.groovy", "System.getMethod('exit', int).invoke(null, 3)\n");
        home.userPlugin("tick.sh", "#!/bin/sh\necho 'TICK OK'\n");
        Path ticks = home.home().resolve("plugins-user/tick.sh");
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] name=exit user/exit.groovy\n[* * * * * ?] name=tick " + ticks + "\n");

        Process first = agent(home, null);
        assertTrue(first.waitFor(90, TimeUnit.SECONDS), "the plugin ended the agent");
        assertEquals(3, first.exitValue());

        Process second = agent(home, "exit:3");
        await().atMost(Duration.ofSeconds(60)).until(() -> !home.samples("exit", "error").isEmpty()
                && home.samples("exit", s -> s.get("message").asText().startsWith("quarantined: ")).size() >= 2);
        String error = home.samples("exit", "error").get(0).get("message").asText();
        assertTrue(error.startsWith("this run called System.exit and ended the agent (exit code 3): thread 'plugin exit' in exit.groovy "
                + "(job exit, started "), error);
        assertTrue(error.endsWith("the job is quarantined until its plugin file changes or 'aegis-quartz unquarantine exit'"), error);
        assertTrue(second.isAlive(), "the quarantined plugin does not run again");
        int ticksBefore = home.samples("tick", "ok").size();
        await().atMost(Duration.ofSeconds(20)).until(() -> home.samples("tick", "ok").size() >= ticksBefore + 3);

        // A clean stop and a start: still quarantined, from its record.
        stop(second);
        int skippedBefore = quarantinedSkips(home, "exit");
        Process third = agent(home, null);
        await().atMost(Duration.ofSeconds(60)).until(() -> quarantinedSkips(home, "exit") >= skippedBefore + 2);
        assertTrue(third.isAlive());
        assertTrue(read(home.home().resolve("log/aegis_quartz.log")).contains("job exit is quarantined since "));

        // Released: it runs, ends the agent again, and is quarantined again at the next start.
        assertEquals(0, unquarantine(home, dir.resolve("list.out")));
        assertTrue(read(dir.resolve("list.out")).startsWith("quarantined exit  (user/exit.groovy, since "), read(dir.resolve("list.out")));
        assertEquals(0, unquarantine(home, dir.resolve("release.out"), "exit"));
        assertTrue(third.waitFor(60, TimeUnit.SECONDS), "released, it runs and ends the agent again");
        assertEquals(3, third.exitValue());
        Process fourth = agent(home, "exit:3");
        await().atMost(Duration.ofSeconds(60)).until(() -> home.samples("exit", "error").size() == 2);
        assertTrue(fourth.isAlive());
        assertEquals(1, unquarantine(home, dir.resolve("none.out"), "no-such-job"));
        assertTrue(read(dir.resolve("none.out")).contains("job 'no-such-job' is not quarantined; quarantined: exit"), read(dir.resolve("none.out")));
        assertEquals(0, unquarantine(home, dir.resolve("help.out"), "--help"));
        assertTrue(read(dir.resolve("help.out")).startsWith("Usage: aegis-quartz unquarantine"));

        // Through reflection: the same.
        stop(fourth);
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] name=reflect user/reflect.groovy\n[* * * * * ?] name=tick " + ticks + "\n");
        Process fifth = agent(home, null);
        assertTrue(fifth.waitFor(90, TimeUnit.SECONDS));
        agent(home, "exit:3");
        await().atMost(Duration.ofSeconds(60)).until(() -> !home.samples("reflect", "error").isEmpty());
        assertTrue(home.samples("reflect", "error").get(0).get("message").asText()
                .startsWith("this run called System.exit and ended the agent (exit code 3): thread 'plugin reflect' in reflect.groovy"));
    }

    @Test
    void aHaltIsBlamedOnTheOnlyRunInsideTheAgentAndAnEditOfThePluginReleasesIt() throws Exception {
        AgentHome home = new AgentHome(dir.resolve("home"), IN_AGENT_JVM);
        home.userPlugin("halt.groovy", "Runtime.getRuntime().halt(3)\n");
        home.userPlugin("tick.sh", "#!/bin/sh\necho 'TICK OK'\n");
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] name=halt user/halt.groovy\n[* * * * * ?] name=tick user/tick.sh\n");

        Process first = agent(home, null);
        assertTrue(first.waitFor(90, TimeUnit.SECONDS));
        assertEquals(3, first.exitValue());
        Process second = agent(home, "exit:3");
        await().atMost(Duration.ofSeconds(60)).until(() -> !home.samples("halt", "error").isEmpty() && quarantinedSkips(home, "halt") >= 1);
        String error = home.samples("halt", "error").get(0).get("message").asText();
        assertTrue(error.startsWith("the agent exited with code 3 without running its shutdown hooks (Runtime.halt or a native exit) during "
                + "this run, the only run inside the agent then, so it is held responsible (job halt, started "), error);

        // Fixed: the edit releases it at its next fire, and the agent stays up.
        home.userPlugin("halt.groovy", "emit('halt', [fixed: 1])\n");
        await().atMost(Duration.ofSeconds(60)).until(() -> !home.samples("halt", "ok").isEmpty());
        assertTrue(second.isAlive());
        assertTrue(read(home.home().resolve("log/aegis_quartz.log")).contains("job halt leaves quarantine: its plugin file changed"));
    }

    private static int quarantinedSkips(AgentHome home, String job) {
        return home.samples(job, s -> s.get("status").asText().equals("skipped") && s.get("message").asText().startsWith("quarantined: ")).size();
    }

    /** Starts 'aegis-quartz run' on {@code home}, with AEGIS_PREVIOUS_EXIT as the launcher would set it (null: unset). */
    private Process agent(AgentHome home, String previousExit) throws Exception {
        Path out = dir.resolve("agent-" + (++starts) + ".out");
        ProcessBuilder pb = new ProcessBuilder(command(home, "run")).redirectErrorStream(true).redirectOutput(out.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.environment().remove("AEGIS_PREVIOUS_EXIT");
        if (previousExit != null) {
            pb.environment().put("AEGIS_PREVIOUS_EXIT", previousExit);
        }
        return started.add(pb.start());
    }

    private int unquarantine(AgentHome home, Path out, String... jobs) throws Exception {
        List<String> cmd = command(home, "unquarantine");
        cmd.addAll(List.of(jobs));
        Process p = started.add(new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile()).start());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        return p.exitValue();
    }

    private static List<String> command(AgentHome home, String command) {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String cp = REPO.resolve("daemon/agent/target/aegis-quartz.jar") + File.pathSeparator + REPO.resolve("daemon/agent/target/lib/*");
        return new ArrayList<>(List.of(java, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx128m", "-cp", cp, "io.aegisquartz.cli.Main",
                "--home", home.home().toString(), command));
    }

    /** SIGKILL to the agent, then to what its runs left behind (they are in sessions of their own). */
    private static void kill9(Process agent) throws Exception {
        List<ProcessHandle> children = agent.descendants().toList();
        agent.destroyForcibly();
        assertTrue(agent.waitFor(10, TimeUnit.SECONDS));
        children.forEach(ProcessHandle::destroyForcibly);
    }

    private static void stop(Process agent) throws Exception {
        agent.destroy(); // SIGTERM: a stop on request
        assertTrue(agent.waitFor(60, TimeUnit.SECONDS));
    }

    private static String read(Path f) {
        try {
            return Files.exists(f) ? Files.readString(f) : "";
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
