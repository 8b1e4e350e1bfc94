package io.aegisquartz.plugin;

import io.aegisquartz.plugin.catalog.PluginCatalog;
import io.aegisquartz.config.AgentSettings;
import io.aegisquartz.config.CronFile;
import io.aegisquartz.config.CronFileParser;
import io.aegisquartz.config.JobOptions;
import io.aegisquartz.config.JobSource;
import io.aegisquartz.config.JobSpec;
import io.aegisquartz.plugin.exec.ExecPlugin;
import io.aegisquartz.plugin.exec.ProcessRunner;
import io.aegisquartz.plugin.groovy.GroovyPlugin;
import io.aegisquartz.plugin.jar.JarPlugin;
import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Status;
import io.aegisquartz.testing.JarBuilder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarFile;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static io.aegisquartz.testing.TestJobs.job;
import static io.aegisquartz.testing.TestJobs.limits;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The examples in plugins-user/examples, run the way the agent runs them, with the output that
 * plugins-user/README.md and the examples' own comments promise.
 */
class PluginExamplesTest {

    /** The repository root; surefire runs tests in the module directory, daemon/agent. */
    static final Path REPO = Path.of(System.getProperty("user.dir")).resolve("../..").normalize();
    static final Path PLUGINS_USER = Path.of(System.getProperty("user.dir")).resolve("../../plugins-user").normalize();
    static final Path EXAMPLES = PLUGINS_USER.resolve("examples");

    static final JobOptions LIMITS = limits(Duration.ofSeconds(20), Duration.ofSeconds(20));

    static RunnerThreads threads;
    static ProcessRunner processes;
    static InJvmRunner runner;

    @TempDir
    Path dir;

    @BeforeAll
    static void start() {
        threads = new RunnerThreads(8);
        processes = new ProcessRunner(threads);
        runner = new InJvmRunner(new AbandonedThreads());
    }

    @AfterAll
    static void stop() {
        threads.close();
    }

    // ---------------------------------------------------------------- hello.groovy

    private static GroovyPlugin helloGroovy() throws PluginException {
        Path file = EXAMPLES.resolve("hello.groovy");
        return GroovyPlugin.compile(file, runner, processes);
    }

    @Test
    void helloGroovyEmitsGreetingWithTagAndCountsRunsInState() throws Exception {
        GroovyPlugin plugin = helloGroovy();
        JobSpec job = job(EXAMPLES.resolve("hello.groovy"), LIMITS, "--greeting", "hi", "--min-uptime", "0");
        JobMemory memory = new JobMemory();

        RunResult first = plugin.run(job, memory);
        RunResult second = plugin.run(job, memory);

        for (RunResult r : List.of(first, second)) {
            assertEquals(Status.OK, r.outcome(), () -> r.measurements().toString());
            assertEquals(List.of("greeting", "uptime"), metrics(r));
        }
        Measurement g1 = measurement(first, "greeting");
        Measurement g2 = measurement(second, "greeting");
        assertEquals(Status.OK, g1.status());
        assertEquals(List.of("runs", "length"), List.copyOf(g1.values().keySet()));
        assertEquals(1.0, g1.values().get("runs"));
        assertEquals(2.0, g2.values().get("runs"), "the counter is kept in state between runs");
        assertEquals(2.0, g1.values().get("length"), "length of 'hi'");
        assertEquals(Map.of("greeting", "hi"), g1.tags());

        RunResult fresh = plugin.run(job, new JobMemory());
        assertEquals(1.0, measurement(fresh, "greeting").values().get("runs"), "new job memory, new count");
    }

    @Test
    void helloGroovyDefaultsToHello() throws Exception {
        RunResult r = helloGroovy().run(job(EXAMPLES.resolve("hello.groovy"), LIMITS), new JobMemory());

        assertEquals(Status.OK, r.outcome(), () -> r.measurements().toString());
        Measurement g = measurement(r, "greeting");
        assertEquals(Map.of("greeting", "hello"), g.tags());
        assertEquals(5.0, g.values().get("length"));
        // Default --min-uptime is 600 s: the status follows the uptime the sample itself reports.
        Measurement u = measurement(r, "uptime");
        Status expected = u.values().get("uptime_s") < 600 ? Status.WARNING : Status.OK;
        assertEquals(expected, u.status(), u.toString());
    }

    @Test
    void helloGroovyReadsUptimeFromProc() throws Exception {
        double before = procUptime();
        RunResult r = helloGroovy().run(job(EXAMPLES.resolve("hello.groovy"), LIMITS, "--min-uptime", "0"), new JobMemory());
        double after = procUptime();

        Measurement u = measurement(r, "uptime");
        assertEquals(Status.OK, u.status());
        assertEquals(List.of("uptime_s", "idle_s"), List.copyOf(u.values().keySet()));
        assertEquals(Map.of("uptime_s", "s", "idle_s", "s"), u.units());
        double uptime = u.values().get("uptime_s");
        assertTrue(before <= uptime && uptime <= after, before + " <= " + uptime + " <= " + after);
        assertTrue(u.values().get("idle_s") >= 0);
        assertTrue(u.message().matches("up for \\d+ d \\d\\d:\\d\\d"), u.message());
    }

    @Test
    void helloGroovyWarnsWhenUptimeIsBelowMinUptime() throws Exception {
        RunResult r = helloGroovy().run(job(EXAMPLES.resolve("hello.groovy"), LIMITS, "--min-uptime", "1e15"), new JobMemory());

        assertEquals(Status.OK, r.outcome(), "a warning is a finding, not a failed run");
        Measurement u = measurement(r, "uptime");
        assertEquals(Status.WARNING, u.status());
        assertTrue(u.message().startsWith("up for only "), u.message());
        assertTrue(u.message().endsWith("rebooted recently?"), u.message());
        assertEquals(Status.OK, measurement(r, "greeting").status());
    }

    @Test
    void helloGroovyRejectsAnUnknownArgumentWithItsUsage() throws Exception {
        RunResult r = helloGroovy().run(job(EXAMPLES.resolve("hello.groovy"), LIMITS, "--bogus", "1"), new JobMemory());

        assertEquals(Status.ERROR, r.outcome());
        String message = last(r).message();
        assertTrue(message.startsWith("IllegalArgumentException: bad argument '--bogus'; usage: hello.groovy"), message);
        assertTrue(message.contains(" at hello.groovy:"), "names the script line: " + message);
    }

    // ---------------------------------------------------------------- hello.sh

    private static RunResult exec(String name, String... args) throws InterruptedException {
        Path file = EXAMPLES.resolve(name);
        return new ExecPlugin(file, processes).run(job(file, LIMITS, args), new JobMemory());
    }

    @Test
    void helloShIsAnExecutablePlugin() throws Exception {
        Path file = EXAMPLES.resolve("hello.sh");
        Set<PosixFilePermission> perms = Files.getPosixFilePermissions(file);
        assertTrue(perms.containsAll(Set.of(PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.GROUP_EXECUTE,
                PosixFilePermission.OTHERS_EXECUTE)), "hello.sh must be mode 755, is " + perms);
        assertEquals(PluginKind.EXEC, PluginKind.of(file));
        assertTrue(Files.readString(file).startsWith("#!/bin/sh\n"), "a POSIX sh script");
    }

    @Test
    void helloShPrintsJsonLinesWithTagsUnitsAndLoad() throws Exception {
        RunResult r = exec("hello.sh");

        assertEquals(Status.OK, r.outcome(), () -> r.measurements().toString());
        assertFalse(r.truncated());
        assertEquals(List.of("hello", "load"), metrics(r));

        Measurement hello = measurement(r, "hello");
        assertEquals(Status.OK, hello.status());
        assertEquals(Map.of("args", 0.0, "timeout_s", 20.0), hello.values(), "timeout_s is AEGIS_TIMEOUT_SECONDS");
        assertEquals(Map.of("timeout_s", "s"), hello.units());
        assertEquals("hello.sh", hello.tags().get("job"), "AEGIS_JOB is the job's name");
        assertEquals(System.getProperty("user.name"), hello.tags().get("user"));

        Measurement load = measurement(r, "load");
        assertEquals(List.of("load1", "load5", "load15", "max_load", "runnable", "threads"), List.copyOf(load.values().keySet()));
        double maxLoad = load.values().get("max_load");
        assertTrue(maxLoad >= 1, "defaults to the number of CPUs: " + maxLoad);
        assertTrue(load.values().get("threads") >= load.values().get("runnable"));
        Status expected = load.values().get("load1") >= maxLoad ? Status.WARNING : Status.OK;
        assertEquals(expected, load.status(), load.toString());
        assertTrue(load.message().startsWith("load1 "), load.message());
    }

    @Test
    void helloShWarnsAtMaxLoad() throws Exception {
        RunResult warn = exec("hello.sh", "0");
        RunResult ok = exec("hello.sh", "1000000");

        assertEquals(Status.OK, warn.outcome());
        Measurement w = measurement(warn, "load");
        assertEquals(Status.WARNING, w.status(), "load1 >= 0 always");
        assertEquals(0.0, w.values().get("max_load"));
        assertTrue(w.message().endsWith("is at or above 0"), w.message());
        assertEquals(1.0, measurement(warn, "hello").values().get("args"));

        Measurement o = measurement(ok, "load");
        assertEquals(Status.OK, o.status());
        assertEquals(1_000_000.0, o.values().get("max_load"));
        assertTrue(o.message().endsWith("is below 1000000"), o.message());
    }

    @Test
    void helloShReportsABadArgumentAsUnknown() throws Exception {
        RunResult r = exec("hello.sh", "lots");

        assertEquals(Status.OK, r.outcome(), "exit code 3 with valid output is a finding, not a failed run");
        assertEquals(1, r.measurements().size(), () -> r.measurements().toString());
        Measurement m = r.measurements().get(0);
        assertEquals("hello", m.metric());
        assertEquals(Status.UNKNOWN, m.status());
        assertEquals("MAX_LOAD must be a number, not 'lots'", m.message());
    }

    // ---------------------------------------------------------------- hello.py

    @Test
    void helloPyIsAnExecutablePythonPlugin() throws Exception {
        Path file = EXAMPLES.resolve("hello.py");
        assertEquals(PluginKind.EXEC, PluginKind.of(file));
        assertTrue(Files.readString(file).startsWith("#!/usr/bin/env python3\n"));
    }

    @Test
    void helloPyReportsFreeSpaceAsNagiosPerfdata() throws Exception {
        String path = EXAMPLES.toString();
        RunResult r = exec("hello.py", "-w", "0", "-c", "0", path);

        assertEquals(Status.OK, r.outcome(), () -> r.measurements().toString());
        assertEquals(1, r.measurements().size(), () -> r.measurements().toString());
        Measurement m = r.measurements().get(0);
        assertEquals("hello", m.metric(), "Nagios output is one sample named after the file");
        assertEquals(Status.OK, m.status(), "nothing is below 0% free");
        assertEquals(List.of("used_pct", "used_pct.warn", "used_pct.crit", "used_pct.min", "used_pct.max",
                "used_bytes", "used_bytes.warn", "used_bytes.crit", "used_bytes.min", "used_bytes.max"),
                List.copyOf(m.values().keySet()));
        assertEquals(Map.of("used_pct", "%", "used_bytes", "B"), m.units());
        assertEquals(100.0, m.values().get("used_pct.warn"), "perfdata thresholds are 100 - the free percentages");
        assertEquals(100.0, m.values().get("used_pct.crit"));
        assertEquals(0.0, m.values().get("used_pct.min"));
        assertEquals(100.0, m.values().get("used_pct.max"));
        assertEquals(0.0, m.values().get("used_bytes.min"));
        assertTrue(m.message().startsWith("DISK OK - "), m.message());
        assertTrue(m.message().contains("% free on " + path + ": "), m.message());

        // Computed like df: used / (used + available), which Java can compute too.
        FileStore store = Files.getFileStore(EXAMPLES);
        double used = store.getTotalSpace() - store.getUnallocatedSpace();
        double expectedPct = 100.0 * used / (used + store.getUsableSpace());
        assertEquals(expectedPct, m.values().get("used_pct"), 1.0, "used_pct like df");
        double size = m.values().get("used_bytes.max");
        assertEquals(used + store.getUsableSpace(), size, 0.01 * size, "used_bytes.max is used + available");
        assertTrue(m.values().get("used_bytes") > 0 && m.values().get("used_bytes") <= size);
    }

    @Test
    void helloPyDefaultsToTwentyAndTenPercentOnRoot() throws Exception {
        RunResult r = exec("hello.py");

        assertFalse(r.failed(), () -> r.measurements().toString());
        Measurement m = r.measurements().get(0);
        assertEquals(80.0, m.values().get("used_pct.warn"));
        assertEquals(90.0, m.values().get("used_pct.crit"));
        assertTrue(m.message().contains("% free on /: "), m.message());
        double free = 100.0 - m.values().get("used_pct");
        // Away from the thresholds (the value is rounded to 0.1), the status must follow them.
        if (Math.abs(free - 20) > 0.1 && Math.abs(free - 10) > 0.1) {
            Status expected = free < 10 ? Status.CRITICAL : free < 20 ? Status.WARNING : Status.OK;
            assertEquals(expected, m.status(), m.toString());
        }
    }

    @Test
    void helloPyWarnsAndGoesCriticalWithItsThresholds() throws Exception {
        String path = EXAMPLES.toString();
        RunResult warning = exec("hello.py", "-w", "100", "-c", "0", path);
        RunResult critical = exec("hello.py", "-w", "100%", "-c", "100%", path);

        assertFalse(warning.failed(), "exit code 1 is a finding, not a failed run");
        assertEquals(Status.WARNING, warning.measurements().get(0).status(), () -> warning.measurements().toString());
        assertTrue(warning.measurements().get(0).message().startsWith("DISK WARNING - "));
        assertEquals(0.0, warning.measurements().get(0).values().get("used_pct.warn"));

        assertFalse(critical.failed());
        assertEquals(Status.CRITICAL, critical.measurements().get(0).status(), () -> critical.measurements().toString());
        assertTrue(critical.measurements().get(0).message().startsWith("DISK CRITICAL - "));
    }

    @Test
    void helloPyReportsBadArgumentsAndMissingPathsAsUnknown() throws Exception {
        RunResult swapped = exec("hello.py", "-w", "10", "-c", "50");
        RunResult notPercent = exec("hello.py", "-w", "lots");
        RunResult missing = exec("hello.py", dir.resolve("nowhere").toString());

        for (RunResult r : List.of(swapped, notPercent, missing)) {
            assertFalse(r.failed(), () -> r.measurements().toString());
            assertEquals(1, r.measurements().size(), () -> r.measurements().toString());
            assertEquals(Status.UNKNOWN, r.measurements().get(0).status(), () -> r.measurements().toString());
            assertTrue(r.measurements().get(0).values().isEmpty(), "no perfdata when unknown");
        }
        assertTrue(swapped.measurements().get(0).message().startsWith("DISK UNKNOWN - -c 50 is above -w 10"),
                swapped.measurements().get(0).message());
        assertTrue(notPercent.measurements().get(0).message().contains("invalid percent value: 'lots'"),
                notPercent.measurements().get(0).message());
        assertEquals("DISK UNKNOWN - cannot check " + dir.resolve("nowhere") + ": No such file or directory",
                missing.measurements().get(0).message());
    }

    // ---------------------------------------------------------------- jar/

    /** Builds the example JAR from its sources, as build.sh does, with the test helpers. */
    private Path helloJar() throws IOException {
        Path src = EXAMPLES.resolve("jar/src");
        Path classes = Files.createDirectories(dir.resolve("classes"));
        JarBuilder.compileTree(src, classes);
        Path services = Path.of("META-INF/services/io.aegisquartz.api.Sampler");
        Files.createDirectories(classes.resolve(services).getParent());
        Files.copy(src.resolve(services), classes.resolve(services));
        return JarBuilder.jar(dir.resolve("hello-sampler.jar"), classes);
    }

    @Test
    void helloSamplerCountsRunsInAFieldAndComputesARate() throws Exception {
        Path jar = helloJar();
        try (JarPlugin plugin = JarPlugin.open(jar, runner, processes)) {
            assertEquals(List.of("org.example.hello.HelloSampler"), plugin.samplerClasses());
            JobSpec job = job(jar, LIMITS, "hi");
            JobMemory memory = new JobMemory();

            RunResult first = plugin.run(job, memory);
            RunResult second = plugin.run(job, memory);

            for (RunResult r : List.of(first, second)) {
                assertEquals(Status.OK, r.outcome(), () -> r.measurements().toString());
                assertEquals(List.of("hello_jar", "context_switches"), metrics(r));
            }
            Measurement h1 = measurement(first, "hello_jar");
            assertEquals(Map.of("runs", 1.0), h1.values());
            assertEquals(Map.of("greeting", "hi"), h1.tags());
            assertEquals(Map.of("runs", 2.0), measurement(second, "hello_jar").values(), "the instance is kept between runs");

            Measurement c1 = measurement(first, "context_switches");
            Measurement c2 = measurement(second, "context_switches");
            assertEquals(Status.OK, c1.status());
            assertEquals(List.of("total"), List.copyOf(c1.values().keySet()), "no rate without a previous reading");
            assertEquals(List.of("total", "per_s"), List.copyOf(c2.values().keySet()));
            assertTrue(c1.values().get("total") > 0);
            assertTrue(c2.values().get("total") >= c1.values().get("total"));
            assertTrue(c2.values().get("per_s") >= 0);
            assertEquals(Map.of("per_s", "1/s"), c2.units());

            RunResult noArgs = plugin.run(job(jar, LIMITS), new JobMemory());
            assertEquals(Map.of("greeting", "hello"), measurement(noArgs, "hello_jar").tags());
            assertEquals(1.0, measurement(noArgs, "hello_jar").values().get("runs"), "a new job gets a new instance");
        }
    }

    @Test
    void buildShBuildsAJarTheAgentCanRun() throws Exception {
        // Run the documented build script on a copy, so that the checkout stays free of build output.
        Path copy = dir.resolve("jar");
        copyTree(EXAMPLES.resolve("jar"), copy);
        Files.deleteIfExists(copy.resolve("hello-sampler.jar"));
        Path javaBin = Path.of(System.getProperty("java.home"), "bin");
        ProcessBuilder pb = new ProcessBuilder(copy.resolve("build.sh").toString(), JarBuilder.apiClasspath().toString())
                .directory(dir.toFile())
                .redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.environment().put("PATH", javaBin + ":" + ExecPlugin.PATH);
        Path log = dir.resolve("build.log");
        pb.redirectOutput(log.toFile());
        Process p = pb.start();
        if (!p.waitFor(2, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            fail("build.sh did not finish within 2 minutes");
        }
        String output = Files.readString(log);
        assertEquals(0, p.exitValue(), output);
        Path jar = copy.resolve("hello-sampler.jar");
        assertEquals("built " + jar + "\n", output);

        try (JarFile jf = new JarFile(jar.toFile())) {
            List<String> entries = jf.stream().map(java.util.zip.ZipEntry::getName).filter(n -> !n.endsWith("/")).sorted().toList();
            assertEquals(List.of("META-INF/MANIFEST.MF", "META-INF/services/io.aegisquartz.api.Sampler",
                    "org/example/hello/HelloSampler.class"), entries);
        }
        try (JarPlugin plugin = JarPlugin.open(jar, runner, processes)) {
            RunResult r = plugin.run(job(jar, LIMITS, "built"), new JobMemory());
            assertEquals(Status.OK, r.outcome(), () -> r.measurements().toString());
            assertEquals(Map.of("greeting", "built"), measurement(r, "hello_jar").tags());
        }
    }

    // ---------------------------------------------------------------- conf/aegis_quartz.conf.user

    /** The commented example job lines ("#[...] ..."), without their '#'. */
    private static List<String> exampleCronLines() throws IOException {
        List<String> out = new ArrayList<>();
        for (String line : Files.readAllLines(REPO.resolve("conf/aegis_quartz.conf.user"))) {
            if (line.startsWith("#[")) {
                out.add(line.substring(1));
            }
        }
        return out;
    }

    /** The plugin path of a job line: the first word after ']' that is not an option. */
    private static String pluginOf(String line) {
        for (String word : line.substring(line.indexOf(']') + 1).trim().split("\\s+")) {
            if (!word.contains("=")) {
                return word;
            }
        }
        return fail("no plugin path on: " + line);
    }

    @Test
    void everyUserPluginInTheExampleCronLinesExists() throws Exception {
        List<String> refs = exampleCronLines().stream().map(PluginExamplesTest::pluginOf)
                .filter(p -> p.startsWith("user/")).toList();

        assertTrue(refs.containsAll(List.of("user/examples/hello.groovy", "user/examples/hello.sh", "user/examples/hello.py")),
                "each example is shown in a cron line: " + refs);
        for (String ref : refs) {
            Path file = PLUGINS_USER.resolve(ref.substring("user/".length()));
            assertTrue(Files.isRegularFile(file), ref + " is named in conf/aegis_quartz.conf.user but " + file + " does not exist");
        }
    }

    @Test
    void theExampleCronLinesForUserPluginsParseAndRun() throws Exception {
        List<String> lines = exampleCronLines().stream().filter(l -> pluginOf(l).startsWith("user/")).toList();
        AgentSettings settings = AgentSettings.defaults(REPO, REPO.resolve("conf"));
        CronFile parsed = new CronFileParser(settings, new Date()).parse(JobSource.USER,
                REPO.resolve("conf/aegis_quartz.conf.user"), String.join("\n", lines) + "\n");

        assertEquals(List.of(), parsed.problems(), "the example lines, uncommented, are valid");
        assertEquals(lines.size(), parsed.jobs().size());
        try (PluginCatalog catalog = new PluginCatalog(runner, processes, io.aegisquartz.config.StrictModes.off())) {
            for (JobSpec job : parsed.jobs()) {
                assertTrue(job.pluginPath().startsWith(PLUGINS_USER), job.pluginPath().toString());
                RunResult r = catalog.check(job).run(job, new JobMemory());
                assertFalse(r.failed(), () -> job.name() + ": " + r.measurements());
            }
        }
    }

    // ---------------------------------------------------------------- plugins-user/README.md

    private static final Pattern QUOTED_BLOCK = Pattern.compile("(?m)^```\\w* title=(\\S+)\\n(.*?)^```$", Pattern.DOTALL);

    @Test
    void everyFileQuotedInTheReadmeIsQuotedVerbatim() throws Exception {
        String readme = Files.readString(PLUGINS_USER.resolve("README.md"));
        Matcher m = QUOTED_BLOCK.matcher(readme);
        List<String> quoted = new ArrayList<>();
        while (m.find()) {
            Path file = PLUGINS_USER.resolve(m.group(1));
            assertTrue(Files.isRegularFile(file), "README quotes " + m.group(1) + ", which does not exist");
            assertTrue(Files.readString(file).contains(m.group(2)), "README's quote of " + m.group(1)
                    + " is not a verbatim part of the file:\n" + m.group(2));
            quoted.add(m.group(1));
        }
        assertTrue(quoted.containsAll(List.of("examples/hello.groovy", "examples/hello.sh", "examples/hello.py",
                "examples/jar/src/org/example/hello/HelloSampler.java")), "quoted: " + quoted);
    }

    @Test
    void theReadmeMentionsEveryExampleFile() throws Exception {
        String readme = Files.readString(PLUGINS_USER.resolve("README.md"));
        try (Stream<Path> files = Files.walk(EXAMPLES)) {
            Set<String> names = files.filter(Files::isRegularFile).filter(f -> !f.getFileName().toString().startsWith("."))
                    .map(f -> PLUGINS_USER.relativize(f).toString()).collect(Collectors.toSet());
            for (String name : names) {
                assertTrue(readme.contains(name), "README.md does not mention " + name);
            }
        }
    }

    // ---------------------------------------------------------------- helpers

    private static List<String> metrics(RunResult r) {
        return r.measurements().stream().map(Measurement::metric).toList();
    }

    private static Measurement measurement(RunResult r, String metric) {
        Measurement found = null;
        for (Measurement m : r.measurements()) {
            if (m.metric().equals(metric)) {
                assertNull(found, "two '" + metric + "' samples: " + r.measurements());
                found = m;
            }
        }
        assertNotNull(found, "no '" + metric + "' sample: " + r.measurements());
        return found;
    }

    private static Measurement last(RunResult r) {
        return r.measurements().get(r.measurements().size() - 1);
    }

    private static double procUptime() throws IOException {
        return Double.parseDouble(Files.readString(Path.of("/proc/uptime")).trim().split("\\s+")[0]);
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> files = Files.walk(from)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Path target = to.resolve(from.relativize(f).toString());
                if (Files.isDirectory(f)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(f, target, StandardCopyOption.COPY_ATTRIBUTES);
                }
            }
        }
    }
}
