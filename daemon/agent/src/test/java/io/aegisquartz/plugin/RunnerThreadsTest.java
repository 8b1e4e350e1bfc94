package io.aegisquartz.plugin;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Pipe readers are capped per job as well as in all, so one job cannot take them all. */
class RunnerThreadsTest {

    @Test
    void aJobAtItsCapIsRefusedWhileOtherJobsStillGetReaders() {
        try (RunnerThreads threads = new RunnerThreads(20)) {
            assertTrue(threads.reserve("greedy", 2));
            assertTrue(threads.reserve("greedy", 2));
            assertFalse(threads.reserve("greedy", 2), "a third command of the same job at once");
            for (int job = 0; job < 8; job++) {
                assertTrue(threads.reserve("job" + job, 2), "job " + job);
            }
            assertFalse(threads.reserve("job9", 2), "20 readers in all");
            threads.release("greedy", 2);
            assertTrue(threads.reserve("greedy", 2), "readers come back when a run releases them");
            assertFalse(threads.reserve("greedy", 2));
        }
    }
}
