package io.aegisquartz.spool;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * One cursor's account of what the spool dropped before that cursor had sent it: kept in the
 * cursor's checkpoint (docs/SPOOL.md) so that a crash loses no count.
 *
 * <p>Per reason there is at most one report <em>pending</em> (drops since the cursor last read,
 * merged: nothing was read between them, so together they are one gap, and they were never sent, so
 * merging is safe) and one <em>sending</em> (frozen when the cursor reads on past it, handed to the
 * output durably, and cleared once delivered): a report that may already have
 * reached a backend never changes, so a backend that drops repeats by sample id keeps every count.
 * Records a drop took while they were in flight (read, not yet acknowledged) are not counted: the
 * output holds them and delivers them. They are <em>at risk</em> only until that batch is
 * acknowledged; if the agent stops first, the next open counts them as dropped.
 *
 * <p>Not thread-safe: guarded by the spool's lock.
 */
final class DropLedger {

    /** Bytes of {@link #encode}: totals (16), the at-risk entry (48), four reports of 40. */
    static final int BYTES = 16 + 48 + 4 * 40;

    private static final DropReport.Reason[] REASONS = DropReport.Reason.values();

    private long total;
    private long lastNumber;
    private final Aggregate[] pending = new Aggregate[REASONS.length];
    private final Aggregate[] sending = new Aggregate[REASONS.length];
    private Risk risk;

    /** A report being accumulated or delivered. */
    private record Aggregate(long number, long count, long first, long last, long total) {
    }

    /** Records dropped while in flight; cleared once a position at or after {@code upTo} is acknowledged. */
    private record Risk(long count, long first, long last, DropReport.Reason reason, SpoolPosition upTo) {
    }

    /** Records this cursor lost to drops since it was created (what the reports sum to). */
    long total() {
        return total;
    }

    /** Drops not yet delivered (pending and sending), counted in records. */
    long undelivered() {
        long n = 0;
        for (int i = 0; i < REASONS.length; i++) {
            n += pending[i] == null ? 0 : pending[i].count;
            n += sending[i] == null ? 0 : sending[i].count;
        }
        return n;
    }

    /** Unsent records were dropped: {@code first}/{@code last} are the append times of the first and last of them. */
    void dropped(DropReport.Reason reason, long count, long first, long last) {
        if (count <= 0) {
            return;
        }
        total += count;
        int i = reason.ordinal();
        Aggregate p = pending[i];
        pending[i] = p == null ? new Aggregate(++lastNumber, count, first, last, 0)
                : new Aggregate(p.number, p.count + count, Math.min(p.first, first), Math.max(p.last, last), 0);
    }

    /**
     * The cursor is about to read: every pending report becomes one being sent, its count and times
     * final, so that a drop after this read gets a report of its own and no report's first-last span
     * covers records its output delivered. False, changing nothing, if a report of the same reason is
     * still being delivered: the cursor must not read past this second gap until that one is
     * acknowledged (the output then takes the next one with its next batch).
     *
     * @param changed set to true if a report was frozen (the checkpoint must carry it)
     */
    boolean beforeRead(boolean[] changed) {
        for (int i = 0; i < REASONS.length; i++) {
            if (pending[i] != null && sending[i] != null) {
                return false;
            }
        }
        for (int i = 0; i < REASONS.length; i++) {
            if (pending[i] != null) {
                Aggregate p = pending[i];
                sending[i] = new Aggregate(p.number, p.count, p.first, p.last, total);
                pending[i] = null;
                changed[0] = true;
            }
        }
        return true;
    }

    /** Records read but not acknowledged were dropped; they count only if {@code upTo} is never acknowledged. */
    void atRisk(DropReport.Reason reason, long count, long first, long last, SpoolPosition upTo) {
        if (count <= 0) {
            return;
        }
        risk = risk == null ? new Risk(count, first, last, reason, upTo)
                : new Risk(risk.count + count, Math.min(risk.first, first), Math.max(risk.last, last), risk.reason,
                upTo.isAfter(risk.upTo) ? upTo : risk.upTo);
    }

    /** {@code upTo} was acknowledged; true if that delivered what was at risk. */
    boolean acknowledged(SpoolPosition upTo) {
        if (risk != null && !risk.upTo.isAfter(upTo)) {
            risk = null;
            return true;
        }
        return false;
    }

    /** At open: what was at risk when the agent stopped was never acknowledged, so it is lost. True if there was some. */
    boolean riskBecameDrops() {
        if (risk == null) {
            return false;
        }
        Risk r = risk;
        risk = null;
        dropped(r.reason, r.count, r.first, r.last);
        return true;
    }

    /**
     * The reports to deliver: those already handed over and not yet delivered, or else every pending
     * one, which this turns into sending (the caller makes that durable before handing them out).
     *
     * @return the reports, and whether the ledger changed
     */
    List<DropReport> take(boolean[] changed) {
        List<DropReport> out = reports(sending);
        if (!out.isEmpty()) {
            return out;
        }
        beforeRead(changed); // nothing is being sent, so every pending report can be
        return reports(sending);
    }

    /** The reports that were delivered leave the ledger; true if any did. */
    boolean delivered(List<DropReport> reports) {
        boolean any = false;
        for (DropReport r : reports) {
            int i = r.reason().ordinal();
            if (sending[i] != null && sending[i].number == r.number()) {
                sending[i] = null;
                any = true;
            }
        }
        return any;
    }

    private static List<DropReport> reports(Aggregate[] from) {
        List<DropReport> out = new ArrayList<>(0);
        for (int i = 0; i < REASONS.length; i++) {
            Aggregate a = from[i];
            if (a != null) {
                out.add(new DropReport(a.number, a.count, a.first, a.last, a.total, REASONS[i]));
            }
        }
        return out;
    }

    /** Writes {@link #BYTES} bytes at the buffer's position (layout: docs/SPOOL.md, cursor checkpoint). */
    void encode(ByteBuffer b) {
        b.putLong(total).putLong(lastNumber);
        if (risk == null) {
            b.put(new byte[48]);
        } else {
            b.putLong(risk.count).putLong(risk.first).putLong(risk.last).putLong(risk.upTo.segment()).putLong(risk.upTo.offset())
                    .putInt(code(risk.reason)).putInt(0);
        }
        for (Aggregate[] set : new Aggregate[][] {sending, pending}) {
            for (Aggregate a : set) {
                if (a == null) {
                    b.put(new byte[40]);
                } else {
                    b.putLong(a.number).putLong(a.count).putLong(a.first).putLong(a.last).putLong(a.total);
                }
            }
        }
    }

    /** Reads what {@link #encode} wrote; null if a field is impossible. */
    static DropLedger decode(ByteBuffer b) {
        DropLedger l = new DropLedger();
        l.total = b.getLong();
        l.lastNumber = b.getLong();
        long count = b.getLong();
        long first = b.getLong();
        long last = b.getLong();
        long seg = b.getLong();
        long off = b.getLong();
        int reason = b.getInt();
        b.getInt();
        if (count < 0 || l.total < 0 || l.lastNumber < 0) {
            return null;
        }
        if (count > 0) {
            DropReport.Reason r = reason(reason);
            if (r == null || seg < 0 || off < 0) {
                return null;
            }
            l.risk = new Risk(count, first, last, r, new SpoolPosition(seg, off, -1));
        }
        for (Aggregate[] set : new Aggregate[][] {l.sending, l.pending}) {
            for (int i = 0; i < set.length; i++) {
                Aggregate a = new Aggregate(b.getLong(), b.getLong(), b.getLong(), b.getLong(), b.getLong());
                if (a.count < 0 || a.number < 0 || a.number > l.lastNumber) {
                    return null;
                }
                set[i] = a.count == 0 ? null : a;
            }
        }
        return l;
    }

    static int code(DropReport.Reason r) {
        return r.ordinal() + 1;
    }

    static DropReport.Reason reason(int code) {
        return code >= 1 && code <= REASONS.length ? REASONS[code - 1] : null;
    }
}
