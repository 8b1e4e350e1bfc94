package io.aegisquartz.plugin.exec;

import io.aegisquartz.log.LogText;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Parses Nagios plugin performance data: {@code 'label'=value[UOM];[warn];[crit];[min];[max]} items
 * separated by blanks (Nagios Plugin Development Guidelines, "Performance data").
 *
 * <p>Labels may be single-quoted to hold blanks or '='; a doubled quote inside is a literal quote. A
 * value of {@code U} means "could not be determined" and yields no value. Items that do not parse are
 * returned as problems; the rest are kept.
 */
public final class Perfdata {

    private static final Pattern VALUE = Pattern.compile("(-?[0-9]*\\.?[0-9]+(?:[eE][-+]?[0-9]+)?)([a-zA-Z%/]*)");
    private static final Pattern PLAIN_NUMBER = Pattern.compile("-?[0-9]*\\.?[0-9]+(?:[eE][-+]?[0-9]+)?");

    /**
     * One perfdata item.
     *
     * @param label the label, unquoted
     * @param value the value, or null for 'U'
     * @param unit  the unit of measure as printed (s, ms, %, B, KB, MB, c ...), "" if none
     * @param warn  warning threshold as printed (may be a range like 10:20), "" if none
     * @param crit  critical threshold as printed, "" if none
     * @param min   minimum, null if absent
     * @param max   maximum, null if absent
     */
    public record Item(String label, Double value, String unit, String warn, String crit, Double min, Double max) {

        /** The threshold as a number, if it is a plain number rather than a range. */
        public static Double plain(String threshold) {
            return PLAIN_NUMBER.matcher(threshold).matches() ? Double.valueOf(threshold) : null;
        }
    }

    /** Items and unparseable fragments of one perfdata string. */
    public record Parsed(List<Item> items, List<String> problems) {
    }

    private Perfdata() {
    }

    public static Parsed parse(String text) {
        List<Item> items = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        int i = 0;
        int n = text.length();
        while (i < n) {
            while (i < n && Character.isWhitespace(text.charAt(i))) {
                i++;
            }
            if (i >= n) {
                break;
            }
            StringBuilder label = new StringBuilder();
            if (text.charAt(i) == '\'') {
                i++;
                while (i < n) {
                    char c = text.charAt(i);
                    if (c == '\'') {
                        if (i + 1 < n && text.charAt(i + 1) == '\'') {
                            label.append('\'');
                            i += 2;
                            continue;
                        }
                        i++;
                        break;
                    }
                    label.append(c);
                    i++;
                }
            } else {
                while (i < n && text.charAt(i) != '=' && !Character.isWhitespace(text.charAt(i))) {
                    label.append(text.charAt(i++));
                }
            }
            int itemEnd = i;
            while (itemEnd < n && !Character.isWhitespace(text.charAt(itemEnd))) {
                itemEnd++;
            }
            if (i >= n || text.charAt(i) != '=') {
                problems.add("perfdata item '" + quote(label + text.substring(i, itemEnd)) + "' has no '='");
                i = itemEnd;
                continue;
            }
            String rest = text.substring(i + 1, itemEnd);
            i = itemEnd;
            Item item = item(label.toString(), rest);
            if (item == null) {
                problems.add("perfdata item '" + quote(label + "=" + rest) + "' is not label=value[UOM];warn;crit;min;max");
            } else {
                items.add(item);
            }
        }
        return new Parsed(items, problems);
    }

    /** A bad item as the agent's message quotes it: its start, escaped, and its length if it is cut. */
    private static String quote(String item) {
        return LogText.escape(item, LogText.QUOTE);
    }

    private static Item item(String label, String rest) {
        if (label.isEmpty()) {
            return null;
        }
        String[] parts = rest.split(";", -1);
        Double value = null;
        String unit = "";
        if (!parts[0].equals("U")) {
            Matcher m = VALUE.matcher(parts[0]);
            if (!m.matches()) {
                return null;
            }
            value = Double.valueOf(m.group(1));
            unit = m.group(2);
        }
        String warn = parts.length > 1 ? parts[1] : "";
        String crit = parts.length > 2 ? parts[2] : "";
        Double min = parts.length > 3 ? number(parts[3]) : null;
        Double max = parts.length > 4 ? number(parts[4]) : null;
        return new Item(label, value, unit, warn, crit, min, max);
    }

    private static Double number(String s) {
        // min and max carry the value's unit in some plugins (check_disk prints "0B"); drop it.
        Matcher m = VALUE.matcher(s);
        return m.matches() ? Double.valueOf(m.group(1)) : null;
    }
}
