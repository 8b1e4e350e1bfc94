package io.aegisquartz.schedule;

import io.aegisquartz.config.Units;
import org.quartz.CronExpression;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.Date;

/**
 * A job's splay: a shift of all its fire times by a fixed offset, so that a thousand hosts probing one
 * URL at {@code [0 * * * * ?]} do not arrive in the same second, and the jobs of one host spread too.
 *
 * <p>The rule: the offset is {@code hash(host uuid, job name) mod window}, in milliseconds, with
 * {@code window = min(splay, shortest gap between the job's next fires)}. So it is stable across
 * restarts and reloads of the same host and job, differs between hosts and between jobs, and is less
 * than the gap to the next fire: every fire time moves by the same amount, none is skipped, merged or
 * doubled, and the job still fires once per interval. A job whose cron has fewer than two fires left
 * may be shifted by the whole splay.
 */
public final class Splay {

    /** How many of the next fire times are looked at to find the shortest gap between two of them. */
    static final int FIRES_SAMPLED = 16;

    private Splay() {
    }

    /**
     * The offset of the job {@code jobName} on host {@code hostUuid}, in milliseconds: 0 when
     * {@code splay} is zero, else in {@code [0, min(splay, shortest gap))}.
     */
    public static long offsetMillis(String hostUuid, String jobName, Duration splay, CronExpression cron, Date now) {
        long window = Math.min(splay.toMillis(), shortestGapMillis(cron, now));
        return window <= 0 ? 0 : Math.floorMod(hash(hostUuid, jobName), window);
    }

    /** The shortest gap between two consecutive fire times among the next {@link #FIRES_SAMPLED}; Long.MAX_VALUE if fewer than two. */
    static long shortestGapMillis(CronExpression cron, Date now) {
        long shortest = Long.MAX_VALUE;
        Date prev = cron.getTimeAfter(now);
        for (int i = 1; prev != null && i < FIRES_SAMPLED; i++) {
            Date next = cron.getTimeAfter(prev);
            if (next != null) {
                shortest = Math.min(shortest, next.getTime() - prev.getTime());
            }
            prev = next;
        }
        return shortest;
    }

    /** The first fire time after {@code after} of {@code cron} shifted by {@code offsetMillis}; null if none. */
    public static Date next(CronExpression cron, long offsetMillis, Date after) {
        Date d = cron.getTimeAfter(new Date(after.getTime() - offsetMillis));
        return d == null ? null : new Date(d.getTime() + offsetMillis);
    }

    /** "2026-12-05 10:00:17 (splay +17.234s)", or "never": a next fire time as the log and check-config show it. */
    public static String describe(Date next, long offsetMillis) {
        return next == null ? "never" : new java.text.SimpleDateFormat("yyyy-MM-dd HH:mm:ss").format(next)
                + (offsetMillis == 0 ? "" : " (splay +" + Units.format(Duration.ofMillis(offsetMillis)) + ")");
    }

    /** 64 bits of SHA-256 over the uuid and the name: the same on every JVM and every run. */
    private static long hash(String hostUuid, String jobName) {
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest((hostUuid + "\u0000" + jobName).getBytes(StandardCharsets.UTF_8));
            long v = 0;
            for (int i = 0; i < 8; i++) {
                v = (v << 8) | (h[i] & 0xff);
            }
            return v;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has SHA-256", e);
        }
    }
}
