package io.aegisquartz.upload;

import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;

/**
 * How the uploader talks to the receiver.
 *
 * @param endpoint       the receiver URL; https, or http to a loopback address when {@code allowHttpLoopback}
 * @param caFile         PEM certificates to trust instead of the system trust store, or null
 * @param allowHttpLoopback allow plain http:// when the host is a loopback address (for local testing)
 * @param maxSamples     samples per request (the cloud API's limit is 100)
 * @param maxBytes       uncompressed JSON bytes of samples per request (the cloud API's limit is 500 KB)
 * @param requestsPerSecond request rate cap (the cloud API's limit is 20/s)
 * @param backoffBase    first retry delay; doubles per consecutive failure, with full jitter
 * @param backoffMax     longest retry delay
 * @param timeout        connect and response timeout of one request
 * @param deadLetters    where samples the receiver rejects as invalid are kept, with its reason
 * @param clientKeystore PKCS#12 file with a client key and certificate for mutual TLS, or null
 * @param clientKeystorePasswordFile file whose first line is that keystore's password (mode 0600), or null
 * @param linger         how long samples that arrive at an idle uploader wait for more before they are sent
 */
public record UploadConfig(URI endpoint, Path caFile, boolean allowHttpLoopback, int maxSamples, long maxBytes,
                           double requestsPerSecond, Duration backoffBase, Duration backoffMax, Duration timeout,
                           Path deadLetters, Path clientKeystore, Path clientKeystorePasswordFile, Duration linger) {

    /** The defaults ({@code [upload]} in aegis_config.ini, the cloud API limits), for {@code endpoint} and a dead-letter file. */
    public static UploadConfig defaults(URI endpoint, Path deadLetters) {
        return new UploadConfig(endpoint, null, false, 100, 500_000, 20, Duration.ofSeconds(1), Duration.ofMinutes(5),
                Duration.ofSeconds(30), deadLetters, null, null, Duration.ofSeconds(15));
    }

    public UploadConfig withLinger(Duration d) {
        return new UploadConfig(endpoint, caFile, allowHttpLoopback, maxSamples, maxBytes, requestsPerSecond, backoffBase, backoffMax,
                timeout, deadLetters, clientKeystore, clientKeystorePasswordFile, d);
    }

    public UploadConfig withTimeout(Duration d) {
        return new UploadConfig(endpoint, caFile, allowHttpLoopback, maxSamples, maxBytes, requestsPerSecond, backoffBase, backoffMax,
                d, deadLetters, clientKeystore, clientKeystorePasswordFile, linger);
    }

    public UploadConfig withCaFile(Path p) {
        return new UploadConfig(endpoint, p, allowHttpLoopback, maxSamples, maxBytes, requestsPerSecond, backoffBase, backoffMax,
                timeout, deadLetters, clientKeystore, clientKeystorePasswordFile, linger);
    }

    public UploadConfig withBackoff(Duration base, Duration max) {
        return new UploadConfig(endpoint, caFile, allowHttpLoopback, maxSamples, maxBytes, requestsPerSecond, base, max, timeout,
                deadLetters, clientKeystore, clientKeystorePasswordFile, linger);
    }

    public UploadConfig withBatch(int samples, long bytes) {
        return new UploadConfig(endpoint, caFile, allowHttpLoopback, samples, bytes, requestsPerSecond, backoffBase, backoffMax,
                timeout, deadLetters, clientKeystore, clientKeystorePasswordFile, linger);
    }

    public UploadConfig withAllowHttpLoopback(boolean allow) {
        return new UploadConfig(endpoint, caFile, allow, maxSamples, maxBytes, requestsPerSecond, backoffBase, backoffMax, timeout,
                deadLetters, clientKeystore, clientKeystorePasswordFile, linger);
    }

    public UploadConfig withClientKeystore(Path keystore, Path passwordFile) {
        return new UploadConfig(endpoint, caFile, allowHttpLoopback, maxSamples, maxBytes, requestsPerSecond, backoffBase, backoffMax,
                timeout, deadLetters, keystore, passwordFile, linger);
    }

    /**
     * Why {@code endpoint} may not be used, or null. Plain http would expose every sample and let a
     * man in the middle read the signatures' timing; it is refused except to this very host.
     */
    public static String endpointProblem(URI endpoint, boolean allowHttpLoopback) {
        String scheme = endpoint.getScheme() == null ? "" : endpoint.getScheme().toLowerCase();
        if (endpoint.getHost() == null) {
            return "endpoint " + endpoint + " has no host; write it as https://HOST[:PORT]/PATH";
        }
        if (scheme.equals("https")) {
            return null;
        }
        if (!scheme.equals("http")) {
            return "endpoint " + endpoint + " must be an https:// URL";
        }
        if (!isLoopback(endpoint.getHost())) {
            return "endpoint " + endpoint + " uses plain http:// to a host that is not loopback; use https://";
        }
        if (!allowHttpLoopback) {
            return "endpoint " + endpoint + " uses plain http://; it is allowed only to a loopback address and only with "
                    + "allow_http_loopback = true";
        }
        return null;
    }

    private static boolean isLoopback(String host) {
        String h = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
        // Only literal addresses and "localhost": resolving a name could be steered by DNS.
        if (h.equalsIgnoreCase("localhost")) {
            return true;
        }
        if (!h.matches("[0-9.]+|[0-9a-fA-F:]+")) {
            return false;
        }
        try {
            return InetAddress.getByName(h).isLoopbackAddress();
        } catch (UnknownHostException e) {
            return false;
        }
    }
}
