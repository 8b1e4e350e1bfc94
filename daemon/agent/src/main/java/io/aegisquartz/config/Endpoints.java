package io.aegisquartz.config;

import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;

/** Which endpoint URLs an output may send to: checked when the config is read, and again by each output. */
public final class Endpoints {

    private Endpoints() {
    }

    /**
     * Why {@code endpoint} may not be used, or null. Plain http would expose every sample and let a
     * man in the middle read the signatures' timing; it is refused except to this very host.
     */
    public static String problem(URI endpoint, boolean allowHttpLoopback) {
        String scheme = endpoint.getScheme() == null ? "" : endpoint.getScheme().toLowerCase();
        if (endpoint.getHost() == null) {
            return "endpoint " + endpoint + " has no host; write it as https://HOST[:PORT]/PATH";
        }
        if (endpoint.getRawUserInfo() != null) {
            // It would be in every log line that names the endpoint; secrets go in credentials_file.
            return "endpoint has a user name or password in it (USER:PASSWORD@); put credentials in credentials_file instead";
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
