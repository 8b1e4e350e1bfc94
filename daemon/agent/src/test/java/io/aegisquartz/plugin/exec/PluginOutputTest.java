package io.aegisquartz.plugin.exec;

import io.aegisquartz.plugin.MeasurementCollector;
import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Status;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What an executable printed, turned into measurements: JSON lines and Nagios plugin output. */
class PluginOutputTest {

    private static final String METRIC = "myplugin";

    @Nested
    class JsonLines {

        @Test
        void formatIsJsonLinesIfTheFirstNonBlankCharacterIsABrace() {
            assertTrue(PluginOutput.isJsonLines("{\"values\":{}}"));
            assertTrue(PluginOutput.isJsonLines("\n  \t\n{\"values\":{}}\n"));
            assertFalse(PluginOutput.isJsonLines("OK - all good | a=1"));
            assertFalse(PluginOutput.isJsonLines("OK {\"values\":{}}"));
            assertFalse(PluginOutput.isJsonLines("[{\"values\":{}}]"));
            assertFalse(PluginOutput.isJsonLines(""));
            assertFalse(PluginOutput.isJsonLines(" \n\t "));
        }

        @Test
        void everyFieldOfALineIsCarriedIntoTheMeasurement() {
            String out = "{\"metric\":\"disk\",\"status\":\"warning\",\"message\":\"/var at 85%\","
                    + "\"values\":{\"used\":85.5,\"free\":14.5,\"inodes\":1200},"
                    + "\"units\":{\"used\":\"%\",\"free\":\"%\"},\"tags\":{\"mount\":\"/var\",\"fs\":\"ext4\"}}\n";

            Result r = json(out, Status.OK);

            assertEquals(1, r.lines);
            assertEquals(1, r.list.size(), r.list.toString());
            Measurement m = r.list.get(0);
            assertEquals("disk", m.metric());
            assertEquals(Status.WARNING, m.status());
            assertEquals("/var at 85%", m.message());
            assertEquals(Map.of("used", 85.5, "free", 14.5, "inodes", 1200.0), m.values());
            assertEquals(List.of("used", "free", "inodes"), List.copyOf(m.values().keySet()), "printed order kept");
            assertEquals(Map.of("used", "%", "free", "%"), m.units());
            assertEquals(Map.of("mount", "/var", "fs", "ext4"), m.tags());
        }

        @Test
        void severalLinesGiveSeveralMeasurementsAndMetricDefaultsToTheJobs() {
            String out = "{\"metric\":\"a\",\"values\":{\"x\":1}}\r\n"
                    + "\n"
                    + "   {\"values\":{\"y\":-2.5e3}}   \n"
                    + "{\"metric\":\"c\",\"status\":\"CRITICAL\"}";

            Result r = json(out, Status.OK);

            assertEquals(3, r.lines, "blank lines are not counted");
            assertEquals(List.of("a", METRIC, "c"), r.list.stream().map(Measurement::metric).toList());
            assertEquals(Map.of("y", -2500.0), r.list.get(1).values());
            assertEquals(Status.CRITICAL, r.list.get(2).status(), "status is case-insensitive");
            assertNull(r.list.get(0).message());
            assertTrue(r.list.get(2).values().isEmpty());
        }

        @Test
        void lineWithoutStatusTakesTheFallbackFromTheExitCode() {
            String out = "{\"metric\":\"a\",\"values\":{\"x\":1}}\n"
                    + "{\"metric\":\"b\",\"values\":{\"x\":2},\"status\":\"ok\"}\n"
                    + "{\"metric\":\"c\",\"values\":{\"x\":3},\"status\":null}\n";

            Result r = json(out, Status.CRITICAL);

            assertEquals(List.of(Status.CRITICAL, Status.OK, Status.CRITICAL), r.list.stream().map(Measurement::status).toList());
        }

        @Test
        void badJsonLineIsCountedAndReportedWithItsLineNumberWhileGoodLinesAreKept() {
            String out = "{\"metric\":\"a\",\"values\":{\"x\":1}}\n"
                    + "\n"
                    + "{\"metric\":\"b\",\"values\":{\"x\":2\n"
                    + "{\"metric\":\"c\",\"values\":{\"x\":3}}\n"
                    + "not json at all\n"
                    + "[1,2,3]\n";

            Result r = json(out, Status.OK);

            assertEquals(5, r.lines);
            List<Measurement> good = r.list.stream().filter(m -> m.status() == Status.OK).toList();
            assertEquals(List.of("a", "c"), good.stream().map(Measurement::metric).toList());
            Measurement err = onlyError(r.list);
            assertEquals(METRIC, err.metric());
            assertTrue(err.message().startsWith("3 invalid sample(s) dropped; first: output line 3 is not JSON"), err.message());
        }

        @Test
        void jsonThatIsNotAnObjectIsReportedWithItsLineNumber() {
            Result r = json("{\"values\":{\"x\":1}}\n42\n", Status.OK);

            assertEquals(1, r.list.stream().filter(m -> m.status() == Status.OK).count());
            assertTrue(onlyError(r.list).message().contains("output line 2 is not a JSON object"), onlyError(r.list).message());
        }

        @Test
        void nonNumberValueRejectsTheLine() {
            String out = "{\"metric\":\"ok\",\"values\":{\"x\":1}}\n"
                    + "{\"metric\":\"bad\",\"values\":{\"x\":1,\"y\":\"5\"}}\n"
                    + "{\"metric\":\"bad2\",\"values\":{\"z\":true}}\n";

            Result r = json(out, Status.OK);

            assertEquals(List.of("ok", METRIC), r.list.stream().map(Measurement::metric).toList());
            String msg = onlyError(r.list).message();
            assertTrue(msg.startsWith("2 invalid sample(s) dropped"), msg);
            assertTrue(msg.contains("output line 2: value 'y' is not a number"), msg);
        }

        @Test
        void valuesThatAreNotAnObjectAreRejected() {
            Result r = json("{\"values\":[1,2]}\n", Status.OK);

            assertEquals(1, r.list.size());
            assertTrue(onlyError(r.list).message().contains("output line 1: 'values' must be an object of numbers"),
                    onlyError(r.list).message());
        }

        @Test
        void unknownStatusIsRejected() {
            String out = "{\"metric\":\"a\",\"status\":\"warning\"}\n"
                    + "{\"metric\":\"b\",\"status\":\"degraded\",\"values\":{\"x\":1}}\n"
                    + "{\"metric\":\"c\",\"status\":\"error\"}\n";

            Result r = json(out, Status.OK);

            assertEquals(List.of("a", METRIC), r.list.stream().map(Measurement::metric).toList());
            String msg = onlyError(r.list).message();
            assertTrue(msg.startsWith("2 invalid sample(s) dropped; first: output line 2: status 'degraded' is not one of"), msg);
        }

        @Test
        void badTagsOrUnitsAreRejected() {
            String out = "{\"tags\":{\"a\":{\"nested\":1}}}\n{\"units\":\"s\"}\n{\"metric\":\"fine\"}\n";

            Result r = json(out, Status.OK);

            assertEquals(List.of("fine", METRIC), r.list.stream().map(Measurement::metric).toList());
            String msg = onlyError(r.list).message();
            assertTrue(msg.startsWith("2 invalid sample(s) dropped; first: output line 1: 'tags' and 'units'"), msg);
        }

        @Test
        void invalidMetricNameAndNonFiniteValueAreDroppedByTheCollector() {
            String out = "{\"metric\":\"9lives\",\"values\":{\"x\":1}}\n"
                    + "{\"metric\":\"huge\",\"values\":{\"x\":1e400}}\n"
                    + "{\"metric\":\"good\",\"values\":{\"x\":1}}\n";

            Result r = json(out, Status.OK);

            assertEquals(List.of("good", METRIC), r.list.stream().map(Measurement::metric).toList());
            String msg = onlyError(r.list).message();
            assertTrue(msg.startsWith("2 invalid sample(s) dropped; first: metric name '9lives'"), msg);
        }

        @Test
        void trailingTextAfterTheObjectOnALineIsReportedNotSilentlyDropped() {
            // A plugin that forgets the newline between two samples prints two objects on one line. The
            // second must not vanish without a trace: the line is garbled and has to be reported.
            String out = "{\"metric\":\"a\",\"values\":{\"x\":1}}{\"metric\":\"b\",\"values\":{\"y\":2}}\n"
                    + "{\"metric\":\"c\",\"values\":{\"z\":3}} trailing garbage\n"
                    + "{\"metric\":\"d\",\"values\":{\"w\":4}}\n";

            Result r = json(out, Status.OK);

            assertTrue(r.list.stream().anyMatch(m -> m.metric().equals("d") && m.status() == Status.OK), r.list.toString());
            Measurement err = r.list.stream().filter(m -> m.status() == Status.ERROR).findFirst()
                    .orElseThrow(() -> new AssertionError("garbled lines 1 and 2 were accepted without a problem: " + r.list));
            assertTrue(err.message().startsWith("2 invalid sample(s) dropped; first: output line 1"), err.message());
        }

        @Test
        void aMisspeltFieldMakesTheLineInvalidInsteadOfLosingItsData() {
            String out = "{\"metric\":\"a\",\"value\":{\"x\":1}}\n{\"metric\":\"b\",\"values\":{\"y\":2}}\n";

            Result r = json(out, Status.OK);

            assertEquals(List.of("b", METRIC), r.list.stream().map(Measurement::metric).toList());
            assertEquals("1 invalid sample(s) dropped; first: output line 1: unknown field 'value'; "
                    + "allowed: metric, values, tags, units, status, message", r.list.get(1).message());
        }
    }

    @Nested
    class Nagios {

        @Test
        void firstLineGivesMessageAndPerfdata() {
            Result r = nagios("DISK OK - free space: / 3326 MB (56%); | /=2643MB;5948;5958;0;5968\n", Status.OK);

            assertEquals(1, r.list.size(), r.list.toString());
            Measurement m = r.list.get(0);
            assertEquals(METRIC, m.metric());
            assertEquals(Status.OK, m.status());
            assertEquals("DISK OK - free space: / 3326 MB (56%);", m.message());
            assertEquals(Map.of("/", 2643.0, "/.warn", 5948.0, "/.crit", 5958.0, "/.min", 0.0, "/.max", 5968.0), m.values());
            assertEquals(List.of("/", "/.warn", "/.crit", "/.min", "/.max"), List.copyOf(m.values().keySet()));
            assertEquals(Map.of("/", "MB"), m.units());
            assertTrue(m.tags().isEmpty());
        }

        @Test
        void statusComesFromTheCallerNotFromTheText() {
            Result r = nagios("OK - this text says ok|x=1", Status.CRITICAL);

            assertEquals(Status.CRITICAL, r.list.get(0).status());
            assertEquals("OK - this text says ok", r.list.get(0).message());
        }

        @Test
        void rangeThresholdsAndUndeterminedValuesGiveNoNumbers() {
            Result r = nagios("PING WARNING | rta=U;100;200;0 pl=40%;20:30;@50:60;0;100 t=1.5s;~:5;10", Status.WARNING);

            Measurement m = r.list.get(0);
            assertEquals(Map.of("rta.warn", 100.0, "rta.crit", 200.0, "rta.min", 0.0,
                    "pl", 40.0, "pl.min", 0.0, "pl.max", 100.0,
                    "t", 1.5, "t.crit", 10.0), m.values());
            assertEquals(Map.of("pl", "%", "t", "s"), m.units());
        }

        @Test
        void multiLineLongOutputWithPerfdataAfterABarOnALaterLine() {
            // The guidelines' multi-line example.
            String out = """
                    DISK OK - free space: / 3326 MB (56%); | /=2643MB;5948;5958;0;5968
                    / 15272 MB (77%);
                    /boot 68 MB (69%);
                    /home 69357 MB (27%);
                    /var/log 819 MB (84%); | /boot=68MB;88;93;0;98
                    /home=69357MB;253404;253409;0;253414
                    /var/log=818MB;970;975;0;980
                    """;

            Result r = nagios(out, Status.OK);

            assertEquals(1, r.list.size(), r.list.toString());
            Measurement m = r.list.get(0);
            assertEquals("DISK OK - free space: / 3326 MB (56%);", m.message());
            assertEquals(List.of("/", "/boot", "/home", "/var/log"),
                    m.values().keySet().stream().filter(k -> !k.contains(".")).toList(), m.values().toString());
            assertEquals(68.0, m.values().get("/boot"));
            assertEquals(253414.0, m.values().get("/home.max"));
            assertEquals(818.0, m.values().get("/var/log"));
            assertEquals(970.0, m.values().get("/var/log.warn"));
            assertEquals(Map.of("/", "MB", "/boot", "MB", "/home", "MB", "/var/log", "MB"), m.units());
            assertFalse(m.values().containsKey("/ 15272 MB (77%);"), "long text is not perfdata");
        }

        @Test
        void perfdataOnlyInTheLongOutput() {
            Result r = nagios("CHECK OK - first line only\nmore text\n| a=1 b=2\nc=3\n", Status.OK);

            Measurement m = r.list.get(0);
            assertEquals("CHECK OK - first line only", m.message());
            assertEquals(Map.of("a", 1.0, "b", 2.0, "c", 3.0), m.values());
        }

        @Test
        void outputWithoutPerfdataGivesOnlyTheMessage() {
            Result r = nagios("PROCS CRITICAL: 0 processes with command name 'sshd'\nand some long text\n", Status.CRITICAL);

            assertEquals(1, r.list.size());
            Measurement m = r.list.get(0);
            assertEquals("PROCS CRITICAL: 0 processes with command name 'sshd'", m.message());
            assertEquals(Status.CRITICAL, m.status());
            assertTrue(m.values().isEmpty());
            assertTrue(m.units().isEmpty());
        }

        @Test
        void emptyOutputGivesOneMeasurementWithTheStatusAndNoMessage() {
            for (String out : new String[] {"", "\n", "   \n"}) {
                Result r = nagios(out, Status.WARNING);

                assertEquals(1, r.list.size(), "output '" + out + "': " + r.list);
                Measurement m = r.list.get(0);
                assertEquals(Status.WARNING, m.status());
                assertNull(m.message());
                assertTrue(m.values().isEmpty());
            }
        }

        @Test
        void carriageReturnLineEndsAreStripped() {
            Result r = nagios("OK - dos line ends | a=1;2;3\r\nlong\r\n", Status.OK);

            assertEquals("OK - dos line ends", r.list.get(0).message());
            assertEquals(Map.of("a", 1.0, "a.warn", 2.0, "a.crit", 3.0), r.list.get(0).values());
        }

        @Test
        void garbagePerfdataItemIsReportedWhileTheOthersAndTheStatusAreKept() {
            Result r = nagios("HTTP WARNING - slow | time=2.5s;1;5 size=abc bytes=512B", Status.WARNING);

            assertEquals(2, r.list.size(), r.list.toString());
            Measurement m = r.list.get(0);
            assertEquals(Status.WARNING, m.status());
            assertEquals("HTTP WARNING - slow", m.message());
            assertEquals(Map.of("time", 2.5, "time.warn", 1.0, "time.crit", 5.0, "bytes", 512.0), m.values());
            Measurement err = r.list.get(1);
            assertEquals(Status.ERROR, err.status());
            assertTrue(err.message().startsWith("1 invalid sample(s) dropped; first: perfdata item 'size=abc'"), err.message());
        }

        @Test
        void perfdataItemTheAgentCannotStoreDoesNotCostThePluginsStatusAndOtherValues() {
            // A label longer than a value name may be (200) and a value beyond double range are unusable
            // items like any garbage item: report them, keep the rest. The plugin said CRITICAL; losing
            // that because of one perfdata item would hide the alert.
            String longLabel = "'" + "/srv/export/".repeat(20) + "'";
            Result r = nagios("DISK CRITICAL - /srv full | " + longLabel + "=99%;80;90 big=1e400 ok=1", Status.CRITICAL);

            Measurement m = r.list.stream().filter(x -> x.status() == Status.CRITICAL).findFirst()
                    .orElseThrow(() -> new AssertionError("plugin's CRITICAL status was lost: " + r.list));
            assertEquals("DISK CRITICAL - /srv full", m.message());
            assertEquals(1.0, m.values().get("ok"));
            assertTrue(r.list.stream().anyMatch(x -> x.status() == Status.ERROR), "unusable items reported: " + r.list);
        }
    }

    private record Result(int lines, List<Measurement> list) {
    }

    private static Result json(String stdout, Status fallback) {
        MeasurementCollector c = new MeasurementCollector(100);
        int lines = PluginOutput.jsonLines(stdout, METRIC, fallback, c);
        return new Result(lines, c.finish(METRIC));
    }

    private static Result nagios(String stdout, Status status) {
        MeasurementCollector c = new MeasurementCollector(100);
        PluginOutput.nagios(stdout, METRIC, status, c);
        return new Result(-1, c.finish(METRIC));
    }

    private static Measurement onlyError(List<Measurement> list) {
        List<Measurement> errors = list.stream().filter(m -> m.status() == Status.ERROR).toList();
        assertEquals(1, errors.size(), "exactly one error measurement: " + list);
        return errors.get(0);
    }
}
