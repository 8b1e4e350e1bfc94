package io.aegisquartz.schedule;

import io.aegisquartz.config.JobSource;
import io.aegisquartz.config.JobSpec;
import io.aegisquartz.plugin.AbandonedThreads;
import io.aegisquartz.plugin.InJvmRunner;
import io.aegisquartz.plugin.catalog.PluginCatalog;
import io.aegisquartz.plugin.RunnerThreads;
import io.aegisquartz.plugin.exec.ProcessRunner;
import io.aegisquartz.sample.SampleStamper;
import io.aegisquartz.testing.TestJobs;
import org.junit.jupiter.api.Test;
import org.quartz.CronExpression;
import org.quartz.CronTrigger;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Date;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Splay: each host's jobs fire at a stable offset from their cron times, less than the gap to the
 * next fire, through the trigger math the scheduler uses, driven by an injected clock.
 */
class SplayTest {

    private static final long T0 = 1_796_000_000_000L; // a fixed instant, so the test does not depend on today
    private static final String HOST_A = "3d1219c7-c4c5-404a-aa1f-6d2a48adfda4";
    private static final String HOST_B = "8a0b6c3e-1f2d-4e5a-9b7c-0d1e2f3a4b5c";
    private static final Duration MINUTE = Duration.ofMinutes(1);

    private static long offset(String uuid, String job, Duration splay, String cron) throws Exception {
        return Splay.offsetMillis(uuid, job, splay, new CronExpression(cron), new Date(T0));
    }

    @Test
    void twoHostsGetDifferentOffsetsEachStableAcrossRestartsAndDays() throws Exception {
        long a = offset(HOST_A, "website", MINUTE, "0 * * * * ?");
        long b = offset(HOST_B, "website", MINUTE, "0 * * * * ?");
        assertNotEquals(a, b);
        assertTrue(a >= 0 && a < 60_000 && b >= 0 && b < 60_000, a + ", " + b);
        // Another start, another day: the same offset (derived from uuid and name only, not from time or chance).
        assertEquals(a, Splay.offsetMillis(HOST_A, "website", MINUTE, new CronExpression("0 * * * * ?"), new Date(T0 + 86_400_000L * 40)));
        // Pinned: SHA-256 of "uuid\0name", so every JVM and version computes the same.
        assertEquals(a, offset(HOST_A, "website", MINUTE, "0 * * * * ?"));
        // Different jobs of one host spread too.
        assertNotEquals(a, offset(HOST_A, "other", MINUTE, "0 * * * * ?"));
        assertEquals(0, offset(HOST_A, "website", Duration.ZERO, "0 * * * * ?"), "no splay, no shift");
    }

    @Test
    void aThousandHostsSpreadOverTheSplayRatherThanOneSecond() throws Exception {
        Set<Long> seconds = new HashSet<>();
        for (int i = 0; i < 1000; i++) {
            long o = offset(UUID.nameUUIDFromBytes(("host" + i).getBytes()).toString(), "website", MINUTE, "0 * * * * ?");
            assertTrue(o >= 0 && o < 60_000, Long.toString(o));
            seconds.add(o / 1000);
        }
        assertEquals(60, seconds.size(), "every second of the minute has some of the thousand hosts");
    }

    @Test
    void theOffsetIsNeverMoreThanTheJobsOwnIntervalAllows() throws Exception {
        for (int i = 0; i < 300; i++) {
            String uuid = UUID.nameUUIDFromBytes(("h" + i).getBytes()).toString();
            // Every 10 s with a splay of a minute: less than 10 s.
            assertTrue(offset(uuid, "j", MINUTE, "0/10 * * * * ?") < 10_000);
            // At :00 and :01 of each hour, 1 and 59 minutes apart: less than the shorter gap.
            assertTrue(offset(uuid, "j", Duration.ofHours(1), "0 0,1 * * * ?") < 60_000);
            // Daily with a splay of a minute: less than the splay.
            assertTrue(offset(uuid, "j", MINUTE, "0 0 3 * * ?") < 60_000);
        }
        assertEquals(Long.MAX_VALUE, Splay.shortestGapMillis(new CronExpression("0 0 3 1 1 ? 2027"), new Date(T0)), "one fire left");
    }

    @Test
    void aSplayedJobFiresOncePerIntervalAtItsOffset() throws Exception {
        for (String cron : new String[] {"0 * * * * ?", "0/10 * * * * ?", "0 0,1 * * * ?", "0 0/15 9-17 ? * MON-FRI"}) {
            CronExpression reference = new CronExpression(cron);
            long off = Splay.offsetMillis(HOST_A, "j", Duration.ofHours(1), reference, new Date(T0));
            assertTrue(off > 0, cron);
            JobTrigger t = new JobTrigger("j", "user", reference, off, false, new Date(T0), Clock.fixed(Instant.ofEpochMilli(T0), ZoneOffset.UTC));
            Date unshifted = reference.getTimeAfter(new Date(T0 - 1000 - off));
            assertEquals(new Date(unshifted.getTime() + off), t.computeFirstFireTime(null), cron);
            for (int i = 0; i < 300; i++) {
                JobTrigger copy = (JobTrigger) t.clone();
                Date fired = t.getNextFireTime();
                t.triggered(null);
                copy.triggered(null);
                unshifted = reference.getTimeAfter(unshifted);
                // The next cron time, moved by the same offset: one fire per cron fire, none lost or doubled.
                assertEquals(new Date(unshifted.getTime() + off), t.getNextFireTime(), cron + ", fire " + i);
                assertEquals(t.getNextFireTime(), copy.getNextFireTime());
                assertEquals(fired, t.getPreviousFireTime());
                assertTrue(t.getNextFireTime().after(fired), "in order");
            }
        }
    }

    @Test
    void misfirePoliciesAreUnchangedBySplay() throws Exception {
        CronExpression hourly = new CronExpression("0 0 * * * ?");
        // T0 is 53:20 past an hour; with 55 minutes of splay, the top of the hour just passed (now - 53:20)
        // is due 1:40 from now: the shifted time, not the next cron time plus the offset.
        long off = 3_300_000;
        long now = T0 + 7_200_000;
        Clock clock = Clock.fixed(Instant.ofEpochMilli(now), ZoneOffset.UTC);

        // misfire=skip: the next shifted time after now, never the ones missed.
        JobTrigger skip = new JobTrigger("j", "user", hourly, off, false, new Date(T0), clock);
        skip.computeFirstFireTime(null);
        assertTrue(skip.getNextFireTime().getTime() < now, "missed");
        skip.updateAfterMisfire(null);
        Date next = skip.getNextFireTime();
        assertEquals(hourly.getTimeAfter(new Date(now - off)).getTime() + off, next.getTime());
        assertEquals(now + 100_000, next.getTime());
        assertTrue(next.getTime() > now && next.getTime() <= now + 3_600_000, next.toString());

        // misfire=run_once: now, by the injected clock, then back on the shifted times.
        JobTrigger once = new JobTrigger("j", "user", hourly, off, true, new Date(T0), clock);
        once.computeFirstFireTime(null);
        once.updateAfterMisfire(null);
        assertEquals(now, once.getNextFireTime().getTime());
        assertEquals(CronTrigger.MISFIRE_INSTRUCTION_FIRE_ONCE_NOW, once.getMisfireInstruction());
        once.triggered(null);
        assertEquals(next, once.getNextFireTime());
    }

    @Test
    void theSchedulerSplaysByTheHostUuidAndTheJobName() throws Exception {
        try (RunnerThreads threads = new RunnerThreads(2);
             PluginCatalog catalog = new PluginCatalog(new InJvmRunner(new AbandonedThreads()), new ProcessRunner(threads),
                     io.aegisquartz.config.StrictModes.off())) {
            JobExecutor executor = new JobExecutor(catalog, new SampleStamper(HOST_A, "h"), samples -> true, 1, reason -> { }, new RunCounters());
            JobScheduler scheduler = new JobScheduler(1, executor, HOST_A);
            try {
                Path plugin = Path.of("/bin/true");
                JobSpec plain = TestJobs.job(plugin, TestJobs.defaults());
                JobSpec daily = new JobSpec(JobSource.USER, plain.file(), 1, "daily", "daily", "0 0 3 * * ?", plain.pluginRef(),
                        plugin, 1, List.of(), TestJobs.defaults().withSplay(Duration.ofHours(1)));
                ScheduledJob j = scheduler.add(daily, null, 3, Duration.ofMinutes(15), Duration.ofMinutes(10));
                long off = scheduler.splayMillis(j);
                CronExpression cron = new CronExpression("0 0 3 * * ?");
                assertEquals(Splay.offsetMillis(HOST_A, "daily", Duration.ofHours(1), cron, new Date()), off);
                Date next = scheduler.nextFire(j);
                assertEquals(cron.getTimeAfter(new Date(System.currentTimeMillis() - off)).getTime() + off, next.getTime());
                assertTrue(Splay.describe(next, off).endsWith(" (splay +" + io.aegisquartz.config.Units.format(Duration.ofMillis(off)) + ")"));
                ScheduledJob unsplayed = scheduler.add(TestJobs.job(plugin, TestJobs.defaults()), null, 3, Duration.ofMinutes(15),
                        Duration.ofMinutes(10));
                assertEquals(0, scheduler.splayMillis(unsplayed));
            } finally {
                scheduler.shutdown(false);
            }
        }
    }
}
