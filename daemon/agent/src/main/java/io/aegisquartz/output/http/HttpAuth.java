package io.aegisquartz.output.http;

import io.aegisquartz.config.IniFile;
import io.aegisquartz.config.OutputSettings;
import io.aegisquartz.config.SecretFile;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The {@code Authorization} header of an HTTP output to a backend (influx, prometheus, otlp), from
 * the secrets of its credentials file (checked as {@link SecretFile} says, as the aegis output's):
 *
 * <pre>
 * [credentials]
 * username = aegis        ; auth = basic
 * password = ...
 * token = ...             ; auth = token  (Authorization: Token ..., InfluxDB)
 * bearer_token = ...      ; auth = bearer (Authorization: Bearer ...)
 * </pre>
 *
 * Only the keys the chosen auth needs are required. The header value never appears in
 * {@link #toString()} or in a message.
 */
public final class HttpAuth {

    /** A token goes into a header: visible ASCII only, so it cannot split or smuggle headers. */
    private static final Pattern TOKEN = Pattern.compile("[\\x21-\\x7E]{1,4096}");
    /** A user name may not hold the colon that ends it, nor control characters. */
    private static final Pattern USER = Pattern.compile("[^:\\p{Cntrl}]{1,256}");
    private static final Set<String> KEYS = Set.of("username", "password", "token", "bearer_token");

    /** Why the credentials cannot be used: one line naming the file, the problem and the fix; never the secret. */
    public static final class Problem extends Exception {
        Problem(String message) {
            super(message, null, false, false);
        }
    }

    private final OutputSettings.Auth kind;
    private final String header;

    private HttpAuth(OutputSettings.Auth kind, String header) {
        this.kind = kind;
        this.header = header;
    }

    /** No header. */
    public static HttpAuth none() {
        return new HttpAuth(OutputSettings.Auth.NONE, null);
    }

    /**
     * The header for {@code kind}, read from {@code file} unless {@code kind} is NONE.
     *
     * @throws Problem one line naming the file, the problem and the fix; never the secret
     */
    public static HttpAuth load(OutputSettings.Auth kind, Path file) throws Problem {
        if (kind == OutputSettings.Auth.NONE) {
            return none();
        }
        String need = switch (kind) {
            case BASIC -> "username and password";
            case TOKEN -> "token";
            default -> "bearer_token";
        };
        Map<String, IniFile.Entry> section = section(file, need);
        return switch (kind) {
            case BASIC -> {
                UserPassword up = userPassword(file, section);
                yield new HttpAuth(kind, "Basic " + Base64.getEncoder().encodeToString((up.user() + ":" + up.password())
                        .getBytes(StandardCharsets.UTF_8)));
            }
            case TOKEN -> new HttpAuth(kind, "Token " + required(file, section, "token", TOKEN,
                    "1-4096 visible ASCII characters, without spaces"));
            default -> new HttpAuth(kind, "Bearer " + required(file, section, "bearer_token", TOKEN,
                    "1-4096 visible ASCII characters, without spaces"));
        };
    }

    /** A user name and its password (a kafka output's SASL login); {@link #toString()} shows the user only. */
    public record UserPassword(String user, String password) {
        @Override
        public String toString() {
            return "user " + user;
        }
    }

    /**
     * {@code username} and {@code password} from the credentials file {@code file}, checked as for
     * {@code auth = basic}.
     *
     * @throws Problem one line naming the file, the problem and the fix; never the secret
     */
    public static UserPassword loadUserPassword(Path file) throws Problem {
        return userPassword(file, section(file, "username and password"));
    }

    private static UserPassword userPassword(Path file, Map<String, IniFile.Entry> section) throws Problem {
        String user = required(file, section, "username", USER, "1-256 characters without ':' or control characters");
        return new UserPassword(user, required(file, section, "password", null, null));
    }

    /** The [credentials] section of {@code file}, its mode and keys checked; {@code need} names the keys the caller requires. */
    private static Map<String, IniFile.Entry> section(Path file, String need) throws Problem {
        String unusable = SecretFile.problem(file, "credentials file", "create it with [credentials] " + need + ", then chmod 600 " + file);
        if (unusable != null) {
            throw new Problem(unusable);
        }
        IniFile ini = IniFile.read(file);
        if (!ini.problems().isEmpty()) {
            throw new Problem(SecretFile.describe(ini.problems().get(0), ini.problems().size()));
        }
        Map<String, IniFile.Entry> section = Map.of();
        for (Map.Entry<String, Map<String, IniFile.Entry>> s : ini.sections().entrySet()) {
            if (!s.getKey().equals("credentials")) {
                throw new Problem(file + ":" + ini.sectionLine(s.getKey()) + ": unknown section [" + s.getKey()
                        + "]; a credentials file has only [credentials] (fix: remove that section)");
            }
            section = s.getValue();
        }
        for (IniFile.Entry e : section.values()) {
            if (!KEYS.contains(e.key())) {
                throw new Problem(file + ":" + e.line() + ": unknown key '" + e.key()
                        + "' in [credentials] (fix: use username, password, token or bearer_token)");
            }
        }
        return section;
    }

    private static String required(Path file, Map<String, IniFile.Entry> section, String key, Pattern form, String formText)
            throws Problem {
        IniFile.Entry e = section.get(key);
        if (e == null || e.value().isEmpty()) {
            throw new Problem(file + ": [credentials] " + key + " is " + (e == null ? "missing" : "empty")
                    + " (fix: set " + key + " = ...)");
        }
        if (form != null && !form.matcher(e.value()).matches()) {
            throw new Problem(file + ":" + e.line() + ": " + key + " must be " + formText + " (fix: copy it exactly)");
        }
        return e.value();
    }

    /** Adds the Authorization header, if any, to {@code headers}. */
    public void addTo(Map<String, String> headers) {
        if (header != null) {
            headers.put("Authorization", header);
        }
    }

    /** The kind only; the secret is never shown. */
    @Override
    public String toString() {
        return kind.name().toLowerCase(java.util.Locale.ROOT);
    }
}
