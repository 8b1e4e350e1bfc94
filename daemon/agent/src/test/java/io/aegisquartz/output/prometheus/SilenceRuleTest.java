package io.aegisquartz.output.prometheus;

import io.aegisquartz.testing.AgentProcesses;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Prometheus alerting rule for silent hosts that docs/ALERTS.md gives (docs/alerts/), checked by
 * Prometheus' own tool: {@code promtool check rules} (syntax, PromQL) and {@code promtool test rules}
 * (the alerts fire and resolve at the expected minutes on series shaped as our prometheus output writes
 * them). The series it watches is the one this output makes of the health round's heartbeat.
 */
class SilenceRuleTest {

    private static final Path ALERTS = AgentProcesses.REPO.resolve("docs/alerts");
    private static final Path PROMTOOL = Path.of("/usr/bin/promtool");

    @TempDir
    Path dir;

    @Test
    void theRuleWatchesTheSeriesTheOutputWritesForTheHeartbeat() throws Exception {
        // agent/health, metric agent.process, value uptime (unit s): docs/SAMPLES.md.
        String series = PrometheusNames.series("agent.process", "uptime", false);
        String rules = Files.readString(ALERTS.resolve("aegis-silence.rules.yml"));
        assertTrue(rules.contains(series + "{job=\"agent/health\"}"), "the rule names " + series + " of job agent/health");
        String tests = Files.readString(ALERTS.resolve("aegis-silence.test.yml"));
        assertTrue(tests.contains("'" + series + "{job=\"agent/health\", host="), "the rule's tests use the same series");
        // docs/ALERTS.md quotes the rule: each expression line as in the file that is tested.
        String doc = Files.readString(AgentProcesses.REPO.resolve("docs/ALERTS.md"));
        List<String> exprs = rules.lines().map(String::strip).filter(l -> l.contains("_over_time(")).toList();
        assertEquals(3, exprs.size(), exprs.toString());
        for (String e : exprs) {
            assertTrue(doc.contains(e), "docs/ALERTS.md quotes the rule as docs/alerts/aegis-silence.rules.yml has it: " + e);
        }
    }

    @Test
    void promtoolChecksTheRuleAndItsTestsPass() throws Exception {
        assertTrue(Files.isExecutable(PROMTOOL), PROMTOOL + " is missing: install Debian's prometheus package (.ci/run does)");
        // Copies, so that promtool's relative rule_files path resolves and nothing is written into docs/.
        Files.copy(ALERTS.resolve("aegis-silence.rules.yml"), dir.resolve("aegis-silence.rules.yml"));
        Files.copy(ALERTS.resolve("aegis-silence.test.yml"), dir.resolve("aegis-silence.test.yml"));
        String check = promtool("check", "rules", "aegis-silence.rules.yml");
        assertTrue(check.contains("SUCCESS: 2 rules found"), check);
        String test = promtool("test", "rules", "aegis-silence.test.yml");
        assertTrue(test.contains("SUCCESS"), test);
    }

    private String promtool(String... args) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of(PROMTOOL.toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "promtool did not finish in 60 s");
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + " failed:\n" + out);
        return out;
    }
}
