package io.aegisquartz.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.aegisquartz.receive.Receiver;
import io.aegisquartz.testing.AgentHome;
import io.aegisquartz.output.aegis.Credentials;
import io.aegisquartz.testing.AgentProcesses;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * kill -9 of the real agent process while it runs jobs and uploads, 30 times over: every run that
 * completed before the kill is delivered, each sample stored once. Only the run in progress at the
 * moment of a kill may be missing: it had not been collected yet.
 */
class AgentCrashIT {

    static final int CYCLES = 30;

    @TempDir
    Path dir;

    @org.junit.jupiter.api.extension.RegisterExtension
    final io.aegisquartz.testing.StartedProcesses started = new io.aegisquartz.testing.StartedProcesses();


    @Test
    void killNineOfTheAgentLosesNoCollectedRun() throws Exception {
        String secret = "agent-crash-secret";
        Path out = dir.resolve("received.jsonl");
        try (Receiver receiver = Receiver.start(new Receiver.Config().listen(new InetSocketAddress("127.0.0.1", 0)).out(out)
                .stateDir(dir.resolve("receiver")).credentials(List.of(Credentials.of("AKID-crash", secret, null))))) {
            AgentHome home = new AgentHome(dir.resolve("home"), "[plugins]\nwatch = false\n[upload]\nendpoint = https://127.0.0.1:"
                    + receiver.address().getPort() + Receiver.PATH + "\nca_file = " + receiver.certificatePem() + "\nbackoff_max = 1s\nlinger = 1s\n");
            home.credentials("AKID-crash", secret, "rw-------");
            Path runs = dir.resolve("runs.log");
            // Each run numbers itself, records the number, then prints 20 samples tagged with it.
            home.userPlugin("count.sh", """
                    #!/bin/sh
                    f="$1"
                    n=$(( $(cat "$f.n" 2>/dev/null || echo 0) + 1 ))
                    echo "$n" > "$f.n"
                    echo "$n" >> "$f"
                    i=0
                    while [ $i -lt 20 ]; do
                      echo "{\\"metric\\":\\"count\\",\\"values\\":{\\"i\\":$i},\\"tags\\":{\\"run\\":\\"$n\\"}}"
                      i=$((i+1))
                    done
                    """);
            home.cron("aegis_quartz.conf.user", "[* * * * * ?] name=count user/count.sh " + runs + "\n");

            List<Integer> lastRunOfCycle = new ArrayList<>();
            for (int cycle = 0; cycle < CYCLES; cycle++) {
                int before = runCount(runs);
                Process agent = agent(home, dir.resolve("agent-" + cycle + ".out"));
                // Let it collect at least two runs, then kill it without warning.
                await().atMost(Duration.ofSeconds(30)).until(() -> runCount(runs) >= before + 2);
                // A plugin run in progress outlives the JVM for a moment (its own session): let it
                // finish recording its number, so the run in flight at the kill is the last one counted.
                List<ProcessHandle> plugins = agent.descendants().toList();
                agent.destroyForcibly();
                assertTrue(agent.waitFor(10, TimeUnit.SECONDS));
                await().atMost(Duration.ofSeconds(10)).until(() -> plugins.stream().noneMatch(ProcessHandle::isAlive));
                lastRunOfCycle.add(runCount(runs));
            }
            // A last, clean run drains what is left.
            Process agent = agent(home, dir.resolve("agent-final.out"));
            int lastRun = runCount(runs);
            await().atMost(Duration.ofSeconds(60)).until(() -> received(out).runs.containsAll(completeRuns(lastRun, lastRunOfCycle)));
            agent.destroy();
            assertTrue(agent.waitFor(30, TimeUnit.SECONDS));

            Received r = received(out);
            assertEquals(r.ids.size(), r.lines, "each sample stored once");
            Set<Integer> missing = new HashSet<>(completeRuns(lastRun, lastRunOfCycle));
            missing.removeAll(r.runs);
            assertEquals(Set.of(), missing, "every run that finished before a kill was delivered");
            assertTrue(receiver.stats().duplicateSamples() <= 100L * (CYCLES + 1), "duplicates within the in-flight window");
        }
    }

    /** Runs 1..last, except the one in progress at each kill (it may not have been collected). */
    private static List<Integer> completeRuns(int last, List<Integer> killedDuring) {
        List<Integer> out = new ArrayList<>();
        for (int n = 1; n <= last; n++) {
            if (!killedDuring.contains(n)) {
                out.add(n);
            }
        }
        return out;
    }

    private Process agent(AgentHome home, Path log) throws Exception {
        return AgentProcesses.start(started, log, "--home", home.home().toString(), "run");
    }

    private static int runCount(Path runs) {
        return (int) AgentHome.wholeLines(runs).stream().filter(l -> !l.isBlank()).count();
    }

    private record Received(Set<String> ids, Set<Integer> runs, int lines) {
    }

    private static Received received(Path out) throws Exception {
        ObjectMapper json = new ObjectMapper();
        Set<String> ids = new HashSet<>();
        Set<Integer> runs = new HashSet<>();
        int lines = 0;
        for (String line : AgentHome.wholeLines(out)) {
            JsonNode n = json.readTree(line);
            lines++;
            ids.add(n.get("id").asText());
            // The plugin's own samples carry their run; the agent's (a skipped fire after a restart, say)
            // share the metric name but not the tag.
            if (n.get("metric").asText().equals("count") && n.path("tags").has("run")) {
                runs.add(n.get("tags").get("run").asInt());
            }
        }
        return new Received(ids, runs, lines);
    }
}
