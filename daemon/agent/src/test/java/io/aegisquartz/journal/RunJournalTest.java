package io.aegisquartz.journal;

import io.aegisquartz.config.JobSpec;
import io.aegisquartz.plugin.FileStamp;
import io.aegisquartz.plugin.PluginKind;
import io.aegisquartz.testing.TestJobs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The journal file as docs/JOURNAL.md describes it, read back as the next start reads it. */
class RunJournalTest {

    @TempDir
    Path dir;

    private JobSpec job(String name) throws Exception {
        Path plugin = TestJobs.script(dir, name + ".groovy", "emit('x', [v: 1])\n");
        return TestJobs.job(plugin, TestJobs.defaults(), "--password", "s3cret");
    }

    @Test
    void runsInProgressAreWhatTheNextStartFinds() throws Exception {
        JobSpec a = job("alpha");
        JobSpec b = job("beta");
        FileStamp stamp = FileStamp.of(a.pluginPath());
        long before = System.currentTimeMillis();
        try (RunJournal j = RunJournal.open(dir.resolve("state"), 4)) {
            assertEquals(RunJournal.End.NONE, j.previous().end(), "a first start");
            j.reset();
            int sa = j.begin(a, PluginKind.GROOVY, stamp);
            int sb = j.begin(b, PluginKind.EXEC, null);
            j.end(sb);
            j.begin(b, PluginKind.JAR, null);

            // What a JVM killed now would leave: read the file as the next start does, while this one is still open.
            RunJournal.Previous p = RunJournal.read(dir.resolve("state/runs.journal"));
            assertEquals(RunJournal.End.DIED, p.end());
            assertEquals(ProcessHandle.current().pid(), p.pid());
            assertEquals(2, p.runs().size());
            RunJournal.Run ra = p.runs().get(0);
            assertEquals(sa, ra.slot());
            assertEquals(PluginKind.GROOVY, ra.kind());
            assertEquals(a.name(), ra.job());
            assertEquals(a.pluginRef(), ra.plugin());
            assertEquals(RunJournal.keyHash(a.key()), ra.keyHash());
            assertEquals(stamp, ra.stamp());
            assertTrue(ra.startMillis() >= before && ra.startMillis() <= System.currentTimeMillis());
            assertEquals(PluginKind.JAR, p.runs().get(1).kind());
            assertNull(p.runs().get(1).stamp());
            assertTrue(!Files.readString(dir.resolve("state/runs.journal"), java.nio.charset.StandardCharsets.ISO_8859_1).contains("s3cret"),
                    "the job's arguments are not in the journal");
            assertEquals(512 * 5, Files.size(dir.resolve("state/runs.journal")), "a header and one slot per worker, never more");
        }
        RunJournal.Previous after = RunJournal.read(dir.resolve("state/runs.journal"));
        assertEquals(RunJournal.End.STOPPED, after.end(), "closed by a stop on request");
        assertEquals(2, after.runs().size(), "runs not waited for are still there");
    }

    @Test
    void theNextStartKeepsThePreviousRunsUntilTheyAreReported() throws Exception {
        JobSpec a = job("alpha");
        RunJournal first = RunJournal.open(dir, 2);
        first.reset();
        first.begin(a, PluginKind.GROOVY, null);
        // The first agent dies here: its file stays open, nothing more is written.
        try (RunJournal second = RunJournal.open(dir, 2)) {
            assertEquals(1, second.previous().runs().size());
            assertEquals(-1, second.begin(a, PluginKind.GROOVY, null), "no run is recorded before the reset");
            assertEquals(1, RunJournal.read(dir.resolve(RunJournal.FILE)).runs().size(), "still on disk: a crash now loses nothing");
            second.reset();
            assertEquals(List.of(), RunJournal.read(dir.resolve(RunJournal.FILE)).runs());
        }
    }

    @Test
    void aTornSlotOrHeaderIsSeenAsUnreadableNotAsARun() throws Exception {
        JobSpec a = job("alpha");
        try (RunJournal j = RunJournal.open(dir, 2)) {
            j.reset();
            j.begin(a, PluginKind.GROOVY, null);
            j.begin(a, PluginKind.GROOVY, null);
        }
        try (RandomAccessFile f = new RandomAccessFile(dir.resolve(RunJournal.FILE).toFile(), "rw")) {
            f.seek(512 * 2 + 100); // inside the second slot's job name
            f.write('#');
            f.seek(20);            // inside the header's pid
            f.write(0x7f);
        }
        RunJournal.Previous p = RunJournal.read(dir.resolve(RunJournal.FILE));
        assertEquals(RunJournal.End.UNREADABLE, p.end());
        assertEquals(1, p.runs().size());
        assertEquals(1, p.unreadable());
    }

    @Test
    void aRunCostsNoAllocation() throws Exception {
        JobSpec a = job("alpha");
        FileStamp stamp = FileStamp.of(a.pluginPath());
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        try (RunJournal j = RunJournal.open(dir, 4)) {
            j.reset();
            for (int i = 0; i < 2_000; i++) { // warm up: the JIT and the first use of each class allocate
                j.end(j.begin(a, PluginKind.GROOVY, stamp));
            }
            long before = threads.getCurrentThreadAllocatedBytes();
            for (int i = 0; i < 10_000; i++) {
                j.end(j.begin(a, PluginKind.GROOVY, stamp));
            }
            long allocated = threads.getCurrentThreadAllocatedBytes() - before;
            assertTrue(allocated < 10_000, "10,000 runs allocated " + allocated + " bytes");
        }
    }

    @Test
    void namesAreCutAtACharacterBoundaryAndKeptAsUtf8() throws Exception {
        byte[] b = new byte[16];
        assertEquals(8, RunJournal.Utf8.put("ab€€€", b, 0, 10), "a third € (3 bytes) does not fit in 10");
        assertEquals("ab€€", RunJournal.Utf8.get(b, 0, 8));
        assertEquals(6, RunJournal.Utf8.put("x😀y", b, 0, 16));
        assertEquals("x😀y", RunJournal.Utf8.get(b, 0, 6));
    }
}
