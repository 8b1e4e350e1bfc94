package io.aegisquartz.config;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** notify=, after= and repeat= on cron lines and the [alert] defaults they override, from real files. */
class AlertRuleParsingTest {

    private static final Date NOW = Date.from(Instant.parse("2026-01-01T00:00:00Z"));

    @TempDir
    Path home;

    private Path conf;

    @BeforeEach
    void layout() throws IOException {
        conf = Files.createDirectories(home.resolve("conf"));
        Files.createDirectories(home.resolve("plugins-default"));
        Path check = Files.writeString(Files.createDirectories(home.resolve("plugins-user")).resolve("check.sh"), "#!/bin/sh\necho ok\n");
        Files.setPosixFilePermissions(check, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    private CronFile parse(String ini, String... lines) throws IOException {
        Files.writeString(conf.resolve("aegis_config.ini"), ini);
        Files.writeString(conf.resolve("aegis_quartz.conf.user"), String.join("\n", lines) + "\n", StandardCharsets.UTF_8);
        AgentSettings settings = AgentSettings.load(home, conf);
        assertEquals(List.of(), settings.problems());
        return new CronFileParser(settings, NOW).parse(JobSource.USER);
    }

    @Test
    void aLineSaysWhomToNotifyAfterHowManyFailuresAndHowOftenAgain() throws IOException {
        CronFile f = parse("", "[0 * * * * ?] name=web notify=ops,oncall after=3 repeat=1h user/check.sh",
                "[0 * * * * ?] name=quiet user/check.sh");
        assertEquals(List.of(), f.problems());
        assertEquals(new AlertRule(List.of("ops", "oncall"), 3, Duration.ofHours(1)), f.jobs().get(0).alert());
        assertEquals(AlertRule.NONE, f.jobs().get(1).alert(), "no notify= and no [alert] notify: nobody");
        assertEquals(List.of(), f.jobs().get(0).args(), "the options are not the plugin's arguments");
    }

    @Test
    void alertDefaultsApplyToEveryJobAndALineOverridesThem() throws IOException {
        CronFile f = parse("[alert]\nnotify = ops\nafter = 2\nrepeat = 30m\n",
                "[0 * * * * ?] name=a user/check.sh",
                "[0 * * * * ?] name=b after=5 user/check.sh",
                "[0 * * * * ?] name=c notify= user/check.sh");
        assertEquals(new AlertRule(List.of("ops"), 2, Duration.ofMinutes(30)), f.jobs().get(0).alert());
        assertEquals(new AlertRule(List.of("ops"), 5, Duration.ofMinutes(30)), f.jobs().get(1).alert());
        assertTrue(!f.jobs().get(2).alert().notifies(), "notify= alone turns the default off");
    }

    @Test
    void badValuesAreErrorsWithFileLineAndColumn() throws IOException {
        CronFile f = parse("", "[0 * * * * ?] notify=ops,b@d after=0 repeat=soon user/check.sh");
        List<String> problems = f.problems().stream().map(ConfigProblem::oneLine).toList();
        assertEquals(3, problems.size(), problems.toString());
        assertTrue(problems.get(0).contains("aegis_quartz.conf.user:1:22") && problems.get(0).contains("'b@d' is not a channel name"),
                problems.get(0));
        assertTrue(problems.get(1).contains(":1:") && problems.get(1).contains("option after"), problems.get(1));
        assertTrue(problems.get(2).contains(":1:") && problems.get(2).contains("option repeat"), problems.get(2));
        assertEquals(List.of(), f.jobs(), "a line with a problem is not scheduled");
    }

    @Test
    void aChangedNotifyIsNotAChangedJob() throws IOException {
        JobSpec before = parse("", "[0 * * * * ?] name=web notify=ops user/check.sh").jobs().get(0);
        JobSpec after = parse("", "[0 * * * * ?] name=web notify=oncall after=2 user/check.sh").jobs().get(0);
        assertTrue(before.sameDefinition(after), "the job keeps running on its schedule; only its rule changes");
    }
}
