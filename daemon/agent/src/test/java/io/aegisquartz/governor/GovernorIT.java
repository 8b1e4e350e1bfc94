package io.aegisquartz.governor;

import io.aegisquartz.testing.AgentHome;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The real agent, started by its launcher, with plugins that burn CPU: the governor sheds them one by
 * one, the rest keeps running, and the agent's own CPU, measured from /proc, ends up under its budget.
 */
class GovernorIT {

    static final Path REPO = Path.of(System.getProperty("aegis.repo", "../..")).toAbsolutePath().normalize();
    static final long BUDGET_PCT = 10;

    @TempDir
    Path dir;

    @org.junit.jupiter.api.extension.RegisterExtension
    final io.aegisquartz.testing.StartedProcesses started = new io.aegisquartz.testing.StartedProcesses();


    private Process launch(AgentHome home) throws Exception {
        Process p = new ProcessBuilder("sh", REPO.resolve("daemon/bin/aegis-quartz").toString(), "--home", home.home().toString(), "run")
                .redirectErrorStream(true).redirectOutput(dir.resolve("agent.out").toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        started.add(p);
        return p;
    }

    private static String log(AgentHome home) throws Exception {
        Path f = home.home().resolve("log/aegis_quartz.log");
        return Files.exists(f) ? Files.readString(f) : "";
    }

    /** utime + stime + cutime + cstime of {@code pid}, in clock ticks (10 ms). */
    private static long cpuTicks(long pid) throws Exception {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).trim().split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]) + Long.parseLong(f[13]) + Long.parseLong(f[14]);
    }

    @Test
    void pluginsThatBurnCpuAreShedAndTheAgentStaysUnderItsBudget() throws Exception {
        AgentHome home = new AgentHome(dir.resolve("home"), "[plugins]\nwatch = false\n[governor]\ncpu_max = " + BUDGET_PCT
                + "\nwindow = 3s\nshed_for = 1h\n");
        // About 40% and 25% of a core: one in a JVM (the plugin host), one as a process.
        // Each burns a fixed amount of CPU, not of wall time: on a loaded machine a wall-time burner
        // gets a fraction of a core and may never take the agent over its budget.
        home.userPlugin("burn.groovy", "def mx = java.lang.management.ManagementFactory.threadMXBean\n"
                + "long t0 = mx.currentThreadCpuTime\nlong now = t0\n"
                + "while (now - t0 < 400_000_000L) { now = mx.currentThreadCpuTime }\nemit('burn', [n: 1])\n");
        home.userPlugin("burn.sh", "#!/bin/sh\ni=0\nwhile [ $i -lt 600000 ]; do i=$((i + 1)); done\necho OK\n");
        home.userPlugin("tick.sh", "#!/bin/sh\necho 'OK - tick'\n");
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] user/burn.groovy\n[0/2 * * * * ?] user/burn.sh\n[* * * * * ?] user/tick.sh\n");
        Process launcher = launch(home);

        try {
            await().atMost(Duration.ofSeconds(60)).until(() -> log(home).contains("shedding job user/burn.groovy")
                    && log(home).contains("shedding job user/burn.sh"));
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            throw new AssertionError("both burners shed within 60 s; the agent's log:\n" + log(home) + "\nits output:\n"
                    + Files.readString(dir.resolve("agent.out")), e);
        }
        for (String job : List.of("user/burn.groovy", "user/burn.sh")) {
            await().atMost(Duration.ofSeconds(10)).until(() -> !home.samples(job, s -> s.get("status").asText().equals("skipped")
                    && s.get("message").asText().startsWith("shed by the governor until ")).isEmpty());
        }
        String line = log(home).lines().filter(l -> l.contains("shedding job user/burn.groovy")).findFirst().orElseThrow();
        assertTrue(line.matches(".*governor: agent used \\d+\\.\\d% of a core over the last 3s \\(budget 10\\.0%\\).*"), line);

        // With both burners shed, measure the agent JVM (the launcher's child) over a stretch of ticks.
        long java = launcher.children().filter(h -> h.info().command().orElse("").endsWith("java")).findFirst().orElseThrow().pid();
        long ticks0 = cpuTicks(java);
        long t0 = System.nanoTime();
        int ticksBefore = home.samples("user/tick.sh", "ok").size();
        await().atMost(Duration.ofSeconds(60)).until(() -> home.samples("user/tick.sh", "ok").size() >= ticksBefore + 10);
        double pct = 100.0 * (cpuTicks(java) - ticks0) * 10_000_000L / (System.nanoTime() - t0);
        System.out.printf("agent CPU with the burners shed: %.2f%% of a core%n", pct);
        assertTrue(pct < BUDGET_PCT, "the agent stays under its budget once the burners are shed: " + pct + "%");
        assertTrue(home.samples("user/tick.sh", "ok").size() >= ticksBefore + 10, "the cheap job kept running");
    }

    @Test
    void overTheMemoryBudgetWithNothingToShedTheAgentRestartsItself() throws Exception {
        AgentHome home = new AgentHome(dir.resolve("home"), "[plugins]\nwatch = false\n[governor]\nmemory_max = 1MiB\nwindow = 1s\nexit_after = 2\nrestart_min_uptime = 0s\n");
        home.userPlugin("tick.sh", "#!/bin/sh\necho 'OK - tick'\n");
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] user/tick.sh\n");
        Process launcher = launch(home);

        await().atMost(Duration.ofSeconds(60)).until(() -> log(home).lines().filter(l -> l.contains("aegis-quartz ") && l.contains(" starting: pid")).count() >= 2);
        String text = log(home);
        assertTrue(text.contains("no job to shed; restarting if this lasts 1 more window(s)"), text);
        assertTrue(text.matches("(?s).*restarting: governor: agent used .* and has .* resident \\(budget 1MiB\\) for 2 window\\(s\\) with no job left to shed.*"), text);
        assertTrue(launcher.isAlive(), "the launcher started the agent again");
        launcher.destroy();
        assertTrue(launcher.waitFor(30, TimeUnit.SECONDS));
    }

    @Test
    void anAgentOverBudgetFromItsStartIsNotRestartedInALoop() throws Exception {
        AgentHome home = new AgentHome(dir.resolve("home"), "[plugins]\nwatch = false\n[governor]\nmemory_max = 1MiB\nwindow = 1s\nexit_after = 2\n");
        home.userPlugin("tick.sh", "#!/bin/sh\necho 'OK - tick'\n");
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] user/tick.sh\n");
        launch(home);

        await().atMost(Duration.ofSeconds(60)).until(() -> log(home).contains("not restarting: the agent has been up only"));
        int ticks = home.samples("user/tick.sh", "ok").size();
        await().atMost(Duration.ofSeconds(30)).until(() -> home.samples("user/tick.sh", "ok").size() >= ticks + 3);
        String text = log(home);
        assertTrue(text.contains("(restart_min_uptime 1h)"), text);
        assertTrue(text.lines().filter(l -> l.contains(" starting: pid")).count() == 1, "started once, never restarted: " + text);
        assertTrue(text.lines().filter(l -> l.contains("not restarting")).count() == 1, "said once: " + text);
    }
}
