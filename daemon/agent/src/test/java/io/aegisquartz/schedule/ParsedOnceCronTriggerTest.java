package io.aegisquartz.schedule;

import org.junit.jupiter.api.Test;
import org.quartz.CronScheduleBuilder;
import org.quartz.CronTrigger;
import org.quartz.TriggerBuilder;
import org.quartz.spi.OperableTrigger;

import java.util.ArrayList;
import java.util.Date;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Jobs fire at exactly the times Quartz's own cron trigger gives, copies included. */
class ParsedOnceCronTriggerTest {

    private static final Date START = new Date(1_767_225_600_000L); // 2026-01-01T00:00:00Z

    private static OperableTrigger ours(String cron, int misfire) throws Exception {
        return (OperableTrigger) TriggerBuilder.newTrigger().withIdentity("t").startAt(START)
                .withSchedule(ParsedOnceCronTrigger.schedule(cron, misfire)).build();
    }

    private static OperableTrigger quartz(String cron) {
        return (OperableTrigger) TriggerBuilder.newTrigger().withIdentity("t").startAt(START)
                .withSchedule(CronScheduleBuilder.cronSchedule(cron)).build();
    }

    private static List<Date> fires(OperableTrigger t, int n) {
        List<Date> out = new ArrayList<>();
        t.computeFirstFireTime(null);
        for (int i = 0; i < n && t.getNextFireTime() != null; i++) {
            out.add(t.getNextFireTime());
            t.triggered(null);
        }
        return out;
    }

    @Test
    void firesWhenQuartzsOwnCronTriggerFires() throws Exception {
        for (String cron : List.of("0/10 * * * * ?", "5 * * * * ?", "0 0/5 9-17 ? * MON-FRI", "0 0 12 L * ?",
                "0 30 8 15W * ?", "0 0 6 ? * 6#3", "0 15 10 ? * 6L 2026-2027", "0 0 0 29 2 ? *")) {
            List<Date> expected = fires(quartz(cron), 200);
            assertTrue(expected.size() > 1, cron);
            assertEquals(expected, fires(ours(cron, CronTrigger.MISFIRE_INSTRUCTION_DO_NOTHING), 200), cron);
        }
        assertEquals(quartz("0 15 10 ? * 6L 2026-2027").getFinalFireTime(),
                ours("0 15 10 ? * 6L 2026-2027", CronTrigger.MISFIRE_INSTRUCTION_DO_NOTHING).getFinalFireTime());
    }

    @Test
    void aCopyKeepsTheScheduleAndMovesOnByItself() throws Exception {
        OperableTrigger original = ours("0/10 * * * * ?", CronTrigger.MISFIRE_INSTRUCTION_FIRE_ONCE_NOW);
        original.computeFirstFireTime(null);
        OperableTrigger copy = (OperableTrigger) original.clone();
        copy.triggered(null);
        copy.triggered(null);

        assertEquals(START, original.getNextFireTime(), "the store's trigger is not moved by the scheduler's copy");
        assertEquals(new Date(START.getTime() + 20_000), copy.getNextFireTime());
        assertEquals("0/10 * * * * ?", ((CronTrigger) copy).getCronExpression());
        assertEquals(CronTrigger.MISFIRE_INSTRUCTION_FIRE_ONCE_NOW, copy.getMisfireInstruction());
        assertEquals(((CronTrigger) original).getTimeZone(), ((CronTrigger) copy).getTimeZone());
    }

    @Test
    void theMisfirePolicySkipsOrRunsOnceNowAsQuartzWould() throws Exception {
        OperableTrigger skip = ours("0 0 * * * ?", CronTrigger.MISFIRE_INSTRUCTION_DO_NOTHING);
        OperableTrigger runOnce = ours("0 0 * * * ?", CronTrigger.MISFIRE_INSTRUCTION_FIRE_ONCE_NOW);
        for (OperableTrigger t : List.of(skip, runOnce)) {
            t.computeFirstFireTime(null); // 2026-01-01T00:00Z: long past, so the fire was missed
        }
        long before = System.currentTimeMillis();
        skip.updateAfterMisfire(null);
        runOnce.updateAfterMisfire(null);
        long after = System.currentTimeMillis();

        long next = skip.getNextFireTime().getTime();
        assertTrue(next > after && next % 3_600_000 == 0, "skip: the next whole hour, not now: " + skip.getNextFireTime());
        long now = runOnce.getNextFireTime().getTime();
        assertTrue(now >= before - 1000 && now <= after, "run once: now, " + runOnce.getNextFireTime());
        assertNotEquals(skip.getNextFireTime(), runOnce.getNextFireTime());
    }
}
