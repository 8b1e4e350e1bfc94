package io.aegisquartz.schedule;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The worker pool under back-to-back hand-offs, as Quartz's scheduler thread does them when jobs queue up. */
class WorkerPoolTest {

    @Test
    void aFreedWorkerSlotIsNeverLostToTheHandOffRace() {
        WorkerPool pool = new WorkerPool(1);
        AtomicInteger ran = new AtomicInteger();
        int fires = 100_000;
        try {
            for (int i = 0; i < fires; i++) {
                assertTrue(pool.blockForAvailableThreads() > 0, "a worker is free again after fire " + i);
                assertTrue(pool.runInThread(ran::incrementAndGet), "fire " + i + " accepted");
            }
            await().atMost(Duration.ofSeconds(10)).until(() -> pool.busy() == 0);
            assertEquals(fires, ran.get());
        } finally {
            pool.shutdown(true);
        }
    }

    @Test
    void afterShutdownNothingIsAcceptedAndNothingWaits() {
        WorkerPool pool = new WorkerPool(2);
        pool.shutdown(true);
        assertEquals(0, pool.blockForAvailableThreads());
        assertTrue(!pool.runInThread(() -> { }));
    }
}
