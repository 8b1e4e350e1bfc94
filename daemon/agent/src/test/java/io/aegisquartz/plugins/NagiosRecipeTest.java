package io.aegisquartz.plugins;

import io.aegisquartz.config.AgentSettings;
import io.aegisquartz.config.StrictModes;
import io.aegisquartz.config.CronFile;
import io.aegisquartz.config.CronFileParser;
import io.aegisquartz.config.JobSource;
import io.aegisquartz.config.JobSpec;
import io.aegisquartz.plugin.JobMemory;
import io.aegisquartz.plugin.catalog.PluginCatalog;
import io.aegisquartz.plugin.RunResult;
import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Status;
import io.aegisquartz.testing.PluginRunners;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.DirectoryStream;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The recipe "Running stock Nagios plugins" in plugins-default/README.md: its cron lines, taken from the
 * README itself, parsed by the agent's cron parser and run as the agent runs a job, against what the
 * machine says independently (/proc, statvfs, a zombie and a listening socket of this test's own).
 * How each stock plugin's output compares with running it directly is NagiosPluginsTest's business.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class NagiosRecipeTest extends PluginRunners {

    static final Path REPO = Path.of(System.getProperty("user.dir")).resolve("../..").normalize();
    static final Path PLUGINS = Path.of("/usr/lib/nagios/plugins");
    static final Pattern RECIPE = Pattern.compile("(?ms)^```cron recipe=nagios\\n(.*?)^```$");

    @BeforeAll
    static void requireStockPlugins() {
        if (!Files.isExecutable(PLUGINS.resolve("check_load"))) {
            fail(PLUGINS.resolve("check_load") + " is missing: install monitoring-plugins-basic "
                    + "(apt-get install monitoring-plugins-basic)");
        }
    }

    /** The cron lines of the recipe block in plugins-default/README.md. */
    static List<String> recipeLines() throws IOException {
        Matcher m = RECIPE.matcher(Files.readString(REPO.resolve("plugins-default/README.md")));
        assertTrue(m.find(), "plugins-default/README.md has no ```cron recipe=nagios block");
        List<String> lines = m.group(1).lines().filter(l -> !l.isBlank()).toList();
        assertTrue(!m.find(), "one recipe block only");
        return lines;
    }

    /** The recipe's line for {@code name=NAME}. */
    static String line(String name) throws IOException {
        List<String> found = recipeLines().stream().filter(l -> l.contains(" name=" + name + " ")).toList();
        assertEquals(1, found.size(), "one recipe line named " + name + ": " + found);
        return found.get(0);
    }

    /** Parses lines as the agent parses aegis_quartz.conf.user, failing on any problem. */
    static List<JobSpec> parse(List<String> lines) {
        AgentSettings settings = AgentSettings.defaults(REPO, REPO.resolve("conf"));
        CronFile f = new CronFileParser(settings, new Date()).parse(JobSource.USER, REPO.resolve("conf/aegis_quartz.conf.user"),
                String.join("\n", lines) + "\n");
        assertEquals(List.of(), f.problems(), "the recipe's lines are valid cron lines");
        assertEquals(lines.size(), f.jobs().size());
        return f.jobs();
    }

    /** Runs the job the way the scheduler does: the catalog loads the plugin, the plugin runs the job. */
    static Measurement runOnly(JobSpec job) throws Exception {
        // With the agent's own file checks: the stock plugins' folder is root's and not writable by others.
        StrictModes strict = StrictModes.of(AgentSettings.defaults(REPO, REPO.resolve("conf")));
        try (PluginCatalog catalog = new PluginCatalog(inJvm, processes, strict)) {
            RunResult r = catalog.check(job).run(job, new JobMemory());
            assertEquals(Status.OK, r.outcome(), () -> job.name() + ": the run itself succeeds: " + r.reason() + " " + r.measurements());
            assertEquals(1, r.measurements().size(), () -> job.name() + ": one sample: " + r.measurements());
            return r.measurements().get(0);
        }
    }

    static Measurement run(String name) throws Exception {
        return runOnly(parse(List.of(line(name))).get(0));
    }

    static double v(Measurement m, String name) {
        Double d = m.values().get(name);
        if (d == null) {
            fail(name + " missing in " + m);
        }
        return d;
    }

    /** The status a plugin's message starts with: "DISK OK", "LOAD WARNING", "PROCS CRITICAL:" ... */
    static void assertMessageSaysStatus(String prefix, Measurement m) {
        assertTrue(m.message().startsWith(prefix + " " + m.status().name()), "status " + m.status() + " vs message " + m.message());
    }

    // ---------------------------------------------------------------- the lines

    @Test
    void everyRecipeLineIsACommentedExampleInConfUser() throws Exception {
        List<String> conf = Files.readAllLines(REPO.resolve("conf/aegis_quartz.conf.user"));
        for (String l : recipeLines()) {
            assertTrue(conf.contains("#" + l), "conf/aegis_quartz.conf.user should offer the recipe line, commented out: #" + l);
        }
    }

    @Test
    void theRecipeParsesIntoOneNamedJobPerStockPlugin() throws Exception {
        List<JobSpec> jobs = parse(recipeLines());

        assertEquals(List.of("root_fs", "load", "zombies", "ssh_port"), jobs.stream().map(JobSpec::name).toList());
        assertEquals(List.of("check_disk", "check_load", "check_procs", "check_tcp"), jobs.stream().map(JobSpec::defaultMetric).toList(),
                "the metric is the plugin's file name");
        for (JobSpec j : jobs) {
            assertEquals(PLUGINS.resolve(j.defaultMetric()), j.pluginPath(), "absolute path, used as written");
            assertTrue(Files.isExecutable(j.pluginPath()), j.pluginPath() + " is installed");
            assertEquals(Duration.ofSeconds(30), j.options().timeout(), "the default job limit, above the plugins' own 10 s");
        }
        assertEquals(List.of("-w", "20%", "-c", "10%", "-p", "/"), jobs.get(0).args());
        assertEquals("0 0/5 * * * ?", jobs.get(0).cron());
    }

    // ---------------------------------------------------------------- root_fs: check_disk

    @Test
    void rootFsReportsTheUsedBytesOfRootAsStatvfsSeesThem() throws Exception {
        FileStore root = Files.getFileStore(Path.of("/"));
        double size = root.getTotalSpace();
        double usedBefore = size - root.getUnallocatedSpace();

        Measurement m = run("root_fs");

        double usedAfter = size - root.getUnallocatedSpace();
        assertEquals("check_disk", m.metric());
        assertMessageSaysStatus("DISK", m);
        assertEquals(List.of("/", "/.warn", "/.crit", "/.min", "/.max"), List.copyOf(m.values().keySet()), "named after the mount point");
        assertEquals(Map.of("/", "B"), m.units());
        // Other builds write to this disk meanwhile: 1% of its size of slack.
        assertEquals(size, v(m, "/.max"), size / 100, "size of /");
        double used = v(m, "/");
        assertTrue(used >= Math.min(usedBefore, usedAfter) - size / 100 && used <= Math.max(usedBefore, usedAfter) + size / 100,
                "used " + used + " vs statvfs " + usedBefore + ".." + usedAfter);
        // -w 20% -c 10% of free space are these used-bytes thresholds.
        assertEquals(0.8 * v(m, "/.max"), v(m, "/.warn"), size / 1000);
        assertEquals(0.9 * v(m, "/.max"), v(m, "/.crit"), size / 1000);
    }

    // ---------------------------------------------------------------- load: check_load -r

    @Test
    void loadIsScaledPerCpuAndItsStatusFollowsTheScaledThresholds() throws Exception {
        double[] before = loadavg();
        Measurement m = run("load");
        double[] after = loadavg();

        assertEquals("check_load", m.metric());
        assertMessageSaysStatus("LOAD", m);
        int cpus = onlineCpus();
        String[] names = {"load1", "load5", "load15"};
        double[] warn = {4, 3, 2};
        double[] crit = {8, 6, 4};
        boolean anyCrit = false;
        boolean anyWarn = false;
        for (int i = 0; i < 3; i++) {
            double load = v(m, names[i]);
            // /proc/loadavg moves every 5 s; the plugin read it between these two readings.
            assertTrue(load >= Math.min(before[i], after[i]) - 0.01 && load <= Math.max(before[i], after[i]) + 0.01,
                    names[i] + "=" + load + " vs /proc/loadavg " + before[i] + ".." + after[i]);
            double scaled = v(m, "scaled_" + names[i]);
            assertEquals(load / cpus, scaled, 0.002, "scaled_" + names[i] + " is " + names[i] + " per CPU");
            assertEquals(warn[i], v(m, "scaled_" + names[i] + ".warn"));
            assertEquals(crit[i], v(m, "scaled_" + names[i] + ".crit"));
            anyCrit |= scaled > crit[i];
            anyWarn |= scaled > warn[i];
        }
        assertEquals(anyCrit ? Status.CRITICAL : anyWarn ? Status.WARNING : Status.OK, m.status(), m.toString());
    }

    /**
     * CPUs online, as check_load counts them (sysconf(_SC_NPROCESSORS_ONLN) reads this file). Not
     * availableProcessors(): that follows the container's CPU quota.
     */
    private static int onlineCpus() throws IOException {
        int n = 0;
        for (String range : Files.readString(Path.of("/sys/devices/system/cpu/online")).strip().split(",")) {
            String[] ends = range.split("-");
            n += ends.length == 1 ? 1 : Integer.parseInt(ends[1]) - Integer.parseInt(ends[0]) + 1;
        }
        return n;
    }

    private static double[] loadavg() throws IOException {
        String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
        return new double[] {Double.parseDouble(f[0]), Double.parseDouble(f[1]), Double.parseDouble(f[2])};
    }

    // ---------------------------------------------------------------- zombies: check_procs -s Z

    @Test
    void zombiesCountsAZombieThisTestMakes() throws Exception {
        // perl (essential on Debian) forks a child that exits at once, and reaps it only when its stdin
        // closes: a zombie that exists exactly as long as this test wants, and is reaped by its own parent
        // (in a container, PID 1 may reap nothing).
        Process parent = new ProcessBuilder("perl", "-e", "my $pid = fork(); exit 0 if $pid == 0; <STDIN>; waitpid($pid, 0);")
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try {
            await().atMost(Duration.ofSeconds(30)).until(() -> zombieChildren(parent.pid()) == 1);
            int before = zombies();

            Measurement m = run("zombies");

            int after = zombies();
            assertEquals("check_procs", m.metric());
            assertEquals(1, zombieChildren(parent.pid()), "still there");
            double procs = v(m, "procs");
            assertTrue(procs >= 1, "our zombie is counted: " + m);
            // Zombies of other processes come and go meanwhile.
            assertTrue(procs >= Math.min(before, after) - 2 && procs <= Math.max(before, after) + 2,
                    "procs=" + procs + " vs zombies in /proc " + before + ".." + after);
            assertEquals(5.0, v(m, "procs.warn"));
            assertEquals(20.0, v(m, "procs.crit"));
            assertEquals(procs > 20 ? Status.CRITICAL : procs > 5 ? Status.WARNING : Status.OK, m.status(), m.toString());
            assertEquals("PROCS " + m.status().name() + ": " + Math.round(procs) + " process" + (procs == 1 ? "" : "es")
                    + " with STATE = Z", m.message());
        } finally {
            parent.getOutputStream().close();
            if (!parent.waitFor(10, TimeUnit.SECONDS)) {
                parent.destroyForcibly();
            }
        }
    }

    /** Processes in state Z whose parent is {@code ppid}. */
    private static int zombieChildren(long ppid) throws IOException {
        return zombieList(ppid).size();
    }

    private static int zombies() throws IOException {
        return zombieList(-1).size();
    }

    private static List<Long> zombieList(long ppid) throws IOException {
        List<Long> out = new ArrayList<>();
        try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"), p -> p.getFileName().toString().matches("\\d+"))) {
            for (Path p : procs) {
                String stat;
                try {
                    stat = Files.readString(p.resolve("stat"));
                } catch (IOException gone) {
                    continue;
                }
                // After the last ')': state, ppid.
                String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                if (f[0].equals("Z") && (ppid < 0 || Long.parseLong(f[1]) == ppid)) {
                    out.add(Long.valueOf(p.getFileName().toString()));
                }
            }
        }
        return out;
    }

    // ---------------------------------------------------------------- ssh_port: check_tcp

    @Test
    void sshPortIsOkWhileSomethingListensAndCriticalOnceItStops() throws Exception {
        String recipe = line("ssh_port");
        // The one change to the recipe line: this test's own port instead of 22, which it cannot own.
        assertTrue(recipe.contains(" -p 22 "), recipe);
        JobSpec job;
        int port;
        try (ServerSocket server = new ServerSocket()) {
            server.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0), 50);
            port = server.getLocalPort();
            job = parse(List.of(recipe.replace(" -p 22 ", " -p " + port + " "))).get(0);

            Measurement up = runOnly(job);

            assertEquals("check_tcp", up.metric());
            assertEquals(Status.OK, up.status(), up.toString());
            assertMessageSaysStatus("TCP", up);
            assertTrue(up.message().endsWith(" second response time on 127.0.0.1 port " + port), up.message());
            assertEquals(List.of("time", "time.warn", "time.crit", "time.min", "time.max"), List.copyOf(up.values().keySet()));
            assertEquals(Map.of("time", "s"), up.units());
            assertEquals(1.0, v(up, "time.warn"));
            assertEquals(5.0, v(up, "time.crit"));
            assertEquals(10.0, v(up, "time.max"), "check_tcp's own timeout");
            assertTrue(v(up, "time") >= 0 && v(up, "time") < 1, "a loopback connect is well under the warning threshold: " + up);
        }

        Measurement down = runOnly(job);

        assertEquals(Status.CRITICAL, down.status(), down.toString());
        assertEquals("connect to address 127.0.0.1 and port " + port + ": Connection refused", down.message());
        assertEquals(Map.of(), down.values());
    }
}
