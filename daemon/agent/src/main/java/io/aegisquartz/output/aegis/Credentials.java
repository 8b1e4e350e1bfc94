package io.aegisquartz.output.aegis;

import io.aegisquartz.config.ConfigProblem;
import io.aegisquartz.config.IniFile;
import io.aegisquartz.config.SecretFile;

import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The access key the agent signs uploads with, and the receiver checks them with: one file, same format
 * on both sides (see docs/PROTOCOL.md):
 *
 * <pre>
 * [credentials]
 * access_key_id = AKIDEXAMPLE
 * access_key_secret = ...
 * bearer_token = ...        # optional, for a gateway in front of the receiver
 * </pre>
 *
 * <p>The file must be a regular file (a symlink is followed; its target is checked), readable by its
 * owner only, and owned by the user running the process: a secret that other users can read, or that
 * someone else can replace, is not a secret. The secret never appears in {@link #toString()} or in any
 * exception message.
 */
public final class Credentials {

    /** Key ids go into a header and the log; keep them to a safe alphabet. */
    static final Pattern KEY_ID = Pattern.compile("[A-Za-z0-9_.-]{1,128}");
    /** A bearer token goes into a header: visible ASCII only, so it cannot split or smuggle headers. */
    private static final Pattern TOKEN = Pattern.compile("[\\x21-\\x7E]{1,4096}");
    private static final Set<String> KEYS = Set.of("access_key_id", "access_key_secret", "bearer_token");

    private final String accessKeyId;
    private final String accessKeySecret;
    private final String bearerToken;
    private final Path file;

    private Credentials(String accessKeyId, String accessKeySecret, String bearerToken, Path file) {
        this.accessKeyId = accessKeyId;
        this.accessKeySecret = accessKeySecret;
        this.bearerToken = bearerToken;
        this.file = file;
    }

    /** Credentials not read from a file (tests, and callers that hold them already). */
    public static Credentials of(String accessKeyId, String accessKeySecret, String bearerToken) {
        if (accessKeyId == null || !KEY_ID.matcher(accessKeyId).matches()) {
            throw new IllegalArgumentException("access key id must be 1-128 of A-Z a-z 0-9 _ . -");
        }
        if (accessKeySecret == null || accessKeySecret.isEmpty()) {
            throw new IllegalArgumentException("access key secret must not be empty");
        }
        if (bearerToken != null && !TOKEN.matcher(bearerToken).matches()) {
            throw new IllegalArgumentException("bearer token must be 1-4096 visible ASCII characters");
        }
        return new Credentials(accessKeyId, accessKeySecret, bearerToken, null);
    }

    /**
     * Reads a credentials file after checking its type, permissions and owner.
     *
     * @throws CredentialsException with a one-line message naming the file, the problem and the fix
     */
    public static Credentials load(Path file) throws CredentialsException {
        checkFile(file);
        IniFile ini = IniFile.read(file);
        if (!ini.problems().isEmpty()) {
            throw new CredentialsException(describe(ini.problems().get(0), ini.problems().size()));
        }
        Map<String, IniFile.Entry> section = null;
        for (Map.Entry<String, Map<String, IniFile.Entry>> s : ini.sections().entrySet()) {
            if (!s.getKey().equals("credentials")) {
                throw new CredentialsException(file + ":" + ini.sectionLine(s.getKey()) + ": unknown section [" + s.getKey()
                        + "]; a credentials file has only [credentials] (fix: remove that section)");
            }
            section = s.getValue();
        }
        if (section == null) {
            throw new CredentialsException(file + ": no [credentials] section (fix: write [credentials] with access_key_id"
                    + " and access_key_secret, see docs/PROTOCOL.md)");
        }
        for (IniFile.Entry e : section.values()) {
            if (!KEYS.contains(e.key())) {
                throw new CredentialsException(file + ":" + e.line() + ": unknown key '" + e.key()
                        + "' in [credentials] (fix: use access_key_id, access_key_secret, bearer_token)");
            }
            if (e.commentCut()) {
                // 'secret = abc ;def' is 'abc' plus a comment by the INI rules, but 'abc ;def' to anyone
                // who generated that secret: signing with a cut secret fails far from its cause, and a
                // third-party receiver reading the file whole would disagree with us. So neither guess.
                throw new CredentialsException(file + ":" + e.line() + ": the value of " + e.key()
                        + " has ';' or '#' after a blank, which the INI rules read as the start of a comment, so it would"
                        + " be cut there (the line is not shown: it may hold the secret); a credentials value takes no"
                        + " trailing comment (fix: if the rest is part of the value, put the whole value in double quotes,"
                        + " " + e.key() + " = \"...\", writing \\\" for a quote and \\\\ for a backslash inside;"
                        + " if it is a comment, move it to a line of its own)");
            }
        }
        String id = required(file, section, "access_key_id");
        if (!KEY_ID.matcher(id).matches()) {
            throw new CredentialsException(file + ":" + section.get("access_key_id").line()
                    + ": access_key_id must be 1-128 characters of A-Z a-z 0-9 _ . - (fix: copy the key id exactly)");
        }
        String secret = required(file, section, "access_key_secret");
        String token = null;
        IniFile.Entry t = section.get("bearer_token");
        if (t != null && !t.value().isEmpty()) {
            if (!TOKEN.matcher(t.value()).matches()) {
                throw new CredentialsException(file + ":" + t.line()
                        + ": bearer_token must be 1-4096 visible ASCII characters, without spaces (fix: copy the token exactly)");
            }
            token = t.value();
        }
        return new Credentials(id, secret, token, file);
    }

    private static String required(Path file, Map<String, IniFile.Entry> section, String key) throws CredentialsException {
        IniFile.Entry e = section.get(key);
        if (e == null || e.value().isEmpty()) {
            throw new CredentialsException(file + ": [credentials] " + key + " is " + (e == null ? "missing" : "empty")
                    + " (fix: set " + key + " = ...)");
        }
        return e.value();
    }

    private static String describe(ConfigProblem p, int count) {
        return SecretFile.describe(p, count);
    }

    private static void checkFile(Path file) throws CredentialsException {
        String problem = SecretFile.problem(file, "credentials file",
                "create it with [credentials] access_key_id and access_key_secret, then chmod 600 " + file);
        if (problem != null) {
            throw new CredentialsException(problem);
        }
    }

    public String accessKeyId() {
        return accessKeyId;
    }

    /** The HMAC key. Pass it to {@link RequestSigning}; never log it. */
    public String accessKeySecret() {
        return accessKeySecret;
    }

    /** The gateway token, or null if none is configured. */
    public String bearerToken() {
        return bearerToken;
    }

    /** Where they were read from, or null. */
    public Path file() {
        return file;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Credentials c && c.accessKeyId.equals(accessKeyId) && c.accessKeySecret.equals(accessKeySecret)
                && Objects.equals(c.bearerToken, bearerToken) && Objects.equals(c.file, file);
    }

    @Override
    public int hashCode() {
        return Objects.hash(accessKeyId, file);
    }

    /** The key id only; the secret and the token are masked so that logging this object is always safe. */
    @Override
    public String toString() {
        return "Credentials[accessKeyId=" + accessKeyId + ", accessKeySecret=***, bearerToken="
                + (bearerToken == null ? "none" : "***") + (file == null ? "" : ", file=" + file) + "]";
    }
}
