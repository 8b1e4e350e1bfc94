package io.aegisquartz.journal;

import io.aegisquartz.plugin.PluginKind;
import io.aegisquartz.sample.Status;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Who is blamed for the end of an agent, by the rules of docs/JOURNAL.md. */
class CrashReviewTest {

    @TempDir
    Path dir;

    private static final long T = 1_796_000_000_000L;

    private static RunJournal.Run run(int slot, PluginKind kind, String job) {
        return new RunJournal.Run(slot, slot + 1, kind, job, "user/" + job + (kind == PluginKind.EXEC ? ".sh" : ".groovy"),
                RunJournal.keyHash(job), T + slot, null);
    }

    private static RunJournal.Previous died(RunJournal.End end, int culprit, String note, RunJournal.Run... runs) {
        return new RunJournal.Previous(end, 4242, T - 1000, T + 10, culprit, note, List.of(runs), 0);
    }

    private CrashReview.Result review(RunJournal.Previous p, String exit) throws Exception {
        return CrashReview.review(p, PreviousExit.parse(exit), new QuarantineRecords(dir), T + 5000);
    }

    @Test
    void aKillFromOutsideBlamesNobody() throws Exception {
        for (String exit : new String[] {"signal:KILL", "signal:TERM", null}) {
            CrashReview.Result r = review(died(RunJournal.End.DIED, -1, "", run(0, PluginKind.GROOVY, "a"), run(1, PluginKind.EXEC, "b")), exit);
            assertEquals(2, r.reports().size());
            r.reports().forEach(x -> assertEquals(Status.KILLED, x.status(), x.message()));
            assertEquals(List.of(), new QuarantineRecords(dir).list(), exit);
        }
        CrashReview.Result none = review(died(RunJournal.End.DIED, -1, "", run(0, PluginKind.GROOVY, "a")), null);
        assertEquals("the agent stopped during this run (job a, started 2026-11-30T00:53:20Z)", none.reports().get(0).message());
        assertEquals("the previous agent (pid 4242): the agent stopped; 1 run(s) were in progress: a (since 2026-11-30T00:53:20Z)", none.summary());
    }

    @Test
    void theOnlyRunInsideTheAgentIsBlamedForAnExitItDidNotAskFor() throws Exception {
        for (String exit : new String[] {"exit:3", "oom:3", "watchdog:60", "signal:SEGV"}) {
            java.nio.file.Files.walk(dir).sorted(java.util.Comparator.reverseOrder()).filter(f -> !f.equals(dir)).forEach(f -> f.toFile().delete());
            CrashReview.Result r = review(died(RunJournal.End.DIED, -1, "", run(0, PluginKind.EXEC, "sh"), run(1, PluginKind.JAR, "j")), exit);
            CrashReview.Report j = r.reports().get(1);
            assertEquals(Status.ERROR, j.status(), exit);
            assertTrue(j.quarantined());
            assertTrue(j.message().contains("during this run, the only run inside the agent then, so it is held responsible (job j, "), j.message());
            assertEquals(Status.KILLED, r.reports().get(0).status());
            assertTrue(r.reports().get(0).message().endsWith("; job j ended it; what the plugin printed after that was lost"),
                    r.reports().get(0).message());
            QuarantineRecords.Record q = new QuarantineRecords(dir).find(RunJournal.keyHash("j"), QuarantineRecords.Kind.QUARANTINED);
            assertNotNull(q, exit);
            assertEquals("j", q.job());
            assertEquals("user/j.groovy", q.plugin());
        }
    }

    @Test
    void theCodeThatCalledExitIsBlamedEvenAmongOthers() throws Exception {
        CrashReview.Result r = review(died(RunJournal.End.EXITED, 1, "thread 'plugin b' in b.groovy", run(0, PluginKind.GROOVY, "a"),
                run(1, PluginKind.GROOVY, "b"), run(2, PluginKind.JAR, "c")), "exit:0");
        assertEquals(List.of(Status.KILLED, Status.ERROR, Status.KILLED), r.reports().stream().map(CrashReview.Report::status).toList());
        assertEquals("this run called System.exit and ended the agent (exit code 0): thread 'plugin b' in b.groovy (job b, started "
                + "2026-11-30T00:53:20.001Z); the job is quarantined until its plugin file changes or 'aegis-quartz unquarantine b'",
                r.reports().get(1).message());
        assertEquals(1, new QuarantineRecords(dir).list().size());
    }

    @Test
    void anExitOfTheAgentsOwnBlamesNobody() throws Exception {
        CrashReview.Result r = review(died(RunJournal.End.EXITED, RunJournal.AGENT_ITSELF, "thread 'main'", run(0, PluginKind.GROOVY, "a")),
                "exit:1");
        assertEquals(Status.KILLED, r.reports().get(0).status());
        assertTrue(r.reports().get(0).message().startsWith("the agent exited by itself (from its main thread, without a stop request) with code 1 "
                + "during this run"), r.reports().get(0).message());
        assertEquals(List.of(), new QuarantineRecords(dir).list());
    }

    @Test
    void severalRunsInsideTheAgentMakeSuspectsNotQuarantines() throws Exception {
        CrashReview.Result r = review(died(RunJournal.End.DIED, -1, "", run(0, PluginKind.GROOVY, "a"), run(1, PluginKind.GROOVY, "b"),
                run(2, PluginKind.EXEC, "c")), "oom:3");
        assertTrue(r.reports().get(0).suspect() && r.reports().get(1).suspect());
        assertTrue(!r.reports().get(2).suspect() && !r.reports().get(2).quarantined());
        assertTrue(r.reports().get(0).message().contains("2 runs inside the agent were in progress (a (since 2026-11-30T00:53:20Z), "
                + "b (since 2026-11-30T00:53:20.001Z)) and none can be blamed alone"), r.reports().get(0).message());
        List<QuarantineRecords.Record> records = new QuarantineRecords(dir).list();
        assertEquals(List.of(QuarantineRecords.Kind.SUSPECT, QuarantineRecords.Kind.SUSPECT), records.stream().map(QuarantineRecords.Record::kind).toList());
        assertTrue(r.summary().endsWith("; none can be blamed alone"), r.summary());

        // The next death with a suspect running alone (its runs now are) blames it, and it stops being a suspect.
        review(died(RunJournal.End.DIED, -1, "", run(0, PluginKind.GROOVY, "a"), run(3, PluginKind.EXEC, "c")), "oom:3");
        assertNotNull(new QuarantineRecords(dir).find(RunJournal.keyHash("a"), QuarantineRecords.Kind.QUARANTINED));
        assertNull(new QuarantineRecords(dir).find(RunJournal.keyHash("a"), QuarantineRecords.Kind.SUSPECT));
        assertNotNull(new QuarantineRecords(dir).find(RunJournal.keyHash("b"), QuarantineRecords.Kind.SUSPECT));
    }

    @Test
    void aStopOnRequestThatDidNotWaitBlamesNobody() throws Exception {
        CrashReview.Result r = review(died(RunJournal.End.STOPPED, -1, "", run(0, PluginKind.GROOVY, "a")), "exit:3");
        assertEquals(Status.KILLED, r.reports().get(0).status());
        assertTrue(r.reports().get(0).message().startsWith("the agent was stopped on request during this run (job a, started "));
        assertEquals(List.of(), new QuarantineRecords(dir).list());
        assertNull(review(died(RunJournal.End.STOPPED, -1, ""), null).summary(), "a clean stop is not worth a line");
    }

    @Test
    void theLaunchersWordsAreParsedAndEscaped() {
        assertEquals(new PreviousExit("signal", "KILL"), PreviousExit.parse("signal:SIGKILL"));
        assertEquals("the agent was killed by SIGKILL", PreviousExit.parse("signal:KILL").describe());
        assertEquals("the agent ended (reboot\\x1B[2j)", PreviousExit.parse("reboot\u001b[2J").describe());
        assertEquals(PreviousExit.UNKNOWN, PreviousExit.parse(""));
        assertTrue(PreviousExit.parse("watchdog:30").pluginCouldCause());
        assertTrue(!PreviousExit.parse("signal:KILL").pluginCouldCause());
    }
}
