package io.aegisquartz.cli;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Options and positional arguments of one command. Options come first; with {@code stopAtPositional},
 * everything from the first positional argument on is left alone (run-plugin passes it to the plugin).
 */
final class Args {

    private final Map<String, String> values = new HashMap<>();
    private final Set<String> flags = new HashSet<>();
    private final List<String> positional = new ArrayList<>();

    /**
     * @param withValue options that take a value ({@code --timeout 5s} or {@code --timeout=5s})
     * @param flagNames options without a value
     */
    Args(String command, List<String> argv, Set<String> withValue, Set<String> flagNames, boolean stopAtPositional)
            throws UsageException {
        for (int i = 0; i < argv.size(); i++) {
            String a = argv.get(i);
            if (!positional.isEmpty() && stopAtPositional) {
                positional.add(a);
                continue;
            }
            if (a.equals("--")) {
                positional.addAll(argv.subList(i + 1, argv.size()));
                break;
            }
            if (a.startsWith("-") && a.length() > 1) {
                String name = a;
                String value = null;
                int eq = a.indexOf('=');
                if (eq > 0) {
                    name = a.substring(0, eq);
                    value = a.substring(eq + 1);
                }
                if (flagNames.contains(name) && value == null) {
                    flags.add(name);
                } else if (withValue.contains(name)) {
                    if (value == null) {
                        if (i + 1 >= argv.size()) {
                            throw new UsageException(name + " needs a value; see 'aegis-quartz " + command + " --help'");
                        }
                        value = argv.get(++i);
                    }
                    values.put(name, value);
                } else if (name.equals("--home") || name.equals("--conf")) {
                    String dir = value != null ? value : i + 1 < argv.size() ? argv.get(i + 1) : "DIR";
                    throw new UsageException(name + " is a global option: it goes before the command, as in 'aegis-quartz "
                            + name + " " + dir + " " + command + "'");
                } else {
                    throw new UsageException("unknown option " + name + " for '" + command + "'; see 'aegis-quartz "
                            + command + " --help'");
                }
                continue;
            }
            positional.add(a);
        }
    }

    boolean flag(String name) {
        return flags.contains(name);
    }

    String value(String name) {
        return values.get(name);
    }

    List<String> positional() {
        return positional;
    }
}
