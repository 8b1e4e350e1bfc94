package io.aegisquartz.output.aegis;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * The request signature of upload protocol version 1 (docs/PROTOCOL.md), shared by the agent that signs
 * and the receiver that checks: one implementation, so the two cannot drift apart.
 *
 * <p>The string to sign is these lines joined with {@code "\n"} (no trailing newline), UTF-8:
 * {@code AEGIS-HMAC-SHA256}, method, request target, timestamp, nonce, content SHA-256, batch id. The
 * signature is lower-case hex HMAC-SHA256 keyed with the UTF-8 bytes of the access key secret.
 */
public final class RequestSigning {

    /** First line of the string to sign: names the scheme and version, so a signature for another use never verifies. */
    public static final String ALGORITHM = "AEGIS-HMAC-SHA256";

    public static final String HEADER_KEY_ID = "X-Aegis-Key-Id";
    public static final String HEADER_TIMESTAMP = "X-Aegis-Timestamp";
    public static final String HEADER_NONCE = "X-Aegis-Nonce";
    public static final String HEADER_CONTENT_SHA256 = "X-Aegis-Content-SHA256";
    public static final String HEADER_BATCH_ID = "X-Aegis-Batch-Id";
    public static final String HEADER_SIGNATURE = "X-Aegis-Signature";

    /** 32 lower-case hex characters: 128 random bits. */
    public static final Pattern NONCE = Pattern.compile("[0-9a-f]{32}");
    /** Lower-case hex SHA-256 or HMAC-SHA256. */
    public static final Pattern HEX_256 = Pattern.compile("[0-9a-f]{64}");
    /** A UUID in canonical lower-case form (what java.util.UUID#toString prints). */
    public static final Pattern BATCH_ID = Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");

    private static final HexFormat HEX = HexFormat.of();
    private static final SecureRandom RANDOM = new SecureRandom();

    private RequestSigning() {
    }

    /**
     * The canonical string to sign.
     *
     * @param target the request target exactly as sent: raw path, plus {@code ?} and the raw query if any
     * @throws IllegalArgumentException if a field contains a line break (it would make two different
     *                                  requests sign the same string)
     */
    public static String stringToSign(String method, String target, long timestamp, String nonce, String contentSha256,
                                      String batchId) {
        String[] lines = {ALGORITHM, method, target, Long.toString(timestamp), nonce, contentSha256, batchId};
        for (String s : lines) {
            if (s == null || s.indexOf('\n') >= 0 || s.indexOf('\r') >= 0) {
                throw new IllegalArgumentException("string-to-sign fields must be present and on one line");
            }
        }
        return String.join("\n", lines);
    }

    /** Lower-case hex HMAC-SHA256 of the string to sign, keyed with the secret's UTF-8 bytes. */
    public static String sign(String secret, String stringToSign) {
        return HEX.formatHex(hmac(secret, stringToSign));
    }

    /**
     * Whether {@code signatureHex} is the signature of {@code stringToSign}. Compares the raw MACs with
     * MessageDigest.isEqual, which takes the same time wherever they differ, so response timing does not
     * reveal how many leading bytes of a forged signature were right.
     */
    public static boolean verify(String secret, String stringToSign, String signatureHex) {
        if (signatureHex == null || !HEX_256.matcher(signatureHex).matches()) {
            return false;
        }
        return MessageDigest.isEqual(hmac(secret, stringToSign), HEX.parseHex(signatureHex));
    }

    /** Lower-case hex SHA-256 of the bytes. */
    public static String sha256Hex(byte[] bytes) {
        return HEX.formatHex(sha256().digest(bytes));
    }

    /** A fresh SHA-256 digest, for callers that hash while streaming. */
    public static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has SHA-256", e);
        }
    }

    /** Lower-case hex of bytes. */
    public static String hex(byte[] bytes) {
        return HEX.formatHex(bytes);
    }

    /** 128 random bits from SecureRandom as 32 lower-case hex characters; one per request, retries included. */
    public static String newNonce() {
        byte[] b = new byte[16];
        RANDOM.nextBytes(b);
        return HEX.formatHex(b);
    }

    private static byte[] hmac(String secret, String stringToSign) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            return mac.doFinal(stringToSign.getBytes(StandardCharsets.UTF_8));
        } catch (GeneralSecurityException e) {
            // Only a missing algorithm or an empty key get here; neither message holds the key.
            throw new IllegalStateException("cannot compute HMAC-SHA256: " + e.getMessage(), e);
        }
    }
}
