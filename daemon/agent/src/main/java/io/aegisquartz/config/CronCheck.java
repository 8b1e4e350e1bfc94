package io.aegisquartz.config;

import org.quartz.CronExpression;

import java.text.ParseException;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;

/**
 * Validates a Quartz cron expression with Quartz's own parser, and turns its errors into a column and
 * a fix a person can act on.
 *
 * <p>Quartz reports an offset inside the failing field, not which field failed. We find the field by
 * checking each one alone inside an expression that is otherwise known to be good; if every field is
 * fine alone, the problem is how they combine (the day-of-month / day-of-week rule).
 */
public final class CronCheck {

    static final String[] FIELD_NAMES = {"seconds", "minutes", "hours", "day-of-month", "month", "day-of-week", "year"};

    /** Where a problem is, relative to the start of the expression text (0-based). */
    public record Problem(int offset, String message, String fix) {
    }

    private record Field(String text, int offset) {
    }

    private CronCheck() {
    }

    /** Null if {@code expr} is valid and fires at least once after {@code now}; the problem otherwise. */
    public static Problem check(String expr, Date now) {
        List<Field> fields = split(expr);
        if (fields.size() < 6 || fields.size() > 7) {
            String fix = fields.size() == 5
                    ? "Quartz cron starts with a seconds field and needs '?' in one day field: this Unix cron line "
                    + "becomes [" + fromUnix(fields) + "] (and Quartz numbers weekdays 1-7 from Sunday)"
                    + (fields.get(2).text().equals("*") || fields.get(4).text().equals("*") ? ""
                    : "; Unix also runs on day-of-week " + fields.get(4).text() + ": add a second line for that")
                    : "write 6 or 7 fields: seconds minutes hours day-of-month month day-of-week [year], e.g. [0 0/1 * * * ?]";
            return new Problem(0, "a Quartz cron expression has 6 or 7 fields, this one has " + fields.size(), fix);
        }
        try {
            CronExpression.validateExpression(expr);
        } catch (ParseException e) {
            return locate(fields, e);
        }
        try {
            CronExpression ce = new CronExpression(expr);
            if (ce.getNextValidTimeAfter(now) == null) {
                return new Problem(0, "the expression never fires after " + now,
                        "check the year field and impossible dates such as 30 February");
            }
        } catch (ParseException e) {
            return locate(fields, e);
        } catch (RuntimeException e) {
            // Quartz throws plain runtime exceptions for a few impossible combinations.
            return new Problem(0, "Quartz cannot compute the next fire time: " + e, "simplify the expression");
        }
        return null;
    }

    private static Problem locate(List<Field> fields, ParseException whole) {
        for (int i = 0; i < fields.size(); i++) {
            Field f = fields.get(i);
            String alone = isolated(i, f.text());
            try {
                CronExpression.validateExpression(alone);
            } catch (ParseException e) {
                int inField = e.getErrorOffset() >= 0 && e.getErrorOffset() < f.text().length() ? e.getErrorOffset() : 0;
                return new Problem(f.offset() + inField,
                        FIELD_NAMES[i] + " field '" + f.text() + "': " + clean(e.getMessage()), fixFor(i));
            }
        }
        String msg = clean(whole.getMessage());
        Field dom = fields.get(3);
        Field dow = fields.get(5);
        if (!dom.text().equals("?") && !dow.text().equals("?")) {
            return new Problem(dom.offset(), "day-of-month '" + dom.text() + "' and day-of-week '" + dow.text()
                    + "' are both set; Quartz needs one of them to be '?'",
                    "write '?' in the one you do not mean, e.g. [0 0 12 ? * MON-FRI] or [0 0 12 1 * ?]");
        }
        if (dom.text().equals("?") && dow.text().equals("?")) {
            return new Problem(dom.offset(), "day-of-month and day-of-week are both '?'; only one may be",
                    "write '*' in one of them, e.g. [0 0 12 * * ?]");
        }
        return new Problem(0, msg, "see the cron reference in README.md");
    }

    /** An expression that is valid except perhaps for field {@code i}. */
    private static String isolated(int i, String text) {
        String[] base = {"0", "0", "0", "*", "*", "?", null};
        if (i == 3 && text.equals("?")) {
            base[5] = "*";
        } else if (i == 5) {
            base[3] = text.equals("?") ? "*" : "?";
        }
        base[i] = text;
        StringBuilder sb = new StringBuilder();
        for (String s : base) {
            if (s != null) {
                sb.append(sb.length() == 0 ? "" : " ").append(s);
            }
        }
        return sb.toString();
    }

    private static String fixFor(int field) {
        return switch (field) {
            case 0, 1 -> "use 0-59, '*', ranges a-b, lists a,b and steps like 0/15 or */15";
            case 2 -> "use 0-23, '*', ranges, lists and steps";
            case 3 -> "use 1-31, '?', 'L' (last day), 'L-3', '15W' (nearest weekday), 'LW', ranges, lists and steps";
            case 4 -> "use 1-12 or JAN-DEC, ranges, lists and steps";
            case 5 -> "use 1-7 or SUN-SAT, '?', '6L' (last Friday), '2#1' (first Monday), ranges and lists";
            default -> "use a year from 1970 to 2299, ranges, lists and steps, or leave the field out";
        };
    }

    private static String clean(String message) {
        if (message == null) {
            return "invalid";
        }
        String m = message.strip();
        return m.endsWith(".") ? m.substring(0, m.length() - 1) : m;
    }

    private static List<Field> split(String expr) {
        List<Field> out = new ArrayList<>();
        int i = 0;
        while (i < expr.length()) {
            while (i < expr.length() && Character.isWhitespace(expr.charAt(i))) {
                i++;
            }
            int start = i;
            while (i < expr.length() && !Character.isWhitespace(expr.charAt(i))) {
                i++;
            }
            if (i > start) {
                out.add(new Field(expr.substring(start, i), start));
            }
        }
        return out;
    }

    /** The Quartz form of a 5-field Unix cron expression. */
    private static String fromUnix(List<Field> f) {
        String dom = f.get(2).text();
        String dow = f.get(4).text();
        if (dow.equals("*")) {
            dow = "?";
        } else if (dom.equals("*")) {
            dom = "?";
        } else {
            // Unix runs when either day field matches; Quartz cannot say that in one expression.
            dow = "?";
        }
        return "0 " + f.get(0).text() + " " + f.get(1).text() + " " + dom + " " + f.get(3).text() + " " + dow;
    }
}
