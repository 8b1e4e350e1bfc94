package io.aegisquartz.schedule;

import io.aegisquartz.plugin.catalog.PluginCatalog;
import io.aegisquartz.plugin.RunnerThreads;
import io.aegisquartz.sample.SampleStamper;
import org.junit.jupiter.api.Test;
import org.quartz.impl.SchedulerRepository;
import org.quartz.simpl.RAMJobStore;

import java.lang.reflect.Field;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Quartz runs with its in-memory store and our worker pool; its JDBC and XML extras cannot be used. */
class QuartzClasspathTest {

    @Test
    void noJdbcPoolOrXmlBindingIsOnTheClasspath() {
        for (String cls : List.of("com.mchange.v2.c3p0.ComboPooledDataSource", "com.zaxxer.hikari.HikariDataSource",
                "jakarta.xml.bind.DatatypeConverter", "org.quartz.jobs.FileScanJob")) {
            assertThrows(ClassNotFoundException.class, () -> Class.forName(cls), cls + " must not be on the classpath");
        }
    }

    @Test
    void theSchedulerUsesTheInMemoryStoreAndOurWorkerPool() throws Exception {
        try (RunnerThreads threads = new RunnerThreads(2); PluginCatalog catalog = new PluginCatalog(
                new io.aegisquartz.plugin.InJvmRunner(new io.aegisquartz.plugin.AbandonedThreads()),
                new io.aegisquartz.plugin.exec.ProcessRunner(threads), io.aegisquartz.config.StrictModes.off())) {
            JobExecutor executor = new JobExecutor(catalog, new SampleStamper("u", "h"), samples -> true, 1, reason -> { }, new RunCounters());
            JobScheduler scheduler = new JobScheduler(3, executor);
            try {
                Field f = JobScheduler.class.getDeclaredField("quartz");
                f.setAccessible(true);
                org.quartz.Scheduler q = (org.quartz.Scheduler) f.get(scheduler);
                assertEquals(RAMJobStore.class, q.getMetaData().getJobStoreClass());
                assertEquals(WorkerPool.class, q.getMetaData().getThreadPoolClass());
                assertEquals(3, q.getMetaData().getThreadPoolSize());
            } finally {
                scheduler.shutdown(false);
            }
            assertEquals(0, SchedulerRepository.getInstance().lookupAll().stream()
                    .filter(s -> { try { return !s.isShutdown(); } catch (Exception e) { return false; } }).count());
        }
    }
}
