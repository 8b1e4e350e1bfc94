package io.aegisquartz.schedule;

import org.junit.jupiter.api.Test;
import org.quartz.CronExpression;
import org.quartz.CronScheduleBuilder;
import org.quartz.CronTrigger;
import org.quartz.Trigger;
import org.quartz.TriggerBuilder;
import org.quartz.spi.OperableTrigger;

import java.util.Date;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A job's trigger fires on its cron times, as Quartz's own cron trigger would, and copies cheaply. */
class JobTriggerTest {

    private static final long T0 = 1_796_000_000_000L; // a fixed instant, so the test does not depend on today

    @Test
    void firesOnTheCronTimesThroughTheCopiesTheStoreMakes() throws Exception {
        for (String cron : new String[] {"0/10 * * * * ?", "5 * * * * ?", "0 0/15 9-17 ? * MON-FRI", "0 0 3 L * ?"}) {
            CronExpression reference = new CronExpression(cron);
            JobTrigger stored = new JobTrigger("j", "user", cron, false, new Date(T0));
            Date expected = reference.getTimeAfter(new Date(T0 - 1000));
            assertEquals(expected, stored.computeFirstFireTime(null), cron);
            for (int i = 0; i < 500; i++) {
                // What RAMJobStore does on each fire: copy the stored trigger, then move both on.
                JobTrigger copy = (JobTrigger) stored.clone();
                assertEquals(expected, copy.getNextFireTime(), cron + ", fire " + i);
                stored.triggered(null);
                copy.triggered(null);
                expected = reference.getTimeAfter(expected);
                assertEquals(expected, stored.getNextFireTime(), cron + ", after fire " + i);
                assertEquals(expected, copy.getNextFireTime(), cron + ", the copy after fire " + i);
                assertEquals(copy.getPreviousFireTime(), stored.getPreviousFireTime());
            }
        }
    }

    @Test
    void copiesShareTheParsedExpressionButNotTheirFireTimes() throws Exception {
        JobTrigger stored = new JobTrigger("j", "user", "0/10 * * * * ?", false, new Date(T0));
        stored.computeFirstFireTime(null);
        JobTrigger copy = (JobTrigger) stored.clone();
        assertSame(stored.expression(), copy.expression(), "no second parse of the expression");
        Date before = stored.getNextFireTime();
        copy.triggered(null);
        assertEquals(before, stored.getNextFireTime(), "moving the copy on leaves the stored trigger where it was");
        stored.triggered(null);
        assertEquals(copy.getNextFireTime(), stored.getNextFireTime());
        assertNotSame(copy.getNextFireTime(), stored.getNextFireTime(), "one shared answer, but a Date of its own for each");
    }

    @Test
    void firesWhenQuartzsOwnCronTriggerWouldFromAnyStartTime() throws Exception {
        // Quartz's trigger cuts its start time to the second; ours keeps the milliseconds and must agree.
        for (String cron : new String[] {"* * * * * ?", "0/10 * * * * ?", "5 * * * * ?", "0 0 3 * * ?"}) {
            for (long start : new long[] {T0, T0 + 1, T0 + 999, T0 + 5_000, T0 + 5_123}) {
                JobTrigger ours = new JobTrigger("j", "user", cron, false, new Date(start));
                OperableTrigger theirs = (OperableTrigger) TriggerBuilder.newTrigger().withIdentity("j", "user")
                        .withSchedule(CronScheduleBuilder.cronSchedule(cron)).startAt(new Date(start)).build();
                assertEquals(theirs.computeFirstFireTime(null), ours.computeFirstFireTime(null), cron + " from " + start);
                for (int i = 0; i < 50; i++) {
                    theirs.triggered(null);
                    ours.triggered(null);
                    assertEquals(theirs.getNextFireTime(), ours.getNextFireTime(), cron + " from " + start + ", fire " + i);
                }
            }
        }
    }

    @Test
    void aMissedFireIsHandledAsQuartzsOwnCronTriggerWouldForEachInstruction() throws Exception {
        long start = System.currentTimeMillis() - 7_200_000;
        for (int instruction : new int[] {Trigger.MISFIRE_INSTRUCTION_IGNORE_MISFIRE_POLICY, Trigger.MISFIRE_INSTRUCTION_SMART_POLICY,
                CronTrigger.MISFIRE_INSTRUCTION_FIRE_ONCE_NOW, CronTrigger.MISFIRE_INSTRUCTION_DO_NOTHING}) {
            JobTrigger ours = new JobTrigger("j", "user", "0 0 * * * ?", false, new Date(start));
            ours.setMisfireInstruction(instruction);
            OperableTrigger theirs = (OperableTrigger) TriggerBuilder.newTrigger().withIdentity("j", "user")
                    .withSchedule(CronScheduleBuilder.cronSchedule("0 0 * * * ?")).startAt(new Date(start)).build();
            theirs.setMisfireInstruction(instruction);
            ours.computeFirstFireTime(null);
            theirs.computeFirstFireTime(null);
            long before = System.currentTimeMillis();
            ours.updateAfterMisfire(null);
            theirs.updateAfterMisfire(null);
            long after = System.currentTimeMillis();
            long a = ours.getNextFireTime().getTime();
            long b = theirs.getNextFireTime().getTime();
            // "Now" is read twice, once by each: equal, or both within the moment the two calls took.
            assertTrue(a == b || (a >= before && a <= after && b >= before && b <= after),
                    "instruction " + instruction + ": ours " + ours.getNextFireTime() + ", Quartz's " + theirs.getNextFireTime());
        }
    }

    @Test
    void aStartTimeInTheFutureIsWhereFiringStarts() throws Exception {
        JobTrigger t = new JobTrigger("j", "user", "* * * * * ?", false, new Date(T0 + 60_000));
        assertEquals(new Date(T0 + 60_000), t.computeFirstFireTime(null));
        assertEquals(new Date(T0 + 60_000), t.getFireTimeAfter(new Date(T0)));
    }

    @Test
    void aMissedFireEitherWaitsForTheNextCronTimeOrFiresOnceNow() throws Exception {
        long now = System.currentTimeMillis();
        JobTrigger skip = new JobTrigger("j", "user", "0 0 * * * ?", false, new Date(now - 7_200_000));
        skip.computeFirstFireTime(null);
        assertTrue(skip.getNextFireTime().getTime() < now, "the first fire time is in the past: missed");
        skip.updateAfterMisfire(null);
        Date next = skip.getNextFireTime();
        assertEquals(new CronExpression("0 0 * * * ?").getTimeAfter(new Date(next.getTime() - 1000)), next, "a cron time");
        assertTrue(next.getTime() > now && next.getTime() <= now + 3_600_000, "misfire=skip: the next top of the hour, " + next);

        JobTrigger once = new JobTrigger("j", "user", "0 0 * * * ?", true, new Date(now - 7_200_000));
        once.computeFirstFireTime(null);
        once.updateAfterMisfire(null);
        long late = once.getNextFireTime().getTime();
        assertTrue(late >= now && late <= System.currentTimeMillis(), "misfire=run_once: fire now, " + once.getNextFireTime());
        assertEquals(CronTrigger.MISFIRE_INSTRUCTION_FIRE_ONCE_NOW, once.getMisfireInstruction());
    }

    @Test
    void aJobNeverEnds() throws Exception {
        JobTrigger t = new JobTrigger("j", "user", "0/10 * * * * ?", false, new Date(T0));
        assertThrows(UnsupportedOperationException.class, () -> t.setEndTime(new Date(T0 + 1000)));
        t.setEndTime(null);
        t.computeFirstFireTime(null);
        assertTrue(t.mayFireAgain());
    }
}
