package io.aegisquartz.schedule;

import org.quartz.Calendar;
import org.quartz.CronExpression;
import org.quartz.CronScheduleBuilder;
import org.quartz.CronTrigger;
import org.quartz.ScheduleBuilder;
import org.quartz.impl.triggers.AbstractTrigger;

import java.time.Clock;
import java.util.Date;
import java.util.TimeZone;

/**
 * A job's cron trigger: what Quartz's CronTriggerImpl does for our jobs, without its cost per fire.
 *
 * <p>Quartz's in-memory store copies a trigger each time it fires it, and CronTriggerImpl's copy parses
 * its cron expression again: 1.3 ms of CPU while the parser is still interpreted (at one fire a minute,
 * for hours) and 18 us once compiled. The expression never changes once a job is scheduled (a reload
 * schedules a new trigger), so here the copies share it, together with the last next-fire-time it
 * computed: the store asks the original and its copy the same question on each fire.
 *
 * <p>No end time: our jobs run until they are removed. Quartz calendars are honoured as Quartz does,
 * though our jobs name none.
 */
final class JobTrigger extends AbstractTrigger<CronTrigger> implements CronTrigger {

    private static final long serialVersionUID = 1L;

    private final Schedule schedule;
    /** The job's splay offset ({@link Splay}): every fire time is the cron's plus this. */
    private final long offsetMillis;
    /** "Now", for a misfire and a fire time asked for without a reference time; a test's own clock. */
    private final Clock clock;
    private Date startTime;
    private Date nextFireTime;
    private Date previousFireTime;

    /**
     * @param cron     a valid Quartz cron expression
     * @param runOnce  on a missed fire time, fire once now (true) or wait for the next one (false)
     */
    JobTrigger(String name, String group, String cron, boolean runOnce, Date startTime) throws java.text.ParseException {
        this(name, group, new CronExpression(cron), 0, runOnce, startTime, Clock.systemUTC());
    }

    /**
     * @param offsetMillis the splay offset, less than the shortest gap between two fires ({@link Splay})
     * @param clock        the time "now" is read from
     */
    JobTrigger(String name, String group, CronExpression cron, long offsetMillis, boolean runOnce, Date startTime, Clock clock) {
        super(name, group);
        this.schedule = new Schedule(cron);
        this.offsetMillis = offsetMillis;
        this.clock = clock;
        setStartTime(startTime);
        setMisfireInstruction(runOnce ? MISFIRE_INSTRUCTION_FIRE_ONCE_NOW : MISFIRE_INSTRUCTION_DO_NOTHING);
    }

    /** The splay offset in milliseconds (0: the cron's own times). */
    long offsetMillis() {
        return offsetMillis;
    }

    /** The parsed expression, shared by this trigger and every copy Quartz makes of it. */
    CronExpression expression() {
        return schedule.cron;
    }

    @Override
    public Date getFireTimeAfter(Date afterTime) {
        long after = afterTime == null ? clock.millis() : afterTime.getTime();
        // Quartz's rule, kept: a start time in the future counts from the second before it. With a
        // splay, the cron time after (t - offset), moved on by the offset, is the first shifted time after t.
        Date d = schedule.after(Math.max(after, startTime.getTime() - 1000) - offsetMillis);
        if (d != null && offsetMillis != 0) {
            d.setTime(d.getTime() + offsetMillis);
        }
        return d;
    }

    @Override
    public void triggered(Calendar calendar) {
        previousFireTime = nextFireTime;
        nextFireTime = included(getFireTimeAfter(nextFireTime), calendar);
    }

    @Override
    public Date computeFirstFireTime(Calendar calendar) {
        nextFireTime = included(getFireTimeAfter(new Date(startTime.getTime() - 1000)), calendar);
        return nextFireTime;
    }

    @Override
    public void updateAfterMisfire(Calendar calendar) {
        int instruction = getMisfireInstruction();
        if (instruction == MISFIRE_INSTRUCTION_IGNORE_MISFIRE_POLICY) {
            return;
        }
        if (instruction == MISFIRE_INSTRUCTION_DO_NOTHING) {
            nextFireTime = included(getFireTimeAfter(new Date(clock.millis())), calendar);
        } else { // MISFIRE_INSTRUCTION_SMART_POLICY means this for cron triggers too
            nextFireTime = new Date(clock.millis());
        }
    }

    @Override
    public void updateWithNewCalendar(Calendar calendar, long misfireThreshold) {
        // Only for a trigger naming a Quartz calendar, which ours never do; Quartz's rule all the same.
        nextFireTime = getFireTimeAfter(previousFireTime);
        if (nextFireTime == null || calendar == null) {
            return;
        }
        nextFireTime = included(nextFireTime, calendar);
        long now = clock.millis();
        while (nextFireTime != null && nextFireTime.getTime() < now - misfireThreshold) {
            nextFireTime = included(getFireTimeAfter(nextFireTime), calendar);
        }
    }

    /** {@code t}, or the first fire time after it that {@code calendar} does not exclude. */
    private Date included(Date t, Calendar calendar) {
        while (t != null && calendar != null && !calendar.isTimeIncluded(t.getTime())) {
            t = getFireTimeAfter(t);
        }
        return t;
    }

    @Override
    protected boolean validateMisfireInstruction(int instruction) {
        return instruction >= MISFIRE_INSTRUCTION_IGNORE_MISFIRE_POLICY && instruction <= MISFIRE_INSTRUCTION_DO_NOTHING;
    }

    @Override
    public boolean mayFireAgain() {
        return nextFireTime != null;
    }

    @Override
    public Date getNextFireTime() {
        return nextFireTime;
    }

    @Override
    public void setNextFireTime(Date nextFireTime) {
        this.nextFireTime = nextFireTime;
    }

    @Override
    public Date getPreviousFireTime() {
        return previousFireTime;
    }

    @Override
    public void setPreviousFireTime(Date previousFireTime) {
        this.previousFireTime = previousFireTime;
    }

    @Override
    public Date getStartTime() {
        return startTime;
    }

    @Override
    public void setStartTime(Date startTime) {
        if (startTime == null) {
            throw new IllegalArgumentException("a trigger needs a start time");
        }
        this.startTime = startTime;
    }

    @Override
    public Date getEndTime() {
        return null;
    }

    @Override
    public void setEndTime(Date endTime) {
        if (endTime != null) {
            throw new UnsupportedOperationException("jobs run until they are removed; no end time");
        }
    }

    @Override
    public Date getFinalFireTime() {
        return null; // no end time, so no final fire (CronExpression's own answer is null too)
    }

    @Override
    public String getCronExpression() {
        return schedule.cron.getCronExpression();
    }

    @Override
    public TimeZone getTimeZone() {
        return schedule.cron.getTimeZone();
    }

    @Override
    public String getExpressionSummary() {
        return schedule.cron.getExpressionSummary();
    }

    @Override
    public ScheduleBuilder<CronTrigger> getScheduleBuilder() {
        CronScheduleBuilder b = CronScheduleBuilder.cronSchedule(schedule.cron);
        return getMisfireInstruction() == MISFIRE_INSTRUCTION_FIRE_ONCE_NOW
                ? b.withMisfireHandlingInstructionFireAndProceed() : b.withMisfireHandlingInstructionDoNothing();
    }

    /**
     * The parsed expression and its last answer. Quartz's scheduler thread asks, and so can another
     * thread computing a fire time (a copy of the trigger is anyone's), so the answer is one immutable
     * pair behind a volatile.
     */
    private static final class Schedule implements java.io.Serializable {
        private static final long serialVersionUID = 1L;

        final CronExpression cron;
        private transient volatile Answer last;

        Schedule(CronExpression cron) {
            this.cron = cron;
        }

        Date after(long time) {
            Answer a = last;
            if (a == null || a.after != time) {
                Date next = cron.getTimeAfter(new Date(time));
                a = new Answer(time, next == null ? NONE : next.getTime());
                last = a;
            }
            // A Date of its own for each trigger, as CronTriggerImpl's are: the answer is shared, a Date is mutable.
            return a.next == NONE ? null : new Date(a.next);
        }

        private static final long NONE = Long.MIN_VALUE;

        /** The first fire time after {@code after}, or {@link #NONE}. */
        private record Answer(long after, long next) {
        }
    }
}
