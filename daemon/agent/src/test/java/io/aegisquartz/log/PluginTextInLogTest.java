package io.aegisquartz.log;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.PatternLayout;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.aegisquartz.config.CronFile;
import io.aegisquartz.config.CronFileParser;
import io.aegisquartz.config.JobSource;
import io.aegisquartz.config.JobSpec;
import io.aegisquartz.plugin.JobMemory;
import io.aegisquartz.plugin.MeasurementCollector;
import io.aegisquartz.plugin.RunResult;
import io.aegisquartz.plugin.exec.ExecPlugin;
import io.aegisquartz.plugin.groovy.GroovyPlugin;
import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Status;
import io.aegisquartz.testing.AgentHome;
import io.aegisquartz.testing.PluginRunners;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Date;
import java.util.List;

import static io.aegisquartz.testing.TestJobs.job;
import static io.aegisquartz.testing.TestJobs.limits;
import static io.aegisquartz.testing.TestJobs.script;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Text a plugin controls reaches the log as one escaped line, and the agent's own messages stay short. */
class PluginTextInLogTest extends PluginRunners {

    @TempDir
    Path dir;

    /** The lines {@code events} make in the agent's log, laid out with the log's own pattern. */
    private static List<String> logLines(List<ILoggingEvent> events) {
        PatternLayout layout = new PatternLayout();
        layout.setContext((LoggerContext) LoggerFactory.getILoggerFactory());
        layout.setPattern(LogSetup.PATTERN);
        layout.start();
        StringBuilder sb = new StringBuilder();
        events.forEach(e -> sb.append(layout.doLayout(e)));
        return List.of(sb.toString().split("\n"));
    }

    /** Runs the Groovy plugin {@code file} once, successfully, and returns what it logged (at info and above). */
    private List<ILoggingEvent> runLogging(Path file) throws Exception {
        ListAppender<ILoggingEvent> logged = new ListAppender<>();
        logged.start();
        Logger plugin = (Logger) LoggerFactory.getLogger("plugin");
        ch.qos.logback.classic.Level level = plugin.getLevel();
        plugin.setLevel(ch.qos.logback.classic.Level.INFO);
        plugin.addAppender(logged);
        try {
            RunResult r = GroovyPlugin.compile(file, inJvm, processes).run(job(file, limits(Duration.ofSeconds(20), Duration.ofSeconds(10))),
                    new JobMemory());
            assertEquals(Status.OK, r.outcome(), r.measurements().toString());
        } finally {
            plugin.detachAppender(logged);
            plugin.setLevel(level);
        }
        return List.copyOf(logged.list);
    }

    @Test
    void aNewlineInLogCannotForgeALogLineNorEscapeSequencesReachTheTerminal() throws Exception {
        Path file = dir.resolve("forge.groovy");
        Files.writeString(file, """
                log('checked 3 disks\\n2030-01-01 00:00:00.000 ERROR agent   restarting: forged by a plugin')
                warn('\\u001b]0;owned\\u0007\\u001b[2J\\u001b[31mred\\r')
                println('tab\\there')
                """);
        List<ILoggingEvent> logged = runLogging(file);

        List<String> lines = logLines(logged);
        assertEquals(3, lines.size(), "one line per log() call: " + lines);
        assertTrue(lines.get(0).endsWith("job forge.groovy: checked 3 disks\\n2030-01-01 00:00:00.000 ERROR agent   restarting: forged by a plugin"),
                lines.get(0));
        assertTrue(lines.get(1).endsWith("job forge.groovy: \\x1B]0;owned\\x07\\x1B[2J\\x1B[31mred\\r"), lines.get(1));
        assertTrue(lines.get(2).endsWith("tab\\there"), lines.get(2));
        for (String l : lines) {
            assertFalse(l.chars().anyMatch(c -> c < 0x20 || c == 0x7f), "no control character in " + l);
        }
    }

    @Test
    void aPluginLogLineIsCutAtTheDocumentedLength() throws Exception {
        Path file = dir.resolve("longline.groovy");
        Files.writeString(file, "log('y'.repeat(100000))\n");
        List<ILoggingEvent> logged = runLogging(file);
        assertEquals("job longline.groovy: " + "y".repeat(LogText.MAX) + "... (100000 chars)", logged.get(0).getFormattedMessage());
    }

    @Test
    void anExceptionTextIsOneLineInTheSampleAndTheLog() throws Exception {
        Path file = dir.resolve("throws.groovy");
        Files.writeString(file, "throw new IllegalStateException('bad\\u001b[2J state')\n");
        RunResult r = GroovyPlugin.compile(file, inJvm, processes).run(job(file, limits(Duration.ofSeconds(20), Duration.ofSeconds(10))),
                new JobMemory());
        assertEquals(Status.ERROR, r.outcome());
        String message = r.measurements().get(r.measurements().size() - 1).message();
        assertTrue(message.startsWith("IllegalStateException: bad\\x1B[2J state"), message);
        assertEquals(message, r.reason(), "the reason the failure log prints is the escaped one");
    }

    @Test
    void aMegabyteBadPerfdataItemYieldsAMessageWithinTheCap() throws Exception {
        // One perfdata item of 1 MB with no '=': the error sample quotes only its start.
        Path plugin = script(dir, "huge.sh", """
                #!/bin/sh
                printf 'DISK OK | '
                head -c 1048576 /dev/zero | tr '\\0' 'A'
                printf ' load=1.5;5;10\\n'
                """);
        JobSpec job = job(plugin, limits(Duration.ofSeconds(20), Duration.ofSeconds(10)).withOutputMax(4 << 20));
        RunResult r = new ExecPlugin(plugin, processes).run(job, new JobMemory());

        assertEquals(Status.OK, r.outcome(), "garbage perfdata does not fail the run");
        Measurement ok = r.measurements().get(0);
        assertEquals(1.5, ok.values().get("load"), "the good item is kept");
        Measurement error = r.measurements().get(1);
        assertEquals(Status.ERROR, error.status());
        assertTrue(error.message().length() <= MeasurementCollector.MAX_MESSAGE, "message of " + error.message().length() + " characters");
        assertTrue(error.message().startsWith("1 invalid sample(s) dropped; first: perfdata item '" + "A".repeat(LogText.QUOTE)
                + "... (1048576 chars)' has no '='"), error.message());
    }

    @Test
    void aJobNameFromACronLineIsEscapedAndCut() throws Exception {
        AgentHome home = new AgentHome(dir.resolve("home"), "");
        home.userPlugin("x.sh", "#!/bin/sh\necho OK\n");
        home.cron("aegis_quartz.conf.user", "[0 * * * * ?] user/x.sh a\u001b[2Jb " + "z".repeat(400) + "\n");
        CronFile f = new CronFileParser(home.settings(), new Date()).parse(JobSource.USER);
        JobSpec j = f.jobs().get(0);
        assertTrue(j.name().startsWith("user/x.sh a\\x1B[2Jb zzz"), j.name());
        assertEquals(CronFileParser.NAME_MAX, j.name().length(), j.name());
        assertTrue(j.name().matches(".*z\\.\\.\\.[0-9a-f]{8}"), "cut with a hash of the whole: " + j.name());
        assertEquals(List.of("a\u001b[2Jb", "z".repeat(400)), j.args(), "the plugin still gets its arguments as written");
    }
}
