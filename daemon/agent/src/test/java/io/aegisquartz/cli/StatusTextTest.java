package io.aegisquartz.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The status text from an answer in docs/CONTROL.md's format with everything long and hostile in it:
 * still 80 columns, plugin text escaped, colour only when asked.
 */
class StatusTextTest {

    private static final String LONG = "/very/long/path/" + "x".repeat(120) + "/aegis_quartz.conf.user";

    private static JsonNode answer() throws Exception {
        String message = "CRITICAL - \u001b[2Jscreen cleared\nforged line " + "y".repeat(300);
        String run = "{\"start_ms\":1796456628578,\"status\":\"critical\",\"duration_ms\":41.27,\"cpu_ms\":3.0,\"message\":"
                + new ObjectMapper().writeValueAsString(message) + ",\"manual\":false}";
        String job = "{\"name\":\"user/check_with_a_very_long_name_and_many_arguments.sh --host db1.example.com --port 5432 --password ***\","
                + "\"cron\":\"0/10 * * * * ?\",\"source\":\"user\",\"file\":\"" + LONG + "\",\"line\":3,\"plugin\":\"user/x.sh\","
                + "\"state\":\"critical\",\"running_since_ms\":null,\"next_fire_ms\":1796456638578,\"consecutive_failures\":0,"
                + "\"runs_total\":12,\"skipped_total\":0,\"last_run\":" + run + ",\"last_skip\":null,"
                + "\"held\":[{\"kind\":\"shed\",\"reason\":\"its runs used 41.2% of a core\",\"since_ms\":1796456628578,"
                + "\"until_ms\":1796457228578,\"message\":\"shed by the governor until 14:05:00: its runs used 41.2% of a core while the "
                + "agent was over its CPU budget of 10.0%\"},{\"kind\":\"quarantined\",\"reason\":\"this run called System.exit\","
                + "\"since_ms\":1796456628578,\"until_ms\":null,\"released_by\":\"its plugin file changes or 'aegis-quartz unquarantine' "
                + "releases it\",\"message\":\"quarantined: this run called System.exit\"}],\"problems\":[\"job x: shed\"],\"plugin_path\":\"" + LONG + "\","
                + "\"args\":[\"--password\",\"***\"],\"options\":{\"timeout_ms\":30000,\"cpu_ms\":10000,\"kill_grace_ms\":2000,"
                + "\"output_max\":1048576,\"max_samples\":10000,\"overlap\":\"skip\",\"misfire\":\"skip\",\"sampler\":null,\"user\":null,"
                + "\"memory_max\":134217728,\"pids_max\":64},\"runs\":[" + run + "," + run + "]}";
        String json = "{\"type\":\"status\",\"v\":1,\"version\":\"0.1.0\",\"pid\":42,\"now_ms\":1796456630000,\"started_ms\":1796450000000,"
                + "\"state\":\"running\",\"home\":\"/h\",\"config_files\":[\"" + LONG + "\"],\"last_reload\":{\"time_ms\":1796450000000,"
                + "\"why\":\"start-up\",\"ok\":false,\"added\":1,\"changed\":0,\"removed\":0,\"problem_count\":1,\"problems\":[\"" + LONG
                + ":3:2: a Quartz cron expression has 6 or 7 fields, this one has 5\"],\"settings_pending\":null},\"reloads\":0,"
                + "\"failed_reloads\":0,\"governor\":{\"cpu_pct\":12.5,\"cpu_budget_pct\":10,\"rss_bytes\":96000000,"
                + "\"memory_budget_bytes\":209715200,\"time_ms\":1796456600000,\"window_ms\":60000,\"over\":true},"
                + "\"outputs\":[{\"name\":\"upload\",\"type\":\"aegis\",\"pending\":12,\"pending_bytes\":4096,"
                + "\"oldest_pending_ms\":1796456500000,\"last_success_ms\":null,\"failing_since_ms\":1796456500000,"
                + "\"last_error\":\"receiver answered 500: \\u001b]0;pwned\\u0007\",\"sent\":0,\"failed\":7,\"dropped\":3,\"dead_lettered\":0}],"
                + "\"spool\":{\"dir\":\"" + LONG + "\",\"bytes\":8388608,\"max_bytes\":1073741824,\"lost\":0},"
                + "\"problems\":[\"output upload failing: receiver answered 500\"],\"jobs\":[" + job + "],\"job\":" + job + "}";
        return new ObjectMapper().readTree(json);
    }

    @Test
    void eightyColumnsAndNoRawControlCharacterWhateverTheAnswerHolds() throws Exception {
        for (String text : new String[] {new StatusText(false).status(answer()), new StatusText(false).job(answer())}) {
            for (String line : text.split("\n")) {
                assertTrue(line.length() <= StatusText.WIDTH, "over 80 columns: " + line.length() + ": " + line);
            }
            assertFalse(text.chars().anyMatch(c -> c < 0x20 && c != '\n'), "a raw control character in:\n" + text);
        }
        String status = new StatusText(false).status(answer());
        assertTrue(status.contains("\\x1B[2Jscreen cleared\\nforged line"), status);
        assertTrue(status.contains("\\x1B]0;pwned\\x07"), "the receiver's text is escaped too: " + status);
        assertTrue(status.replaceAll("\n +", " ").contains("held: shed by the governor until 14:05:00: its runs used 41.2% of a core while "
                + "the agent was over its CPU budget of 10.0%"), status);
        assertTrue(status.replaceAll("\n +", " ").contains("held: quarantined: this run called System.exit (held until its plugin file "
                + "changes or 'aegis-quartz unquarantine' releases it)"), "a hold with no end says what releases it: " + status);
        assertTrue(status.replaceAll("\n +", "").contains(LONG + ":3:2: a Quartz"), "config problems and paths whole: " + status);
        assertTrue(status.replaceAll("\\s+", " ").contains("0 sent, 7 failed, 3 dropped by the spool"), status);
        assertTrue(status.replaceAll("\\s+", " ").contains("8.0 MiB of 1024.0 MiB; 0 sample(s) it could not store since start"), status);
        String job = new StatusText(false).job(answer());
        assertTrue(job.replaceAll("\\s+", " ").contains("memory_max 128MiB, pids_max 64"), job);
        assertTrue(job.contains("Last 2 run(s), newest first:"), job);
    }

    @Test
    void colourOnlyWhenAsked() throws Exception {
        assertFalse(new StatusText(false).status(answer()).contains("\u001b["));
        String coloured = new StatusText(true).status(answer());
        assertTrue(coloured.contains("\u001b[31mcritical"), coloured);
        assertTrue(coloured.contains("\u001b[33m1 problem(s)\u001b[0m"), coloured);
    }
}
