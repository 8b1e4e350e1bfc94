package io.aegisquartz.agent;

import com.fasterxml.jackson.databind.JsonNode;
import io.aegisquartz.testing.AgentHome;
import io.aegisquartz.testing.StartedAgents;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The agent's own health as samples (job agent/health, metrics agent.*), through the same sink as every job's. */
class HealthSamplesTest {

    @TempDir
    Path dir;

    @RegisterExtension
    final StartedAgents agents = new StartedAgents();
    private Agent agent;

    private AgentHome start(String interval) throws Exception {
        AgentHome home = new AgentHome(dir, "[plugins]\nwatch = false\n[agent]\nhealth_interval = " + interval + "\n[limits]\nbackoff_after = 100\n");
        home.userPlugin("tick.sh", "#!/bin/sh\necho 'OK - tick'\n");
        home.userPlugin("broken.sh", "#!/bin/sh\nexit 7\n");
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] name=tick user/tick.sh\n[* * * * * ?] name=broken user/broken.sh\n");
        agent = agents.start(home.settings());
        return home;
    }

    private static JsonNode last(AgentHome home, String metric) {
        List<JsonNode> all = home.samples("agent/health", s -> s.get("metric").asText().equals(metric));
        return all.isEmpty() ? null : all.get(all.size() - 1);
    }

    @Test
    void everyIntervalTheAgentWritesItsRunsSkipsLatenessProcessOutputAndReloads() throws Exception {
        AgentHome home = start("1s");
        await().atMost(Duration.ofSeconds(30)).until(() -> {
            JsonNode runs = last(home, "agent.runs");
            return runs != null && runs.path("values").path("ok").asLong() >= 2 && runs.path("values").path("error").asLong() >= 2;
        });
        JsonNode runs = last(home, "agent.runs").path("values");
        assertEquals(runs.path("error").asLong() + runs.path("timeout").asLong() + runs.path("cpu_limit").asLong()
                + runs.path("killed").asLong(), runs.path("failed").asLong(), runs.toString());
        assertTrue(runs.path("total").asLong() >= runs.path("ok").asLong() + runs.path("failed").asLong(), runs.toString());
        assertEquals("ok", last(home, "agent.runs").path("status").asText());

        JsonNode skipped = last(home, "agent.skipped").path("values");
        assertEquals(skipped.path("overlap").asLong() + skipped.path("held").asLong() + skipped.path("missed").asLong(),
                skipped.path("total").asLong(), skipped.toString());

        await().atMost(Duration.ofSeconds(10)).until(() -> last(home, "agent.fire_lateness").path("values").path("fires").asLong() > 0);
        JsonNode late = last(home, "agent.fire_lateness");
        JsonNode lv = late.path("values");
        assertTrue(lv.path("p50").asDouble() >= 0 && lv.path("p50").asDouble() <= lv.path("p99").asDouble()
                && lv.path("p99").asDouble() <= lv.path("max").asDouble(), lv.toString());
        assertTrue(lv.path("max").asDouble() < 2_000, "fires later than Quartz's 2 s misfire threshold would not have run: " + lv);
        assertEquals("ms", late.path("units").path("p99").asText());

        JsonNode process = last(home, "agent.process").path("values");
        assertTrue(process.path("rss").asLong() > 10 << 20 && process.path("threads").asLong() > 5 && process.path("open_fds").asLong() > 3
                && process.path("cpu").asDouble() > 0 && process.path("uptime").asDouble() > 0 && process.path("jobs").asLong() == 2,
                process.toString());
        assertTrue(process.has("gc_time") && process.has("gc_count") && process.has("cpu_pct"), process.toString());

        JsonNode output = last(home, "agent.output");
        assertEquals("file", output.path("tags").path("output").asText());
        assertTrue(output.path("values").path("sent").asLong() > 0 && output.path("values").path("failed").asLong() == 0, output.toString());
        assertEquals(0, last(home, "agent.reloads").path("values").path("reloads").asLong());
        agent.reload("SIGHUP");
        await().atMost(Duration.ofSeconds(10)).until(() -> last(home, "agent.reloads").path("values").path("reloads").asLong() == 1);

        JsonNode one = last(home, "agent.process");
        assertEquals("agent", one.path("plugin").asText());
        assertTrue(one.path("cpu_ms").asDouble() >= 0 && one.path("cpu_ms").asDouble() < 1_000, "its own cost is on record: " + one);
    }

    @Test
    void healthIntervalZeroWritesNone() throws Exception {
        AgentHome home = start("0");
        await().atMost(Duration.ofSeconds(30)).until(() -> home.samples("tick", "ok").size() >= 3);
        assertEquals(List.of(), home.samples("agent/health", s -> true));
    }
}
