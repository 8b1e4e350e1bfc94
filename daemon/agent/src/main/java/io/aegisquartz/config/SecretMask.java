package io.aegisquartz.config;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Masks arguments that look like secrets before a command line is shown in a log or a sample.
 *
 * <p>Cron files are not the place for passwords, but people put them there; a job name built from
 * {@code --password hunter2} must not carry the password into every sample and log line.
 */
public final class SecretMask {

    private static final Pattern SECRET_OPTION =
            Pattern.compile("(?i)^-{1,2}[a-z0-9_-]*(pass|pwd|secret|token|key|auth|credential)[a-z0-9_-]*$");
    private static final Pattern SECRET_ASSIGNMENT =
            Pattern.compile("(?i)^(-{0,2}[a-z0-9_-]*(?:pass|pwd|secret|token|key|auth|credential)[a-z0-9_-]*=).+$");
    /** user:password@ in a URL anywhere in an argument, e.g. --url=https://admin:pw@db/. */
    private static final Pattern URL_PASSWORD = Pattern.compile("(?i)([a-z][a-z0-9+.-]*://[^:/@\\s]+:)[^@/\\s]+(@)");
    /** Secret-looking query parameters in a URL, e.g. https://h/health?token=x or ...&api_key=x. */
    private static final Pattern QUERY_SECRET =
            Pattern.compile("(?i)([?&][a-z0-9_.-]*(?:pass|pwd|secret|token|key|auth|credential|signature)[a-z0-9_.-]*=)[^&#\\s]+");

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
            if (SECRET_OPTION.matcher(a).matches()) {
                out.add(a);
                nextIsSecret = true;
                continue;
            }
            var m = SECRET_ASSIGNMENT.matcher(a);
            if (m.matches()) {
                out.add(m.group(1) + "***");
                continue;
            }
            String masked = URL_PASSWORD.matcher(a).replaceAll("$1***$2");
            out.add(a.contains("://") ? QUERY_SECRET.matcher(masked).replaceAll("$1***") : masked);
        }
        return out;
    }
}
