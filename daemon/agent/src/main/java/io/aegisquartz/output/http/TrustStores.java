package io.aegisquartz.output.http;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.Collection;

/** TLS trust for the HTTP outputs and the notification channels: the system trust store, or the certificates of a PEM file. */
public final class TrustStores {

    private TrustStores() {
    }

    /**
     * An SSLContext trusting {@code caFile}'s certificates only (the JDK's trust store if null), and
     * presenting the client certificate of {@code keystore} (none if null) for mutual TLS.
     */
    public static SSLContext context(Path caFile, Path keystore, Path passwordFile) throws IOException {
        try {
            javax.net.ssl.KeyManager[] keys = keystore == null ? null : clientKeys(keystore, passwordFile);
            if (caFile == null) {
                if (keys == null) {
                    return SSLContext.getDefault();
                }
                SSLContext ctx = SSLContext.getInstance("TLS");
                ctx.init(keys, null, null);
                return ctx;
            }
            KeyStore trust = KeyStore.getInstance("PKCS12");
            trust.load(null, null);
            Collection<? extends Certificate> certs = certificates(caFile);
            int i = 0;
            for (Certificate c : certs) {
                trust.setCertificateEntry("ca-" + i++, c);
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trust);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(keys, tmf.getTrustManagers(), null);
            return ctx;
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot set up TLS with CA file " + caFile + " and client keystore " + keystore + ": "
                    + e.getMessage(), e);
        }
    }

    /**
     * The certificates of a PEM CA file, at least one: what {@link #context} will trust. Checks a CA
     * file without setting up TLS (which loads the JDK's TLS provider) when TLS is for later.
     */
    public static Collection<? extends Certificate> certificates(Path caFile) throws IOException {
        Collection<? extends Certificate> certs;
        try (InputStream in = Files.newInputStream(caFile)) {
            certs = CertificateFactory.getInstance("X.509").generateCertificates(in);
        } catch (GeneralSecurityException e) {
            throw new IOException("CA file " + caFile + " cannot be read as PEM certificates: " + e.getMessage(), e);
        }
        if (certs.isEmpty()) {
            throw new IOException("CA file " + caFile + " holds no certificate (expected PEM: -----BEGIN CERTIFICATE-----)");
        }
        return certs;
    }

    private static javax.net.ssl.KeyManager[] clientKeys(Path keystore, Path passwordFile) throws IOException, GeneralSecurityException {
        if (passwordFile == null) {
            throw new IOException("client keystore " + keystore + " needs client_keystore_password_file");
        }
        var perms = Files.getPosixFilePermissions(passwordFile);
        if (perms.stream().anyMatch(p -> p.name().startsWith("GROUP") || p.name().startsWith("OTHERS"))) {
            throw new IOException("client keystore password file " + passwordFile + " is readable by others; chmod 600 " + passwordFile);
        }
        String first = Files.readAllLines(passwordFile).stream().findFirst().orElse("");
        char[] password = first.toCharArray();
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(keystore)) {
            ks.load(in, password);
        }
        javax.net.ssl.KeyManagerFactory kmf = javax.net.ssl.KeyManagerFactory.getInstance(javax.net.ssl.KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, password);
        return kmf.getKeyManagers();
    }
}
