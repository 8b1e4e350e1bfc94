package io.aegisquartz.config;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.quartz.CronExpression;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.text.ParseException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Set;
import java.util.TimeZone;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The cron files: real files in a temporary agent home, real plugin files, Quartz's own
 * CronExpression to check what an accepted expression means.
 *
 * <p>Columns in expected messages are 1-based and counted by hand; each test says how.
 */
class CronFileParserTest {

    /** "now" for the parser: Thursday 1 January 2026, midnight UTC. */
    private static final Date NOW = Date.from(Instant.parse("2026-01-01T00:00:00Z"));

    @TempDir
    Path home;

    private Path conf;
    private Path userFile;
    private Path defaultFile;
    private Path sampler;
    private Path checkSh;
    private AgentSettings settings;

    @BeforeEach
    void layout() throws IOException {
        conf = Files.createDirectories(home.resolve("conf"));
        Files.createDirectories(home.resolve("plugins-default"));
        Files.createDirectories(home.resolve("plugins-user"));
        sampler = Files.writeString(home.resolve("plugins-default/sampler.groovy"), "return []\n");
        checkSh = Files.writeString(home.resolve("plugins-user/check.sh"), "#!/bin/sh\necho '{\"metric\":\"ok\"}'\n");
        Files.setPosixFilePermissions(checkSh, PosixFilePermissions.fromString("rwxr-xr-x"));
        userFile = conf.resolve("aegis_quartz.conf.user");
        defaultFile = conf.resolve("aegis_quartz.conf.default");
        settings = AgentSettings.defaults(home, conf);
    }

    // ---------------------------------------------------------------- helpers

    private CronFile parseUser(String... lines) throws IOException {
        Files.writeString(userFile, String.join("\n", lines) + "\n", StandardCharsets.UTF_8);
        return new CronFileParser(settings, NOW).parse(JobSource.USER);
    }

    /** The single job of a one-line user file, failing with the problems if there are any. */
    private JobSpec onlyJob(String line) throws IOException {
        CronFile f = parseUser(line);
        assertEquals(List.of(), f.problems(), "problems of: " + line);
        assertEquals(1, f.jobs().size());
        return f.jobs().get(0);
    }

    /** The formatted single problem of a one-line user file that must yield no job. */
    private String onlyProblem(String line) throws IOException {
        CronFile f = parseUser(line);
        assertEquals(List.of(), f.jobs(), "jobs of: " + line);
        assertEquals(1, f.problems().size(), () -> "problems of: " + line + " -> " + f.problems());
        return f.problems().get(0).format();
    }

    /** The next {@code n} fire times in UTC after {@code start}, as computed by Quartz itself. */
    private static List<String> fires(JobSpec job, String start, int n) throws ParseException {
        CronExpression ce = new CronExpression(job.cron());
        ce.setTimeZone(TimeZone.getTimeZone("UTC"));
        List<String> out = new ArrayList<>();
        Date t = Date.from(Instant.parse(start));
        for (int i = 0; i < n; i++) {
            t = ce.getNextValidTimeAfter(t);
            out.add(t == null ? "never" : t.toInstant().toString());
            if (t == null) {
                break;
            }
        }
        return out;
    }

    private String u() {
        return userFile.toString();
    }

    // ---------------------------------------------------------------- what cron expressions mean

    @Test
    void secondsFieldWithListFiresAtThoseSeconds() throws Exception {
        JobSpec job = onlyJob("[15,45 * * * * ?] default/sampler.groovy");
        assertEquals("15,45 * * * * ?", job.cron());
        assertEquals(List.of("2026-01-01T00:00:15Z", "2026-01-01T00:00:45Z", "2026-01-01T00:01:15Z"),
                fires(job, "2026-01-01T00:00:00Z", 3));
    }

    @Test
    void questionMarkInDayOfMonthWithFixedDayOfMonthElsewhere() throws Exception {
        // '?' in day-of-week, day-of-month 1: noon on the 1st of each month.
        JobSpec job = onlyJob("[0 0 12 1 * ?] default/sampler.groovy");
        assertEquals(List.of("2026-01-01T12:00:00Z", "2026-02-01T12:00:00Z", "2026-03-01T12:00:00Z"),
                fires(job, "2026-01-01T00:00:00Z", 3));
    }

    @Test
    void lastDayOfMonthIncludingLeapFebruary() throws Exception {
        JobSpec job = onlyJob("[0 0 0 L * ?] default/sampler.groovy");
        // 2028 is a leap year: the last day of February 2028 is the 29th.
        assertEquals(List.of("2028-01-31T00:00:00Z", "2028-02-29T00:00:00Z", "2028-03-31T00:00:00Z", "2028-04-30T00:00:00Z"),
                fires(job, "2028-01-15T00:00:00Z", 4));
    }

    @Test
    void lastDayMinusOffset() throws Exception {
        JobSpec job = onlyJob("[0 0 0 L-3 * ?] default/sampler.groovy");
        // Quartz: L-3 is the last day minus 3: Feb 2028 29-3=26, Mar 31-3=28, Apr 30-3=27.
        assertEquals(List.of("2028-02-26T00:00:00Z", "2028-03-28T00:00:00Z", "2028-04-27T00:00:00Z"),
                fires(job, "2028-02-01T00:00:00Z", 3));
    }

    @Test
    void nearestWeekdayToTheFifteenth() throws Exception {
        JobSpec job = onlyJob("[0 0 9 15W * ?] default/sampler.groovy");
        // Checked with date(1): 15 Aug 2026 is a Saturday -> Friday 14th; 15 Sep is a Tuesday; 15 Oct a Thursday;
        // 15 Nov 2026 is a Sunday -> Monday 16th; 15 Dec is a Tuesday.
        assertEquals(List.of("2026-08-14T09:00:00Z", "2026-09-15T09:00:00Z", "2026-10-15T09:00:00Z",
                        "2026-11-16T09:00:00Z", "2026-12-15T09:00:00Z"),
                fires(job, "2026-08-01T00:00:00Z", 5));
    }

    @Test
    void lastWeekdayOfMonth() throws Exception {
        JobSpec job = onlyJob("[0 0 18 LW * ?] default/sampler.groovy");
        // 31 Jan 2026 is a Saturday -> Fri 30th; 28 Feb 2026 a Saturday -> Fri 27th; 31 Mar 2026 a Tuesday;
        // 31 May 2026 a Sunday -> Fri 29th (April: 30 Apr 2026 is a Thursday).
        assertEquals(List.of("2026-01-30T18:00:00Z", "2026-02-27T18:00:00Z", "2026-03-31T18:00:00Z",
                        "2026-04-30T18:00:00Z", "2026-05-29T18:00:00Z"),
                fires(job, "2026-01-01T00:00:00Z", 5));
    }

    @Test
    void nthWeekdayOfMonthFirstMonday() throws Exception {
        JobSpec job = onlyJob("[0 0 8 ? * 2#1] default/sampler.groovy");
        // Quartz day 2 is Monday. First Mondays of 2026: 5 Jan, 2 Feb, 2 Mar.
        assertEquals(List.of("2026-01-05T08:00:00Z", "2026-02-02T08:00:00Z", "2026-03-02T08:00:00Z"),
                fires(job, "2026-01-01T00:00:00Z", 3));
    }

    @Test
    void lastFridayOfMonth() throws Exception {
        JobSpec job = onlyJob("[0 0 17 ? * 6L] default/sampler.groovy");
        // Quartz day 6 is Friday. Last Fridays of 2026: 30 Jan, 27 Feb, 27 Mar.
        assertEquals(List.of("2026-01-30T17:00:00Z", "2026-02-27T17:00:00Z", "2026-03-27T17:00:00Z"),
                fires(job, "2026-01-01T00:00:00Z", 3));
    }

    @Test
    void hourRangeOnWeekdayNameRange() throws Exception {
        JobSpec job = onlyJob("[0 0 9-17 ? * MON-FRI] default/sampler.groovy");
        // Start Friday 2 Jan 2026 16:30: 17:00 that Friday, then the weekend is skipped to Monday 5 Jan 09:00.
        assertEquals(List.of("2026-01-02T17:00:00Z", "2026-01-05T09:00:00Z", "2026-01-05T10:00:00Z"),
                fires(job, "2026-01-02T16:30:00Z", 3));
    }

    @Test
    void stepFromZeroEveryFifteenMinutes() throws Exception {
        JobSpec job = onlyJob("[0 0/15 * * * ?] default/sampler.groovy");
        assertEquals(List.of("2026-01-01T00:15:00Z", "2026-01-01T00:30:00Z", "2026-01-01T00:45:00Z", "2026-01-01T01:00:00Z"),
                fires(job, "2026-01-01T00:07:00Z", 4));
    }

    @Test
    void starStepEveryTenSeconds() throws Exception {
        JobSpec job = onlyJob("[*/10 * * * * ?] default/sampler.groovy");
        assertEquals(List.of("2026-01-01T00:00:10Z", "2026-01-01T00:00:20Z", "2026-01-01T00:00:30Z"),
                fires(job, "2026-01-01T00:00:00Z", 3));
    }

    @Test
    void hourList() throws Exception {
        JobSpec job = onlyJob("[0 0 6,12,18 * * ?] default/sampler.groovy");
        assertEquals(List.of("2026-01-01T06:00:00Z", "2026-01-01T12:00:00Z", "2026-01-01T18:00:00Z", "2026-01-02T06:00:00Z"),
                fires(job, "2026-01-01T00:00:00Z", 4));
    }

    @Test
    void monthAndDayNames() throws Exception {
        JobSpec job = onlyJob("[0 30 7 ? JAN,JUL SAT,SUN] default/sampler.groovy");
        // Weekend days of January and July only: Sat 31 Jan 2026, then Sat 4 and Sun 5 July 2026.
        assertEquals(List.of("2026-01-31T07:30:00Z", "2026-07-04T07:30:00Z", "2026-07-05T07:30:00Z"),
                fires(job, "2026-01-30T00:00:00Z", 3));
    }

    @Test
    void optionalYearFieldLimitsTheYears() throws Exception {
        JobSpec job = onlyJob("[0 0 0 1 1 ? 2027-2028] default/sampler.groovy");
        assertEquals("0 0 0 1 1 ? 2027-2028", job.cron());
        assertEquals(List.of("2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z", "never"),
                fires(job, "2026-01-01T00:00:00Z", 3));
    }

    @Test
    void blanksInsideBracketsAreNotPartOfTheExpression() throws Exception {
        JobSpec job = onlyJob("[  0 0 12 * * ?  ] default/sampler.groovy");
        assertEquals("0 0 12 * * ?", job.cron());
    }

    // ---------------------------------------------------------------- good lines: options, args, comments

    @Test
    void optionsAreAppliedToJobOptions() throws Exception {
        String line = "[0 0 12 * * ?] timeout=5s cpu=2s overlap=queue misfire=run_once name=x output_max=64KiB memory_max=32MiB "
                + "pids_max=9 user/check.sh 'a b' \"c \\\"d\\\"\" # trailing comment";
        JobSpec job = onlyJob(line);
        assertEquals(new JobOptions(Duration.ofSeconds(5), Duration.ofSeconds(2), Duration.ofSeconds(2), 65_536, 10_000,
                JobOptions.Overlap.QUEUE, JobOptions.Misfire.RUN_ONCE, null, null, 32L << 20, 9), job.options());
        assertEquals("x", job.name());
        assertEquals("x", job.key());
        assertEquals("0 0 12 * * ?", job.cron());
        assertEquals("user/check.sh", job.pluginRef());
        assertEquals(checkSh, job.pluginPath());
        // "[0 0 12 * * ?]" is 14 chars, then " timeout=5s" (11) -> 25, " cpu=2s" (7) -> 32, " overlap=queue" (14) -> 46,
        // " misfire=run_once" (17) -> 63, " name=x" (7) -> 70, " output_max=64KiB" (17) -> 87,
        // " memory_max=32MiB" (17) -> 104, " pids_max=9" (11) -> 115, one blank -> 116: the plugin path starts at column 117.
        assertEquals(117, job.pluginColumn());
        assertEquals(List.of("a b", "c \"d\""), job.args());
        assertEquals(userFile, job.file());
        assertEquals(1, job.line());
        assertEquals(JobSource.USER, job.source());
    }

    @Test
    void splayIsAnOptionWithADefaultFromTheIniFile() throws Exception {
        assertEquals(Duration.ofSeconds(30), onlyJob("[0 * * * * ?] splay=30s user/check.sh").options().splay());
        assertEquals(Duration.ZERO, onlyJob("[0 * * * * ?] user/check.sh").options().splay(), "off unless asked for");
        settings = AgentSettings.from(home, conf, IniFile.parse(conf.resolve("aegis_config.ini"), "[limits]\nsplay = 1m\n"));
        assertEquals(Duration.ofMinutes(1), onlyJob("[0 * * * * ?] user/check.sh").options().splay());
        assertEquals(Duration.ZERO, onlyJob("[0 * * * * ?] splay=0 user/check.sh").options().splay(), "a line can turn it off");
        // "[0 * * * * ?] splay=" is 20 chars: the value starts at column 21.
        assertEquals(u() + ":1:21: option splay: 2d is out of range; allowed: from 0ms to 1d\n    fix: e.g. splay=0s",
                onlyProblem("[0 * * * * ?] splay=2d user/check.sh"));
    }

    @Test
    void remainingOptionsAreApplied() throws Exception {
        JobSpec job = onlyJob("[0 0 12 * * ?] kill_grace=500ms max_samples=10 sampler=disk_usage default/sampler.groovy");
        assertEquals(new JobOptions(Duration.ofSeconds(30), Duration.ofSeconds(10), Duration.ofMillis(500), 1_048_576, 10,
                JobOptions.Overlap.SKIP, JobOptions.Misfire.SKIP, "disk_usage", null, 128L << 20, 64).withIsolation(JobOptions.Isolation.INPROC),
                job.options());
    }

    @Test
    void userPluginsRunInTheHostAndDefaultOnesInTheAgentUnlessTheLineSays() throws Exception {
        Files.writeString(home.resolve("plugins-user/u.groovy"), "return []\n");
        assertEquals(JobOptions.Isolation.HOST, onlyJob("[0 0 12 * * ?] user/u.groovy").options().isolation());
        assertEquals(JobOptions.Isolation.INPROC, onlyJob("[0 0 12 * * ?] isolation=inproc user/u.groovy").options().isolation());
        assertEquals(JobOptions.Isolation.INPROC, onlyJob("[0 0 12 * * ?] default/sampler.groovy").options().isolation());
        assertEquals(JobOptions.Isolation.HOST, onlyJob("[0 0 12 * * ?] isolation=host default/sampler.groovy").options().isolation());
        assertEquals(JobOptions.Isolation.HOST, onlyJob("[0 0 12 * * ?] " + sampler + "").options().isolation(),
                "an absolute path is not one of the shipped plugins");

        Files.writeString(conf.resolve(AgentSettings.FILE_NAME), "[plugins]\nisolation = inproc\n");
        settings = AgentSettings.load(home, conf);
        assertEquals(JobOptions.Isolation.INPROC, onlyJob("[0 0 12 * * ?] user/u.groovy").options().isolation(), "[plugins] isolation");
        assertEquals(JobOptions.Isolation.HOST, onlyJob("[0 0 12 * * ?] isolation=host user/u.groovy").options().isolation());
    }

    @Test
    void isolationIsForEveryKindOfPluginAndItsValueIsChecked() throws Exception {
        // Executables too: isolation=host runs them in the exec host where there is one, inproc in the agent.
        assertEquals(JobOptions.Isolation.INPROC, onlyJob("[0 0 12 * * ?] isolation=inproc user/check.sh").options().isolation());
        assertEquals(JobOptions.Isolation.HOST, onlyJob("[0 0 12 * * ?] isolation=host user/check.sh").options().isolation());
        // The value starts at column 26.
        assertEquals(u() + ":1:26: option isolation: 'sandbox' is not allowed; allowed: one of host, inproc\n"
                        + "    fix: isolation=host (the plugin host, a JVM of its own) or isolation=inproc (the agent's JVM, for trusted plugins)",
                onlyProblem("[0 0 12 * * ?] isolation=sandbox default/sampler.groovy"));
    }

    @Test
    void lineWithoutOptionsTakesLimitsFromTheIniFile() throws Exception {
        Files.writeString(conf.resolve(AgentSettings.FILE_NAME), """
                [limits]
                timeout = 7s
                overlap = queue
                [plugins]
                user_dir = my-plugins
                """);
        Files.createDirectories(home.resolve("my-plugins"));
        Path mine = Files.writeString(home.resolve("my-plugins/mine.groovy"), "return []\n");
        settings = AgentSettings.load(home, conf);
        assertEquals(List.of(), settings.problems());

        CronFile f = parseUser("[0 0 12 * * ?] user/mine.groovy", "[0 0 13 * * ?] timeout=5s user/mine.groovy other");
        assertEquals(List.of(), f.problems());
        assertEquals(mine, f.jobs().get(0).pluginPath());
        assertEquals(Duration.ofSeconds(7), f.jobs().get(0).options().timeout());
        assertEquals(JobOptions.Overlap.QUEUE, f.jobs().get(0).options().overlap());
        assertEquals(Duration.ofSeconds(5), f.jobs().get(1).options().timeout());
        assertEquals(JobOptions.Overlap.QUEUE, f.jobs().get(1).options().overlap());
    }

    @Test
    void quotesAreJoinedWithAdjacentTextAndHashInsideAWordIsKept() throws Exception {
        JobSpec job = onlyJob("[0 0 12 * * ?] user/check.sh a'b c'd \"\" x#y 'it''s' \"back\\\\slash\" # c");
        assertEquals(List.of("ab cd", "", "x#y", "its", "back\\slash"), job.args());
    }

    @Test
    void trailingCommentIsIgnored() throws Exception {
        JobSpec job = onlyJob("[0 0 12 * * ?] user/check.sh --warn 5 # --crit 9 is not an argument");
        assertEquals(List.of("--warn", "5"), job.args());
        assertEquals("user/check.sh --warn 5", job.name());
        assertEquals("user/check.sh\u0000--warn\u00005", job.key());
    }

    @Test
    void absolutePluginPathIsUsedAsIs() throws Exception {
        JobSpec job = onlyJob("[0 0 12 * * ?] " + checkSh);
        assertEquals(checkSh, job.pluginPath());
        assertEquals(checkSh.toString(), job.pluginRef());
    }

    @Test
    void commentAndBlankLinesAreIgnoredAndLineNumbersKept() throws Exception {
        CronFile f = parseUser(
                "# a comment",
                "",
                "   ",
                "\t# indented comment",
                "[0 0 12 * * ?] default/sampler.groovy",
                "",
                "[0 0 13 * * ?] user/check.sh");
        assertEquals(List.of(), f.problems());
        assertEquals(2, f.jobs().size());
        assertEquals(5, f.jobs().get(0).line());
        assertEquals(7, f.jobs().get(1).line());
        assertFalse(f.unidentifiedBad());
        assertEquals(Set.of(), f.badKeys());
    }

    @Test
    void byteOrderMarkAndCrlfAreAccepted() throws Exception {
        Files.writeString(userFile, "\uFEFF[0 0 12 * * ?] user/check.sh a\r\n[0 0 13 * * ?] user/check.sh b\r\n");
        CronFile f = new CronFileParser(settings, NOW).parse(JobSource.USER);
        assertEquals(List.of(), f.problems());
        assertEquals(2, f.jobs().size());
        assertEquals(List.of("a"), f.jobs().get(0).args());
        assertEquals(List.of("b"), f.jobs().get(1).args());
        // The BOM is not a column: the plugin path starts right after "[0 0 12 * * ?] " (15 chars).
        assertEquals(16, f.jobs().get(0).pluginColumn());
        assertEquals(2, f.jobs().get(1).line());
    }

    @Test
    void secretArgumentsAreMaskedInTheNameButNotInTheKey() throws Exception {
        JobSpec job = onlyJob("[0 0 12 * * ?] user/check.sh --password hunter2 --url https://bob:s3cret@db/x");
        assertEquals("user/check.sh --password *** --url https://bob:***@db/x", job.name());
        assertEquals(List.of("--password", "hunter2", "--url", "https://bob:s3cret@db/x"), job.args());
    }

    @Test
    void defaultFileIsReadFromTheConfDirectory() throws Exception {
        Files.writeString(defaultFile, "# shipped\n[0/10 * * * * ?] default/sampler.groovy\n");
        CronFile f = new CronFileParser(settings, NOW).parse(JobSource.DEFAULT);
        assertEquals(List.of(), f.problems());
        assertTrue(f.readable());
        assertEquals(JobSource.DEFAULT, f.source());
        assertEquals(defaultFile, f.file());
        assertEquals(1, f.jobs().size());
        assertEquals(sampler, f.jobs().get(0).pluginPath());
        assertEquals(2, f.jobs().get(0).line());
        assertEquals("sampler", f.jobs().get(0).defaultMetric());
    }

    @Test
    void duplicateJobLineIsAnErrorNamingTheFirstLine() throws Exception {
        CronFile f = parseUser(
                "# jobs",
                "[0 0 12 * * ?] user/check.sh --disk /",
                "[0 0 13 * * ?] default/sampler.groovy",
                "[0 30 12 * * ?] user/check.sh --disk /");
        assertEquals(2, f.jobs().size());
        assertEquals(2, f.jobs().get(0).line());
        assertEquals(3, f.jobs().get(1).line());
        assertEquals(1, f.problems().size());
        assertEquals(u() + ":4:1: job 'user/check.sh --disk /' is already defined on line 2\n"
                        + "    fix: remove one of the two lines, or give one of them a different name=...",
                f.problems().get(0).format());
    }

    @Test
    void duplicateNameIsAnErrorEvenForDifferentPlugins() throws Exception {
        CronFile f = parseUser(
                "[0 0 12 * * ?] name=disk user/check.sh",
                "[0 0 13 * * ?] name=disk default/sampler.groovy");
        assertEquals(1, f.jobs().size());
        assertEquals(List.of(u() + ":2:1: job 'disk' is already defined on line 1\n"
                        + "    fix: remove one of the two lines, or give one of them a different name=..."),
                f.problems().stream().map(ConfigProblem::format).toList());
    }

    // ---------------------------------------------------------------- bad lines, exact messages

    @Test
    void lineNotStartingWithBracket() throws Exception {
        // Two leading blanks: the '0' that should have been '[' is at column 3.
        assertEquals(u() + ":1:3: a job line must start with a cron expression in brackets\n"
                        + "    fix: write e.g. '[0 0/1 * * * ?] default/sampler.groovy', or start the line with '#' to comment it out",
                onlyProblem("  0 0 12 * * ? default/sampler.groovy"));
    }

    @Test
    void missingClosingBracket() throws Exception {
        // Column of the opening '[' (column 1).
        assertEquals(u() + ":1:1: the cron expression is missing its closing ']'\n"
                        + "    fix: write e.g. '[0 0/1 * * * ?] default/sampler.groovy'",
                onlyProblem("[0 0 12 * * ? default/sampler.groovy"));
    }

    @Test
    void unixFiveFieldLineSuggestsQuartzForm() throws Exception {
        // '[' is column 1, the expression starts at column 2.
        assertEquals(u() + ":1:2: a Quartz cron expression has 6 or 7 fields, this one has 5\n"
                        + "    fix: Quartz cron starts with a seconds field and needs '?' in one day field: this Unix cron line "
                        + "becomes [0 */5 * * * ?] (and Quartz numbers weekdays 1-7 from Sunday)",
                onlyProblem("[*/5 * * * *] user/check.sh"));
    }

    @Test
    void unixFiveFieldLineWithWeekdaySuggestsQuestionMarkInDayOfMonth() throws Exception {
        assertEquals(u() + ":1:2: a Quartz cron expression has 6 or 7 fields, this one has 5\n"
                        + "    fix: Quartz cron starts with a seconds field and needs '?' in one day field: this Unix cron line "
                        + "becomes [0 30 2 ? * 2-6] (and Quartz numbers weekdays 1-7 from Sunday)",
                onlyProblem("[30 2 * * 2-6] user/check.sh"));
    }

    @Test
    void unixFiveFieldSuggestionIsItselfValidQuartz() throws Exception {
        // Unix "0 9 1 * 1": both day fields set. The suggested Quartz form must be one Quartz accepts,
        // otherwise following the fix just produces the next error.
        String msg = onlyProblem("[0 9 1 * 1] user/check.sh");
        int open = msg.indexOf("becomes [");
        assertTrue(open > 0, msg);
        String suggested = msg.substring(open + "becomes [".length(), msg.indexOf(']', open));
        assertTrue(CronExpression.isValidExpression(suggested), "suggested '" + suggested + "' is not valid Quartz: " + msg);
    }

    @Test
    void eightFieldsIsTooMany() throws Exception {
        assertEquals(u() + ":1:2: a Quartz cron expression has 6 or 7 fields, this one has 8\n"
                        + "    fix: write 6 or 7 fields: seconds minutes hours day-of-month month day-of-week [year], e.g. [0 0/1 * * * ?]",
                onlyProblem("[0 0 12 * * ? 2027 x] user/check.sh"));
    }

    @Test
    void hourOutOfRangeIsLocatedInTheHoursField() throws Exception {
        // "[0 0 25": '[' 1, '0' 2, ' ' 3, '0' 4, ' ' 5, '25' starts at column 6.
        assertEquals(u() + ":1:6: hours field '25': Hour values must be between 0 and 23\n"
                        + "    fix: use 0-23, '*', ranges, lists and steps",
                onlyProblem("[0 0 25 * * ?] user/check.sh"));
    }

    @Test
    void columnCountsLeadingBlanksBeforeAndInsideTheBracket() throws Exception {
        // "  [ 0 0 25": blanks 1-2, '[' 3, blank 4, '0' 5, ' ' 6, '0' 7, ' ' 8, '25' at column 9.
        assertEquals(u() + ":1:9: hours field '25': Hour values must be between 0 and 23\n"
                        + "    fix: use 0-23, '*', ranges, lists and steps",
                onlyProblem("  [ 0 0 25 * * ?] user/check.sh"));
    }

    @Test
    void minuteOutOfRange() throws Exception {
        // "[0 60": '60' starts at column 4.
        assertEquals(u() + ":1:4: minutes field '60': Minute and Second values must be between 0 and 59\n"
                        + "    fix: use 0-59, '*', ranges a-b, lists a,b and steps like 0/15 or */15",
                onlyProblem("[0 60 12 * * ?] user/check.sh"));
    }

    @Test
    void badMonthNameIsLocatedInTheMonthField() throws Exception {
        // "[0 0 12 * FOO": '[' 1, '0' 2, '0' 4, '12' 6-7, '*' 9, 'FOO' starts at column 11.
        assertEquals(u() + ":1:11: month field 'FOO': Invalid Month value: 'FOO'\n"
                        + "    fix: use 1-12 or JAN-DEC, ranges, lists and steps",
                onlyProblem("[0 0 12 * FOO ?] user/check.sh"));
    }

    @Test
    void badMonthIsLocatedInTheMonthFieldWhenDayOfMonthIsQuestionMark() throws Exception {
        // The usual weekday form has '?' in day-of-month; the error is still the month's.
        // "[0 0 12 ? 13": '?' at column 9, '13' at column 11.
        assertEquals(u() + ":1:11: month field '13': Month values must be between 1 and 12\n"
                        + "    fix: use 1-12 or JAN-DEC, ranges, lists and steps",
                onlyProblem("[0 0 12 ? 13 MON] user/check.sh"));
    }

    @Test
    void badDayOfWeekIsLocatedInTheDayOfWeekField() throws Exception {
        // "[0 0 12 ? * 9": '?' at column 9, '*' at 11, '9' at column 13.
        assertEquals(u() + ":1:13: day-of-week field '9': Day-of-Week values must be between 1 and 7\n"
                        + "    fix: use 1-7 or SUN-SAT, '?', '6L' (last Friday), '2#1' (first Monday), ranges and lists",
                onlyProblem("[0 0 12 ? * 9] user/check.sh"));
    }

    @Test
    void badNthWeekdayPointsAtTheNumberAfterHash() throws Exception {
        // "[0 0 12 ? * MON#6": 'MON#6' starts at column 13; Quartz reports offset 4 in the field -> the '6' at column 17.
        assertEquals(u() + ":1:17: day-of-week field 'MON#6': A numeric value between 1 and 5 must follow the '#' option\n"
                        + "    fix: use 1-7 or SUN-SAT, '?', '6L' (last Friday), '2#1' (first Monday), ranges and lists",
                onlyProblem("[0 0 12 ? * MON#6] user/check.sh"));
    }

    @Test
    void bothDayFieldsSet() throws Exception {
        // The day-of-month field '1' is at column 9 ("[0 0 12 " is 8 chars).
        assertEquals(u() + ":1:9: day-of-month '1' and day-of-week 'MON' are both set; Quartz needs one of them to be '?'\n"
                        + "    fix: write '?' in the one you do not mean, e.g. [0 0 12 ? * MON-FRI] or [0 0 12 1 * ?]",
                onlyProblem("[0 0 12 1 * MON] user/check.sh"));
    }

    @Test
    void bothDayFieldsQuestionMark() throws Exception {
        // Day-of-month '?' at column 9.
        assertEquals(u() + ":1:9: day-of-month and day-of-week are both '?'; only one may be\n"
                        + "    fix: write '*' in one of them, e.g. [0 0 12 * * ?]",
                onlyProblem("[0 0 12 ? * ?] user/check.sh"));
    }

    @Test
    void expressionThatNeverFires() throws Exception {
        // Whole-expression problem: the column of its first character (2).
        assertEquals(u() + ":1:2: the expression never fires after " + NOW + "\n"
                        + "    fix: check the year field and impossible dates such as 30 February",
                onlyProblem("[0 0 12 * * ? 2020] user/check.sh"));
    }

    @Test
    void impossibleDateNeverFires() throws Exception {
        assertEquals(u() + ":1:2: the expression never fires after " + NOW + "\n"
                        + "    fix: check the year field and impossible dates such as 30 February",
                onlyProblem("[0 0 12 30 2 ?] user/check.sh"));
    }

    @Test
    void unknownOptionSuggestsTheClosestOne() throws Exception {
        // "[0 0 12 * * ?]" is 14 chars, a blank, so 'timout=5s' starts at column 16.
        assertEquals(u() + ":1:16: unknown option 'timout'; allowed: name, timeout, cpu, kill_grace, output_max, memory_max, "
                        + "pids_max, max_samples, max_bytes, mem, overlap, misfire, splay, sampler, user, isolation, notify, after, repeat\n"
                        + "    fix: did you mean 'timeout'? options go between ']' and the plugin path, "
                        + "e.g. [*/10 * * * * ?] timeout=5s user/check.sh",
                onlyProblem("[0 0 12 * * ?] timout=5s user/check.sh"));
    }

    @Test
    void badOptionValuePointsAtTheValue() throws Exception {
        // 'timeout=' starts at column 16 and is 8 chars long: the value 'abc' starts at column 24.
        assertEquals(u() + ":1:24: option timeout: 'abc' is not a duration; allowed: a number with a unit: ms, s, m, h or d "
                        + "(e.g. 500ms, 30s, 5m); a bare number means seconds, from 10ms to 1d\n"
                        + "    fix: e.g. timeout=30s",
                onlyProblem("[0 0 12 * * ?] timeout=abc user/check.sh"));
    }

    @Test
    void optionValueOutOfRange() throws Exception {
        // 'output_max=' (11 chars) from column 16: the value starts at column 27.
        assertEquals(u() + ":1:27: option output_max: 10B is out of range; allowed: from 1KiB to 1GiB\n"
                        + "    fix: e.g. output_max=1MiB",
                onlyProblem("[0 0 12 * * ?] output_max=10B user/check.sh"));
    }

    @Test
    void badChoiceOption() throws Exception {
        // 'overlap=' (8 chars) from column 16: the value starts at column 24.
        assertEquals(u() + ":1:24: option overlap: 'sometimes' is not allowed; allowed: one of skip, queue\n"
                        + "    fix: e.g. overlap=skip",
                onlyProblem("[0 0 12 * * ?] overlap=sometimes user/check.sh"));
    }

    @Test
    void optionGivenTwice() throws Exception {
        // "timeout=5s " is 11 chars from column 16: the second timeout starts at column 27.
        assertEquals(u() + ":1:27: option 'timeout' is given twice\n    fix: keep one",
                onlyProblem("[0 0 12 * * ?] timeout=5s timeout=6s user/check.sh"));
    }

    @Test
    void badJobName() throws Exception {
        // 'name=' starts at column 16; the name itself at column 21.
        assertEquals(u() + ":1:21: name 'a|b' must be 1-128 letters, digits or _ . : / @ -\n    fix: e.g. name=mysql_3306",
                onlyProblem("[0 0 12 * * ?] name=a|b user/check.sh"));
    }

    @Test
    void missingPluginPath() throws Exception {
        // Column right after ']' (']' is column 14).
        assertEquals(u() + ":1:15: missing plugin path after the cron expression\n"
                        + "    fix: name a plugin: default/NAME, user/NAME or an absolute path, e.g. user/check_mysql.groovy",
                onlyProblem("[0 0 12 * * ?] timeout=5s"));
    }

    @Test
    void pluginPathWithoutDefaultUserOrSlashPointsAtTheFileThatExists() throws Exception {
        // The plugin path starts at column 16; plugins-user/check.sh exists.
        assertEquals(u() + ":1:16: plugin path 'plugins/check.sh' must start with default/ or user/, or be absolute\n"
                        + "    fix: write user/check.sh (" + checkSh + " exists)",
                onlyProblem("[0 0 12 * * ?] plugins/check.sh"));
        assertEquals(u() + ":1:16: plugin path 'check.sh' must start with default/ or user/, or be absolute\n"
                        + "    fix: write user/check.sh (" + checkSh + " exists)",
                onlyProblem("[0 0 12 * * ?] check.sh"));
    }

    @Test
    void aMisspeltPrefixIsCorrectedNotPrefixedAgain() throws Exception {
        // Was "write user/users/x.groovy": a path nobody meant.
        assertEquals(u() + ":1:16: plugin path 'users/x.groovy' must start with default/ or user/, or be absolute\n"
                        + "    fix: write user/x.groovy",
                onlyProblem("[0 0 12 * * ?] users/x.groovy"));
        assertEquals(u() + ":1:16: plugin path 'plugins-default/x.groovy' must start with default/ or user/, or be absolute\n"
                        + "    fix: write default/x.groovy",
                onlyProblem("[0 0 12 * * ?] plugins-default/x.groovy"));
    }

    @Test
    void aWordThatIsNoPluginGetsNoMadeUpPath() throws Exception {
        assertEquals(u() + ":1:16: plugin path 'sec' must start with default/ or user/, or be absolute\n"
                        + "    fix: write default/NAME for a plugin in " + home.resolve("plugins-default") + ", user/NAME for one in "
                        + home.resolve("plugins-user") + ", or an absolute path",
                onlyProblem("[0 0 12 * * ?] sec user/check.sh"));
    }

    @Test
    void aUnitAfterABlankIsPartOfTheOptionNotAPluginPath() throws Exception {
        // "[0 0 12 * * ?] " is 15 chars and "timeout=5 " 10 more: 'sec' starts at column 26. Was "write user/sec".
        assertEquals(u() + ":1:26: 'sec' after timeout=5 is taken as the plugin path: an option's value ends at the first blank\n"
                        + "    fix: write timeout=5s",
                onlyProblem("[0 0 12 * * ?] timeout=5 sec user/check.sh"));
        // "output_max=2048 " is 16 chars from column 16: 'KiB' at column 32.
        assertEquals(u() + ":1:32: 'KiB' after output_max=2048 is taken as the plugin path: an option's value ends at the first blank\n"
                        + "    fix: write output_max=2048KiB",
                onlyProblem("[0 0 12 * * ?] output_max=2048 KiB user/check.sh"));
        assertEquals(u() + ":1:22: 'minutes' after cpu=1 is taken as the plugin path: an option's value ends at the first blank\n"
                        + "    fix: write cpu=1m",
                onlyProblem("[0 0 12 * * ?] cpu=1 minutes user/check.sh"));
    }

    @Test
    void aMisspeltPluginFileGetsDidYouMean() throws Exception {
        assertEquals(u() + ":1:16: plugin not found: " + home.resolve("plugins-user/chek.sh") + "\n"
                        + "    fix: did you mean 'user/check.sh'? create the file, or fix the path (default/ is " + home.resolve("plugins-default")
                        + ", user/ is " + home.resolve("plugins-user") + ")",
                onlyProblem("[0 0 12 * * ?] user/chek.sh"));
        // Each part of the path on its own: the folder and the file are both misspelt.
        Files.createDirectories(home.resolve("plugins-user/examples"));
        Files.writeString(home.resolve("plugins-user/examples/hello.groovy"), "return []\n");
        assertTrue(onlyProblem("[0 0 12 * * ?] user/exampels/helo.groovy").contains("fix: did you mean 'user/examples/hello.groovy'? "));
        assertTrue(onlyProblem("[0 0 12 * * ?] default/smapler.groovy").contains("fix: did you mean 'default/sampler.groovy'? "));
    }

    @Test
    void pluginPathWithDotDot() throws Exception {
        // plugins-default/../plugins-user/check.sh exists, but '..' is refused anyway.
        assertEquals(u() + ":1:16: plugin path 'default/../plugins-user/check.sh' may not contain '.', '..' or empty parts\n"
                        + "    fix: name the plugin file directly, e.g. user/check.sh",
                onlyProblem("[0 0 12 * * ?] default/../plugins-user/check.sh"));
    }

    @Test
    void defaultPrefixCannotReachOutsideItsDirectory() throws Exception {
        // 'default//etc/passwd' would otherwise resolve to the absolute path /etc/passwd.
        assertEquals(u() + ":1:16: plugin path 'default//etc/passwd' may not contain '.', '..' or empty parts\n"
                        + "    fix: name the plugin file directly, e.g. user/check.sh",
                onlyProblem("[0 0 12 * * ?] default//etc/passwd"));
    }

    @Test
    void missingPluginFile() throws Exception {
        assertEquals(u() + ":1:16: plugin not found: " + home.resolve("plugins-user/nope.sh") + "\n"
                        + "    fix: create the file, or fix the path (default/ is " + home.resolve("plugins-default")
                        + ", user/ is " + home.resolve("plugins-user") + ")",
                onlyProblem("[0 0 12 * * ?] user/nope.sh"));
    }

    @Test
    void pluginThatIsADirectory() throws Exception {
        Files.createDirectories(home.resolve("plugins-user/dir"));
        assertEquals(u() + ":1:16: plugin is not a regular file: " + home.resolve("plugins-user/dir") + "\n"
                        + "    fix: point at the plugin file itself",
                onlyProblem("[0 0 12 * * ?] user/dir"));
    }

    @Test
    void unclosedQuote() throws Exception {
        // "user/check.sh" spans columns 16-28, a blank at 29: the opening quote is at column 30.
        assertEquals(u() + ":1:30: unclosed single quote\n    fix: close the quote, or escape it",
                onlyProblem("[0 0 12 * * ?] user/check.sh 'abc"));
        // "user/check.sh a " -> the double quote at column 32.
        assertEquals(u() + ":1:32: unclosed double quote\n    fix: close the quote, or escape it",
                onlyProblem("[0 0 12 * * ?] user/check.sh a \"b \\\" c"));
    }

    @Test
    void oneLineReportsAllItsProblems() throws Exception {
        // 'timout=5s' at column 16 (after the 14-char expression and a blank); '25' at column 6;
        // " timout=5s" is 10 chars, so after a blank the plugin path starts at column 26.
        CronFile f = parseUser("[0 0 25 * * ?] timout=5s user/nope.sh");
        assertEquals(List.of(), f.jobs());
        assertEquals(List.of("1:16", "1:6", "1:26"),
                f.problems().stream().map(p -> p.line() + ":" + p.column()).toList());
        assertTrue(f.problems().get(0).message().startsWith("unknown option 'timout'"));
        assertTrue(f.problems().get(1).message().startsWith("hours field '25'"));
        assertTrue(f.problems().get(2).message().startsWith("plugin not found"));
    }

    // ---------------------------------------------------------------- a bad line disables only its job

    @Test
    void badLinesDisableOnlyTheirOwnJobs() throws Exception {
        CronFile f = parseUser(
                "[0 0 12 * * ?] default/sampler.groovy",
                "[0 0 25 * * ?] user/check.sh --bad-hour",
                "[0 0/5 * * * ?] user/check.sh five",
                "[0 0 12 * * ? user/check.sh no-bracket",
                "[0 0 0 L * ?] misfire=run_once user/check.sh month-end");
        assertEquals(List.of(1, 3, 5), f.jobs().stream().map(JobSpec::line).toList());
        assertEquals(List.of(2, 4), f.problems().stream().map(ConfigProblem::line).toList());
        // Line 2 is bad but identifiable by its plugin path and arguments; line 4 has no ']' at all.
        assertEquals(Set.of("user/check.sh\u0000--bad-hour"), f.badKeys());
        assertTrue(f.unidentifiedBad());
        assertTrue(f.readable());
    }

    @Test
    void badLineWithNameIsIdentifiedByItsName() throws Exception {
        CronFile f = parseUser("[0 0 12 * * ?] default/sampler.groovy", "[0 0 12 * * ?] name=disk timeout=abc user/check.sh /");
        assertEquals(1, f.jobs().size());
        assertEquals(Set.of("disk"), f.badKeys());
        assertFalse(f.unidentifiedBad());
    }

    @Test
    void lineWithUnclosedQuoteCannotBeIdentified() throws Exception {
        CronFile f = parseUser("[0 0 12 * * ?] user/check.sh 'x");
        assertEquals(Set.of(), f.badKeys());
        assertTrue(f.unidentifiedBad());
    }

    // ---------------------------------------------------------------- whole-file problems

    @Test
    void missingUserFileIsNoProblem() {
        CronFile f = new CronFileParser(settings, NOW).parse(JobSource.USER);
        assertEquals(List.of(), f.jobs());
        assertEquals(List.of(), f.problems());
        assertTrue(f.readable());
        assertFalse(f.unidentifiedBad());
        assertEquals(userFile, f.file());
    }

    @Test
    void missingDefaultFileIsOneProblemAtLineZero() {
        CronFile f = new CronFileParser(settings, NOW).parse(JobSource.DEFAULT);
        assertEquals(List.of(), f.jobs());
        assertEquals(1, f.problems().size());
        ConfigProblem p = f.problems().get(0);
        assertEquals(0, p.line());
        assertEquals(defaultFile + ": file not found\n"
                + "    fix: reinstall the package, or restore it from the repository's conf/", p.format());
        assertFalse(f.readable());
    }

    @Test
    void aNonUtf8ByteSkipsOnlyItsLineAndSaysWhereItIs() throws Exception {
        // Line 1 is 37 bytes and a newline; on line 2, "[0 0 13 * * ?] user/check.sh caf" is 32 bytes, so the
        // Latin-1 e-acute is byte 33 of the line, column 33, and byte offset 38 + 32 = 70 of the file.
        // Line 2 is 34 bytes with its newline, so line 3, a comment, starts at 72; its 0xFF is after "# ", at offset 74.
        byte[] text = ("[0 0 12 * * ?] default/sampler.groovy\n[0 0 13 * * ?] user/check.sh caf\u00e9\n# \u00ff\n"
                + "[0 0 14 * * ?] user/check.sh ok\n").getBytes(StandardCharsets.ISO_8859_1);
        Files.write(userFile, text);
        CronFile f = new CronFileParser(settings, NOW).parse(JobSource.USER);
        assertEquals(List.of(1, 4), f.jobs().stream().map(JobSpec::line).toList());
        assertEquals(List.of(u() + ":2:33: byte 0xE9 at byte offset 70 of the file (byte 33 of the line) is not valid UTF-8; "
                        + "this line is skipped\n    fix: save the file as UTF-8 (e.g. 'iconv -f latin1 -t utf-8 " + userFile
                        + "'), or remove the byte",
                u() + ":3:3: byte 0xFF at byte offset 74 of the file (byte 3 of the line) is not valid UTF-8; "
                        + "this line is skipped\n    fix: save the file as UTF-8 (e.g. 'iconv -f latin1 -t utf-8 " + userFile
                        + "'), or remove the byte"),
                f.problems().stream().map(ConfigProblem::format).toList());
        assertTrue(f.readable());
        assertTrue(f.unidentifiedBad(), "the skipped job line may be an edit of any job");

        Files.write(userFile, "# caf\u00e9\n[0 0 14 * * ?] user/check.sh ok\n".getBytes(StandardCharsets.ISO_8859_1));
        CronFile comment = new CronFileParser(settings, NOW).parse(JobSource.USER);
        assertEquals(1, comment.jobs().size());
        assertFalse(comment.unidentifiedBad(), "a comment line identifies no job");
    }

    @Test
    void aCronFileThatIsADirectoryIsSaidToBeOne() throws Exception {
        Files.createDirectory(userFile);
        CronFile f = new CronFileParser(settings, NOW).parse(JobSource.USER);
        assertEquals(List.of(userFile + ": this is a directory; the jobs go in a text file of this name\n"
                        + "    fix: move the directory away ('mv " + userFile + " " + userFile + ".old') and write the cron lines "
                        + "into a file aegis_quartz.conf.user"),
                f.problems().stream().map(ConfigProblem::format).toList());
        assertFalse(f.readable(), "its jobs are kept until it is a file again");
    }

    @Test
    void aHundredKilobyteLineWithoutNameGetsACutNameAndAWarning() throws Exception {
        String a = "a".repeat(100_000);
        CronFile f = parseUser("[0 0 12 * * ?] user/check.sh " + a + " 1", "[0 0 12 * * ?] user/check.sh " + a + " 2");
        assertEquals(List.of(), f.problems());
        assertEquals(2, f.jobs().size(), "both jobs run");
        JobSpec one = f.jobs().get(0);
        JobSpec two = f.jobs().get(1);
        assertEquals(CronFileParser.NAME_MAX, one.name().length(), one.name());
        assertTrue(one.name().startsWith("user/check.sh aaa") && one.name().matches(".*a\\.\\.\\.[0-9a-f]{8}"), one.name());
        assertFalse(one.name().equals(two.name()), "lines that differ past the cut keep different names");
        assertEquals(List.of(u() + ":1:16: the job's name, its plugin path and arguments, is 100016 characters; names are at most 128, "
                        + "so it is cut to '" + one.name() + "'\n    fix: name the job yourself with name=..., e.g. name=check",
                u() + ":2:16: the job's name, its plugin path and arguments, is 100016 characters; names are at most 128, "
                        + "so it is cut to '" + two.name() + "'\n    fix: name the job yourself with name=..., e.g. name=check"),
                f.warnings().stream().map(ConfigProblem::format).toList());
        assertEquals("user/check.sh\u0000" + a + "\u00001", one.key(), "the key, the job's identity, is whole");
    }

    @Test
    void cronCheckAcceptsAGoodExpression() {
        assertNull(CronCheck.check("0 0/1 * * * ?", NOW));
    }
}
