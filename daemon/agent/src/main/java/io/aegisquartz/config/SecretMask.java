package io.aegisquartz.config;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Masks arguments that look like secrets before a command line is shown in a log or a sample.
 *
 * <p>Cron files are not the place for passwords, but people put them there; a job name built from
 * {@code --password hunter2} must not carry the password into every sample and log line.
 *
 * <p>Linear in the length of an argument: a cron line may hold a 100 KB argument, and a pattern that
 * backtracks over it (a greedy run followed by a word to find) would take minutes at every reload.
 * So names are checked character by character, and the URL patterns are anchored to the start of a
 * run and never give characters back.
 */
public final class SecretMask {

    /** Words that make an option or parameter name secret, searched in its lower-case form. */
    private static final Pattern SECRET_WORD = Pattern.compile("pass|pwd|secret|token|key|auth|credential");
    /** user:password@ in a URL anywhere in an argument, e.g. --url=https://admin:pw@db/. */
    private static final Pattern URL_PASSWORD =
            Pattern.compile("(?i)((?<![a-z0-9+.-])[a-z][a-z0-9+.-]*+://[^:/@\\s]++:)[^@/\\s]++(@)");
    /** Query parameters of a URL, e.g. ?token=x or &api_key=x; masked when the name holds a secret word. */
    private static final Pattern QUERY_PARAMETER = Pattern.compile("(?i)([?&]([a-z0-9_.-]*+)=)[^&#\\s]++");
    /** A user name alone before the host (a token as the user, https://TOKEN@host/); user:password@ is URL_PASSWORD's. */
    private static final Pattern URL_USER = Pattern.compile("(?i)^([a-z][a-z0-9+.-]*+://)[^:/@\\s?#]++@");
    /** A URL up to the first white space (possessive: linear, never backtracks). */
    private static final Pattern URL_QUERY = Pattern.compile("(?i)(?<![a-z0-9+.-])[a-z][a-z0-9+.-]*+://\\S++");

    private SecretMask() {
    }

    /** The arguments with secret-looking values replaced by "***". */
    public static List<String> mask(List<String> args) {
        List<String> out = new ArrayList<>(args.size());
        boolean nextIsSecret = false;
        for (String a : args) {
            if (nextIsSecret) {
                out.add("***");
                nextIsSecret = false;
                continue;
            }
            // --password, -api_key: the next argument is the secret.
            if (a.startsWith("-") && secretName(a.substring(1), "_-")) {
                out.add(a);
                nextIsSecret = true;
                continue;
            }
            // password=x, --db-token=x: the value is.
            int eq = a.indexOf('=');
            if (eq > 0 && eq < a.length() - 1 && a.indexOf('\n') < 0 && secretName(a.substring(0, eq), "_-")) {
                out.add(a.substring(0, eq + 1) + "***");
                continue;
            }
            String masked = URL_PASSWORD.matcher(a).replaceAll("$1***$2");
            out.add(a.contains("://") ? maskQuery(masked) : masked);
        }
        return out;
    }

    /**
     * Free text (an error message of a client library, a backend's answer) with every URL in it
     * stripped of its password ({@code user:***@}) and of the values of all its query parameters
     * ({@code ?key=***}): such text quotes endpoints, and an endpoint may carry a token in any
     * parameter (a webhook's {@code key=}, InfluxDB 1's {@code p=}).
     */
    public static String maskText(String text) {
        if (text == null || !text.contains("://")) {
            return text;
        }
        String masked = URL_PASSWORD.matcher(text).replaceAll("$1***$2");
        Matcher m = URL_QUERY.matcher(masked);
        StringBuilder sb = new StringBuilder(masked.length());
        while (m.find()) {
            String url = URL_USER.matcher(m.group()).replaceFirst("$1***@");
            m.appendReplacement(sb, Matcher.quoteReplacement(QUERY_PARAMETER.matcher(url).replaceAll("$1***")));
        }
        return m.appendTail(sb).toString();
    }

    /** Whether {@code name} is letters, digits and {@code extra} only, and holds a secret word. */
    private static boolean secretName(String name, String extra) {
        String l = name.toLowerCase(Locale.ROOT);
        for (int i = 0; i < l.length(); i++) {
            char c = l.charAt(i);
            if (!(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9') && extra.indexOf(c) < 0) {
                return false;
            }
        }
        return SECRET_WORD.matcher(l).find();
    }

    private static String maskQuery(String url) {
        Matcher m = QUERY_PARAMETER.matcher(url);
        StringBuilder sb = new StringBuilder(url.length());
        while (m.find()) {
            String replacement = secretName(m.group(2), "_.-") ? m.group(1) + "***" : m.group();
            m.appendReplacement(sb, Matcher.quoteReplacement(replacement));
        }
        return m.appendTail(sb).toString();
    }
}
