package io.aegisquartz.agent;

import com.fasterxml.jackson.databind.JsonNode;
import io.aegisquartz.journal.QuarantineRecords;
import io.aegisquartz.journal.RunJournal;
import io.aegisquartz.testing.AgentHome;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A suspect (a job that was running inside the agent, with others, when an agent ended: docs/JOURNAL.md)
 * runs alone, so that if it ends the agent again, the journal shows it alone; its first run that ends
 * with the agent alive clears it.
 */
class SuspectRunsTest {

    @TempDir
    Path dir;

    private Agent agent;

    @AfterEach
    void stop() {
        if (agent != null) {
            agent.stop();
        }
    }

    @Test
    void aSuspectRunsAloneUntilARunOfItCompletes() throws Exception {
        AgentHome home = new AgentHome(dir, "[plugins]\nwatch = false\n");
        // Each run says when its code started and ended.
        home.userPlugin("sus.groovy", "long t = System.currentTimeMillis()\nsleep(1200)\nemit('sus', [start: t, end: System.currentTimeMillis()])\n");
        home.userPlugin("other.groovy", "long t = System.currentTimeMillis()\nsleep(1200)\nemit('other', [start: t, end: System.currentTimeMillis()])\n");
        // In the agent's JVM: only runs there can end the agent, so only they are gated (a run in the plugin host is not).
        home.cron("aegis_quartz.conf.user", "[0/2 * * * * ?] name=sus isolation=inproc user/sus.groovy\n"
                + "[0/2 * * * * ?] name=other isolation=inproc user/other.groovy\n");
        QuarantineRecords records = new QuarantineRecords(home.settings().stateDir());
        QuarantineRecords.Record r = records.write(QuarantineRecords.Kind.SUSPECT, RunJournal.keyHash("sus"), "sus", "user/sus.groovy", null,
                System.currentTimeMillis(), "the agent ran out of memory while 2 runs inside the agent were in progress");

        agent = new Agent(home.settings());
        agent.start();
        await().atMost(Duration.ofSeconds(60)).until(() -> !Files.exists(r.file()));
        await().atMost(Duration.ofSeconds(30)).until(() -> home.samples("other", "ok").size() >= 3);

        List<long[]> sus = intervals(home.samples("sus", "ok"));
        List<long[]> other = intervals(home.samples("other", "ok"));
        long[] first = sus.get(0);
        for (long[] o : other) {
            assertTrue(o[1] <= first[0] || o[0] >= first[1], "the suspect's run [" + first[0] + ", " + first[1] + "] overlaps [" + o[0] + ", " + o[1] + "]");
        }
        // Cleared, it runs beside the other job again: both fire every 2 s and take 1.2 s.
        await().atMost(Duration.ofSeconds(30)).until(() -> overlaps(intervals(home.samples("sus", "ok")), intervals(home.samples("other", "ok"))));
        assertEquals(List.of(), records.list());
    }

    /** [start, end] of each run's code, as it reported them. */
    private static List<long[]> intervals(List<JsonNode> samples) {
        return samples.stream().map(s -> new long[] {s.get("values").get("start").asLong(), s.get("values").get("end").asLong()}).toList();
    }

    private static boolean overlaps(List<long[]> a, List<long[]> b) {
        for (long[] x : a) {
            for (long[] y : b) {
                if (x[0] < y[1] && y[0] < x[1]) {
                    return true;
                }
            }
        }
        return false;
    }
}
