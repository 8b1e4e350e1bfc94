package io.aegisquartz.plugin.exec;

import io.aegisquartz.config.JobSpec;
import io.aegisquartz.plugin.JobMemory;
import io.aegisquartz.plugin.RunResult;
import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Status;
import org.junit.jupiter.api.BeforeAll;
import io.aegisquartz.testing.PluginRunners;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.aegisquartz.testing.TestJobs.job;
import static io.aegisquartz.testing.TestJobs.limits;
import static io.aegisquartz.testing.TestJobs.script;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The stock Debian monitoring plugins (package monitoring-plugins-basic) run through {@link ExecPlugin}
 * as a cron job would, each a real process. The expected status, message and values come from running
 * the same plugin directly, so nothing machine-specific is hard-coded; values that drift between two
 * runs (load, disk use, process count, response time) must lie between a direct run before and one
 * after the agent's run, give or take a stated tolerance.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class NagiosPluginsTest extends PluginRunners {

    static final Path PLUGINS = Path.of("/usr/lib/nagios/plugins");

    @TempDir
    Path dir;

    @BeforeAll
    static void requireStockPlugins() {
        if (!Files.isExecutable(PLUGINS.resolve("check_load"))) {
            fail(PLUGINS.resolve("check_load") + " is missing: install monitoring-plugins-basic "
                    + "(apt-get install monitoring-plugins-basic)");
        }
    }

    // ---------------------------------------------------------------- check_load

    @Test
    void checkLoad() throws Exception {
        Observed o = observe("check_load", "-w", "5,4,3", "-c", "10,8,6");

        o.assertStatusMessageAndKeys();
        o.assertValuesBetweenDirectRuns(k -> 0.0);
        Map<String, Double> v = o.measurement.values();
        // The thresholds are the ones we passed; the values are the load averages the message prints.
        assertEquals(5.0, v.get("load1.warn"));
        assertEquals(4.0, v.get("load5.warn"));
        assertEquals(3.0, v.get("load15.warn"));
        assertEquals(10.0, v.get("load1.crit"));
        assertEquals(8.0, v.get("load5.crit"));
        assertEquals(6.0, v.get("load15.crit"));
        assertEquals(0.0, v.get("load1.min"));
        assertFalse(v.containsKey("load1.max"), "check_load prints no max: " + v);
        assertTrue(o.measurement.units().isEmpty(), o.measurement.units().toString());
        String loads = String.format(Locale.ROOT, "%.2f, %.2f, %.2f", v.get("load1"), v.get("load5"), v.get("load15"));
        assertTrue(o.measurement.message().contains(loads), o.measurement.message() + " should show " + loads);
    }

    // ---------------------------------------------------------------- check_disk

    @Test
    void checkDiskRoot() throws Exception {
        Observed o = observe("check_disk", "-w", "20%", "-c", "10%", "-p", "/");

        o.assertStatusMessageAndKeys();
        Map<String, Double> v = o.measurement.values();
        assertTrue(v.containsKey("/"), "value named after the mount point: " + v);
        assertEquals("B", o.measurement.units().get("/"));
        double size = v.get("/.max");
        assertTrue(size > 0, "filesystem size " + size);
        // Other builds write to this disk meanwhile: allow 1% of its size of drift in the used bytes.
        o.assertValuesBetweenDirectRuns(k -> k.equals("/") ? size / 100 : 0.0);
        assertEquals(0.0, v.get("/.min"));
        // -w 20% / -c 10% free: thresholds on used bytes at 80% and 90% of the size (give or take rounding).
        assertEquals(0.8 * size, v.get("/.warn"), size / 1000);
        assertEquals(0.9 * size, v.get("/.crit"), size / 1000);
        assertTrue(v.get("/") >= 0 && v.get("/") <= size, "used " + v.get("/") + " of " + size);
    }

    // ---------------------------------------------------------------- check_procs

    @Test
    void checkProcsBelowHugeThresholdsIsOk() throws Exception {
        Observed o = observe("check_procs", "-w", "100000", "-c", "200000");

        assertEquals(0, o.before.exitCode, o.before.stdout);
        assertEquals(Status.OK, o.measurement.status());
        o.assertStatusMessageAndKeys();
        assertProcs(o, 100000.0, 200000.0);
    }

    @Test
    void checkProcsAboveTheWarningThresholdIsWarning() throws Exception {
        Observed o = observe("check_procs", "-w", "1", "-c", "100000");

        assertEquals(1, o.before.exitCode, o.before.stdout);
        assertEquals(Status.WARNING, o.measurement.status());
        o.assertStatusMessageAndKeys();
        assertTrue(o.measurement.message().startsWith("PROCS WARNING"), o.measurement.message());
        assertProcs(o, 1.0, 100000.0);
    }

    @Test
    void checkProcsAboveTheCriticalThresholdIsCritical() throws Exception {
        Observed o = observe("check_procs", "-w", "1", "-c", "1");

        assertEquals(2, o.before.exitCode, o.before.stdout);
        assertEquals(Status.CRITICAL, o.measurement.status());
        o.assertStatusMessageAndKeys();
        assertProcs(o, 1.0, 1.0);
    }

    private static void assertProcs(Observed o, double warn, double crit) {
        Map<String, Double> v = o.measurement.values();
        // The agent's run adds its wrapper shell, and other builds start and end processes: allow some drift.
        o.assertValuesBetweenDirectRuns(k -> k.equals("procs") ? 50.0 : 0.0);
        assertEquals(warn, v.get("procs.warn"));
        assertEquals(crit, v.get("procs.crit"));
        assertEquals(0.0, v.get("procs.min"));
        // The count in the message is the count in the perfdata.
        assertTrue(o.measurement.message().contains(" " + Math.round(v.get("procs")) + " process"),
                o.measurement.message() + " vs procs=" + v.get("procs"));
    }

    // ---------------------------------------------------------------- check_dummy

    @ParameterizedTest(name = "check_dummy {0}")
    @ValueSource(ints = {0, 1, 2, 3})
    void checkDummyGivesEachStatus(int code) throws Exception {
        Observed o = observe("check_dummy", Integer.toString(code), "text from dummy " + code);

        assertEquals(code, o.before.exitCode, o.before.stdout);
        assertEquals(List.of(Status.OK, Status.WARNING, Status.CRITICAL, Status.UNKNOWN).get(code), o.measurement.status());
        assertEquals(o.before.message(), o.measurement.message(), "exactly what the plugin printed");
        assertTrue(o.measurement.message().endsWith("text from dummy " + code), o.measurement.message());
        assertTrue(o.measurement.values().isEmpty());
        assertEquals(Status.OK, o.result.outcome());
    }

    @Test
    void checkDummyWithAnUnsupportedStateBehavesAsThePluginExits() throws Exception {
        // monitoring-plugins 2.3 check_dummy refuses state 4 itself and exits 3 ("UNKNOWN: Status 4 is not a
        // supported error state"); a plugin that really exits 4 is an agent error (next test). Whichever
        // this version does, the agent must follow its exit code.
        Direct direct = direct(PLUGINS.resolve("check_dummy"), "4", "text");
        RunResult r = exec(PLUGINS.resolve("check_dummy"), "4", "text");

        Measurement m = r.measurements().get(r.measurements().size() - 1);
        if (direct.exitCode <= 3) {
            assertEquals(Status.OK, r.outcome());
            assertEquals(statusOf(direct.exitCode), m.status());
            assertEquals(direct.message(), m.message());
        } else {
            assertEquals(Status.ERROR, r.outcome());
            assertEquals(Status.ERROR, m.status());
            assertTrue(m.message().contains("exit code " + direct.exitCode), m.message());
        }
    }

    @Test
    void stockPluginOutputWithExitCodeFourIsAnErrorMentioningTheExitCode() throws Exception {
        Path plugin = script(dir, "dummy_exit4", "#!/bin/sh\n" + PLUGINS.resolve("check_dummy") + " 0 \"$1\"\nexit 4\n");

        RunResult r = exec(plugin, "all fine");

        assertEquals(Status.ERROR, r.outcome());
        assertEquals(1, r.measurements().size(), r.measurements().toString());
        Measurement m = r.measurements().get(0);
        assertEquals(Status.ERROR, m.status());
        assertEquals("exit code 4 (plugins exit 0-3): " + direct(PLUGINS.resolve("check_dummy"), "0", "all fine").firstLine,
                m.message());
    }

    // ---------------------------------------------------------------- check_tcp

    @Test
    void checkTcpAgainstAListeningLoopbackPortIsOkWithResponseTime() throws Exception {
        try (ServerSocket server = new ServerSocket()) {
            server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 50);
            String port = Integer.toString(server.getLocalPort());

            Observed o = observe("check_tcp", "-H", "127.0.0.1", "-p", port);

            assertEquals(0, o.before.exitCode, o.before.stdout);
            assertEquals(Status.OK, o.measurement.status());
            o.assertStatusMessageAndKeys();
            assertTrue(o.measurement.message().contains("port " + port), o.measurement.message());
            Map<String, Double> v = o.measurement.values();
            assertEquals("s", o.measurement.units().get("time"));
            double max = v.get("time.max");
            assertEquals(o.before.values.get("time.max"), max, "the plugin's timeout as max");
            assertEquals(0.0, v.get("time.min"));
            assertFalse(v.containsKey("time.warn") || v.containsKey("time.crit"), "no thresholds given: " + v);
            assertTrue(v.get("time") >= 0 && v.get("time") < max, "response time " + v.get("time"));
            o.assertValuesBetweenDirectRuns(k -> k.equals("time") ? max : 0.0);
        }
    }

    @Test
    void checkTcpAgainstAClosedLoopbackPortIsCriticalConnectionRefused() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            port = s.getLocalPort();
        }

        Observed o = observe("check_tcp", "-H", "127.0.0.1", "-p", Integer.toString(port));

        assertEquals(2, o.before.exitCode, o.before.stdout);
        assertEquals(Status.CRITICAL, o.measurement.status());
        assertEquals(o.before.message(), o.measurement.message());
        assertTrue(o.measurement.message().contains("Connection refused"), o.measurement.message());
        assertTrue(o.measurement.values().isEmpty(), o.measurement.values().toString());
        assertEquals(Status.OK, o.result.outcome());
    }

    // ---------------------------------------------------------------- check_swap

    @Test
    void checkSwapWithThresholds() throws Exception {
        Observed o = observe("check_swap", "-w", "20%", "-c", "10%");

        o.assertStatusMessageAndKeys();
        assertEquals(o.before.units, o.measurement.units());
        Map<String, Double> v = o.measurement.values();
        double size = v.getOrDefault("swap.max", 0.0);
        o.assertValuesBetweenDirectRuns(k -> k.equals("swap") ? Math.max(size / 100, 1 << 20) : 0.0);
    }

    @Test
    void checkSwapWithoutArgumentsStatusFollowsItsExitCode() throws Exception {
        // Some versions need -w/-c and print usage with exit 3; newer ones check anyway. Either way the
        // status must follow the exit code and the message the first line.
        Observed o = observe("check_swap");

        assertEquals(statusOf(o.before.exitCode), o.measurement.status());
        assertEquals(o.before.message().replaceAll("[0-9]+", "#"), o.measurement.message().replaceAll("[0-9]+", "#"));
    }

    // ---------------------------------------------------------------- machinery

    private RunResult exec(Path plugin, String... args) throws InterruptedException {
        JobSpec job = job(plugin, limits(Duration.ofSeconds(30), Duration.ofSeconds(20)), args);
        return new ExecPlugin(job.pluginPath(), processes).run(job, new JobMemory());
    }

    /** Direct run, the agent's run, direct run. */
    private Observed observe(String plugin, String... args) throws Exception {
        Path p = PLUGINS.resolve(plugin);
        assertTrue(Files.isExecutable(p), p + " missing: install monitoring-plugins-basic");
        Direct before = direct(p, args);
        RunResult r = exec(p, args);
        Direct after = direct(p, args);
        assertEquals(1, r.measurements().size(), "one measurement from " + plugin + ": " + r.measurements()
                + "\ndirect output: " + before.stdout);
        Measurement m = r.measurements().get(0);
        assertEquals(plugin, m.metric());
        return new Observed(plugin, before, after, r, m);
    }

    private record Observed(String plugin, Direct before, Direct after, RunResult result, Measurement measurement) {

        /** Status from the exit code, message as printed (numbers may drift), the same value names and units. */
        void assertStatusMessageAndKeys() {
            assertEquals(Status.OK, result.outcome(), result.reason());
            assertTrue(measurement.status() == statusOf(before.exitCode) || measurement.status() == statusOf(after.exitCode),
                    plugin + ": status " + measurement.status() + " but the plugin exits " + before.exitCode + "/" + after.exitCode);
            assertNotNull(measurement.message(), plugin);
            String shape = shape(measurement.message());
            assertTrue(shape.equals(shape(before.message())) || shape.equals(shape(after.message())),
                    plugin + ": message\n  " + measurement.message() + "\nplugin printed\n  " + before.message());
            assertEquals(before.values.keySet(), measurement.values().keySet(), plugin + " value names");
            assertEquals(before.units, measurement.units(), plugin + " units");
        }

        /** Every value lies between the two direct runs' values, widened by {@code tolerance}. */
        void assertValuesBetweenDirectRuns(ToDoubleFunction<String> tolerance) {
            for (Map.Entry<String, Double> e : measurement.values().entrySet()) {
                String k = e.getKey();
                Double b = before.values.get(k);
                Double a = after.values.get(k);
                assertNotNull(b, plugin + ": " + k + " not printed by the direct run: " + before.stdout);
                assertNotNull(a, plugin + ": " + k + " not printed by the direct run: " + after.stdout);
                double tol = tolerance.applyAsDouble(k);
                double lo = Math.min(a, b) - tol;
                double hi = Math.max(a, b) + tol;
                assertTrue(e.getValue() >= lo && e.getValue() <= hi,
                        plugin + ": " + k + "=" + e.getValue() + " outside [" + lo + ", " + hi + "]; plugin printed "
                                + before.stdout.strip() + " / " + after.stdout.strip());
            }
        }

        private static String shape(String message) {
            return message == null ? null : message.replaceAll("[0-9]+(\\.[0-9]+)?", "#");
        }
    }

    static Status statusOf(int exitCode) {
        return switch (exitCode) {
            case 0 -> Status.OK;
            case 1 -> Status.WARNING;
            case 2 -> Status.CRITICAL;
            case 3 -> Status.UNKNOWN;
            default -> Status.ERROR;
        };
    }

    /**
     * What the plugin printed when run directly, in the agent's clean environment. Its perfdata is read
     * here with a plain regex for the simple unquoted labels the stock plugins print, independently of
     * {@link Perfdata}.
     */
    private record Direct(int exitCode, String stdout, String firstLine, Map<String, Double> values, Map<String, String> units) {

        String message() {
            int bar = firstLine.indexOf('|');
            return (bar < 0 ? firstLine : firstLine.substring(0, bar)).strip();
        }
    }

    private static final Pattern ITEM = Pattern.compile(
            "([^\\s=']+)=(-?[0-9.]+(?:[eE][-+]?[0-9]+)?)([A-Za-z%]*)(?:;([^;\\s]*))?(?:;([^;\\s]*))?(?:;([^;\\s]*))?(?:;([^;\\s]*))?");
    private static final Pattern NUMBER = Pattern.compile("(-?[0-9.]+(?:[eE][-+]?[0-9]+)?)[A-Za-z%]*");

    static Direct direct(Path plugin, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(plugin.toString());
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd)
                .directory(plugin.getParent().toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectError(ProcessBuilder.Redirect.DISCARD);
        pb.environment().clear();
        pb.environment().put("PATH", ExecPlugin.PATH);
        pb.environment().put("LANG", "C");
        pb.environment().put("LC_ALL", "C");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), plugin + " did not exit");
        String first = out.lines().findFirst().orElse("");
        Map<String, Double> values = new LinkedHashMap<>();
        Map<String, String> units = new LinkedHashMap<>();
        int bar = first.indexOf('|');
        if (bar >= 0) {
            Matcher m = ITEM.matcher(first.substring(bar + 1));
            while (m.find()) {
                String label = m.group(1);
                values.put(label, Double.valueOf(m.group(2)));
                if (!m.group(3).isEmpty()) {
                    units.put(label, m.group(3));
                }
                String[] suffix = {".warn", ".crit", ".min", ".max"};
                for (int i = 0; i < 4; i++) {
                    String field = m.group(4 + i);
                    if (field == null || field.isEmpty()) {
                        continue;
                    }
                    // warn/crit only as plain numbers (ranges are not values); min/max may carry the unit.
                    Matcher n = NUMBER.matcher(field);
                    boolean plain = i < 2 ? field.matches("-?[0-9.]+(?:[eE][-+]?[0-9]+)?") : n.matches();
                    if (plain && n.matches()) {
                        values.put(label + suffix[i], Double.valueOf(n.group(1)));
                    }
                }
            }
        }
        return new Direct(p.exitValue(), out, first, values, units);
    }
}
