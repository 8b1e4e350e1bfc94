package io.aegisquartz.agent;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import io.aegisquartz.log.LogText;
import io.aegisquartz.testing.AgentHome;
import io.aegisquartz.testing.CapturedLog;
import io.aegisquartz.testing.StartedAgents;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Check results in the log, as Nagios logs SERVICE ALERTs: a line per state change of a job, not per
 * run, with the plugin's message escaped; failures in the same lines, not in a second style.
 */
class StateChangeLogTest {

    @TempDir
    Path dir;

    @RegisterExtension
    final StartedAgents agents = new StartedAgents();
    private CapturedLog logged;

    @BeforeEach
    void captureLog() {
        logged = new CapturedLog();
        // As the agent's log has it ([log] level = info); before LogSetup, only warnings pass.
        ((Logger) LoggerFactory.getLogger("job")).setLevel(ch.qos.logback.classic.Level.INFO);
    }

    @AfterEach
    void stopCapture() {
        logged.close();
        ((Logger) LoggerFactory.getLogger("job")).setLevel(null);
    }

    /**
     * State-change and failure lines of {@code job} ("job NAME: OLD -> NEW ..." or "job NAME: still ..."),
     * level first; the job's other lines (a skipped fire) are not about its results.
     */
    private List<String> jobLines(String job) {
        List<String> out = new ArrayList<>();
        java.util.regex.Pattern result = java.util.regex.Pattern.compile("job " + java.util.regex.Pattern.quote(job) + ": ([a-z_]+ -> |still ).*");
        for (ILoggingEvent e : logged.events()) {
            if (e.getLoggerName().equals("job") && result.matcher(e.getFormattedMessage()).matches()) {
                out.add(e.getLevel() + " " + e.getFormattedMessage());
            }
        }
        return out;
    }

    /**
     * A job that fires every second and runs, run after run, the shell code given (the last one
     * repeated), counting its runs in a file.
     */
    private AgentHome sequence(String extraIni, String job, String... runs) throws Exception {
        AgentHome home = new AgentHome(dir, "[plugins]\nwatch = false\n[agent]\nhealth_interval = 0\n" + extraIni);
        StringBuilder cases = new StringBuilder();
        for (int i = 0; i < runs.length; i++) {
            cases.append(i == runs.length - 1 ? "*" : Integer.toString(i)).append(") ").append(runs[i]).append(" ;;\n");
        }
        home.userPlugin(job + ".sh", "#!/bin/sh\nf=" + dir.resolve(job + ".count") + "\nn=$(cat $f 2>/dev/null || echo 0)\necho $((n + 1)) > $f\n"
                + "case $n in\n" + cases + "esac\n");
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] name=" + job + " timeout=1s kill_grace=200ms user/" + job + ".sh\n");
        agents.start(home.settings());
        return home;
    }

    @Test
    void okWarningWarningCriticalOkLogsExactlyThreeLines() throws Exception {
        AgentHome home = sequence("", "disk", "echo 'OK - disk 50% full'", "echo 'WARNING - disk 91% full'; exit 1",
                "echo 'WARNING - disk 92% full'; exit 1", "echo 'CRITICAL - disk 99% full'; exit 2", "echo 'OK - disk 40% full'");
        await().atMost(Duration.ofSeconds(30)).until(() -> home.samples("disk", s -> true).size() >= 7);

        List<String> lines = jobLines("disk");
        assertEquals(3, lines.size(), lines.toString());
        assertTrue(lines.get(0).matches("WARN job disk: ok -> warning: WARNING - disk 91% full \\(ok for [0-9]+s, 1 run\\)"), lines.get(0));
        assertTrue(lines.get(1).matches("WARN job disk: warning -> critical: CRITICAL - disk 99% full \\(warning for [0-9]+s, 2 runs\\)"), lines.get(1));
        assertTrue(lines.get(2).matches("INFO job disk: critical -> ok: OK - disk 40% full \\(critical for [0-9]+s, 1 run\\)"), lines.get(2));
    }

    @Test
    void failuresAreStateChangesInTheSameLinesWithTheirReasonAndNoSecondStyle() throws Exception {
        AgentHome home = sequence("[limits]\nbackoff_after = 100\n", "flaky", "echo 'OK - fine'", "sleep 5", "sleep 5",
                "echo 'it broke' >&2; exit 9", "echo 'OK - fine again'");
        await().atMost(Duration.ofSeconds(40)).until(() -> home.samples("flaky", "ok").size() >= 3);

        List<String> lines = jobLines("flaky");
        assertEquals(3, lines.size(), lines.toString());
        assertTrue(lines.get(0).startsWith("WARN job flaky: ok -> timeout: "), lines.get(0));
        assertTrue(lines.get(1).matches("WARN job flaky: timeout -> error: .*it broke.* \\(timeout for [0-9]+s, 2 runs\\)"), lines.get(1));
        assertTrue(lines.get(2).startsWith("INFO job flaky: error -> ok: OK - fine again (error for "), lines.get(2));
        List<String> all = new ArrayList<>();
        logged.events().forEach(e -> all.add(e.getFormattedMessage()));
        assertTrue(all.stream().noneMatch(l -> l.contains("flaky failed") || l.contains("flaky recovered")), "no second style: " + all);
    }

    @Test
    void aBackoffIsOneLineAndFurtherFailuresOfTheSameKindAreQuiet() throws Exception {
        AgentHome home = sequence("[limits]\nbackoff_after = 2\n[log]\nfailure_summary = 1h\n", "down", "echo 'db down' >&2; exit 7");
        await().atMost(Duration.ofSeconds(40)).until(() -> home.samples("down", "error").size() >= 3);

        List<String> lines = jobLines("down");
        assertEquals(2, lines.size(), lines.toString());
        assertTrue(lines.get(0).startsWith("WARN job down: pending -> error: exit code 7"), lines.get(0));
        assertTrue(lines.get(1).matches("WARN job down: still error, 2 runs since \\d\\d:\\d\\d:\\d\\d: exit code 7.*db down; "
                + "backing off: next run not before \\d\\d:\\d\\d:\\d\\d \\(pause 2s, doubling with each further failure\\)"), lines.get(1));
    }

    @Test
    void theFirstRunLogsOnlyIfNotOkAndPluginTextIsEscapedAndCut() throws Exception {
        AgentHome home = new AgentHome(dir, "[plugins]\nwatch = false\n[agent]\nhealth_interval = 0\n");
        // JSON escapes reach the message as real control characters: a newline and a terminal "clear screen".
        home.userPlugin("loud.sh", "#!/bin/sh\nprintf '{\"metric\": \"m\", \"status\": \"critical\", \"message\": \"CRITICAL - bad"
                + "\\\\n2026-01-01 00:00:00.000 INFO  agent   all is well\\\\u001b[2J" + "x".repeat(2000) + "\"}\\n'\n");
        home.userPlugin("quiet.sh", "#!/bin/sh\necho 'OK - fine'\n");
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] name=loud user/loud.sh\n[* * * * * ?] name=quiet user/quiet.sh\n");
        agents.start(home.settings());
        await().atMost(Duration.ofSeconds(30)).until(() -> home.samples("loud", "critical").size() >= 2
                && home.samples("quiet", "ok").size() >= 2);

        assertEquals(List.of(), jobLines("quiet"), "a first run that is ok is not logged");
        List<String> lines = jobLines("loud");
        assertEquals(1, lines.size(), lines.toString());
        String line = lines.get(0);
        assertTrue(line.startsWith("WARN job loud: pending -> critical: CRITICAL - bad\\n2026-01-01"), line);
        assertTrue(!line.contains("\n") && !line.contains("\u001b"), "one line, no raw escape: " + line);
        assertTrue(line.contains("\\x1B[2J"), line);
        // Escaped and cut by the log's one helper (LogText): at 1,024 characters, with the original length.
        assertTrue(line.matches(".*x\\.\\.\\. \\([0-9]+ chars\\)$"), "cut, saying how much: " + line);
        assertTrue(line.length() < "WARN job loud: pending -> critical: ".length() + LogText.MAX + 32, "cut at LogText.MAX: " + line.length());
    }
}
