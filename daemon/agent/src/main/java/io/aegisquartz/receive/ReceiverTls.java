package io.aegisquartz.receive;

import io.aegisquartz.util.AtomicFiles;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The receiver's TLS identity: a PKCS#12 keystore the operator gives, or a self-signed one generated on
 * first use in the state directory by the JDK's own keytool (no extra dependency, and a format every
 * tool reads), with its certificate exported as PEM for agents to trust.
 */
final class ReceiverTls {

    static final String KEYSTORE = "receiver.p12";
    static final String PASSWORD = "receiver.p12.password";
    static final String CERT_PEM = "receiver-cert.pem";
    private static final String ALIAS = "aegis-receiver";

    /** The SSL context and, for a generated identity, the PEM file to give to agents. */
    record Identity(SSLContext context, Path certificatePem) {
    }

    /** TLS cannot be set up; the message says why and what to do. */
    static final class TlsException extends Exception {
        private static final long serialVersionUID = 1L;

        TlsException(String message) {
            super(message);
        }
    }

    private ReceiverTls() {
    }

    /** From a given keystore and its password (never logged, never in a message). */
    static Identity fromKeystore(Path keystore, char[] password) throws TlsException {
        return new Identity(context(keystore, password), null);
    }

    /**
     * The identity in {@code stateDir}, generated first if absent.
     *
     * @param extraHost a host name or IP address to add to the certificate besides localhost, or null
     */
    static Identity generatedIn(Path stateDir, String extraHost) throws TlsException {
        Path keystore = stateDir.resolve(KEYSTORE);
        Path passwordFile = stateDir.resolve(PASSWORD);
        Path pem = stateDir.resolve(CERT_PEM);
        try {
            Files.createDirectories(stateDir);
            if (!Files.exists(keystore) || !Files.exists(passwordFile) || !Files.exists(pem)) {
                generate(stateDir, keystore, passwordFile, pem, extraHost);
            }
            char[] password = Files.readString(passwordFile, StandardCharsets.US_ASCII).strip().toCharArray();
            return new Identity(context(keystore, password), pem);
        } catch (IOException e) {
            throw new TlsException("cannot use state directory " + stateDir + ": " + e.getMessage()
                    + " (fix: make it writable, or pass --keystore)");
        }
    }

    private static void generate(Path stateDir, Path keystore, Path passwordFile, Path pem, String extraHost)
            throws IOException, TlsException {
        // Generate under temporary names and rename at the end: a crash half-way never leaves a keystore
        // without its password or certificate, and the next start simply generates again.
        Path tmpStore = stateDir.resolve(KEYSTORE + ".tmp");
        Path tmpPassword = stateDir.resolve(PASSWORD + ".tmp");
        Path tmpPem = stateDir.resolve(CERT_PEM + ".tmp");
        Files.deleteIfExists(tmpStore);
        Files.deleteIfExists(tmpPassword);
        Files.deleteIfExists(tmpPem);
        Files.createFile(tmpPassword, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(tmpPassword, io.aegisquartz.output.aegis.RequestSigning.newNonce() + "\n", StandardCharsets.US_ASCII);
        String san = "SAN=ip:127.0.0.1,ip:::1,dns:localhost" + extraSan(extraHost);
        // The password goes to keytool as a file, never on its command line (visible in ps).
        keytool("-genkeypair", "-alias", ALIAS, "-keyalg", "EC", "-groupname", "secp256r1", "-validity", "3650",
                "-dname", "CN=aegis-quartz receiver", "-ext", san, "-storetype", "PKCS12",
                "-keystore", tmpStore.toString(), "-storepass:file", tmpPassword.toString());
        keytool("-exportcert", "-rfc", "-alias", ALIAS, "-keystore", tmpStore.toString(), "-storetype", "PKCS12",
                "-storepass:file", tmpPassword.toString(), "-file", tmpPem.toString());
        Files.setPosixFilePermissions(tmpStore, PosixFilePermissions.fromString("rw-------"));
        AtomicFiles.commit(tmpPassword, passwordFile);
        AtomicFiles.commit(tmpStore, keystore);
        AtomicFiles.commit(tmpPem, pem);
    }

    /** The listen host, if it is one an agent could connect to by that name and not already covered. */
    static String extraSan(String host) {
        if (host == null || host.isEmpty() || host.equals("localhost")) {
            return "";
        }
        if (host.matches("[0-9.]+") || host.contains(":")) {
            try {
                InetAddress a = InetAddress.getByName(host);
                return a.isAnyLocalAddress() || a.isLoopbackAddress() ? "" : ",ip:" + host;
            } catch (IOException e) {
                return "";
            }
        }
        return host.matches("[A-Za-z0-9.-]+") ? ",dns:" + host : "";
    }

    private static void keytool(String... args) throws IOException, TlsException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        p.getOutputStream().close();
        String output;
        try (InputStream in = p.getInputStream()) {
            output = new String(in.readNBytes(64 * 1024), StandardCharsets.UTF_8).strip();
        }
        try {
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new TlsException("keytool " + args[0] + " did not finish within 60s");
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new TlsException("interrupted while generating the TLS certificate");
        }
        if (p.exitValue() != 0) {
            throw new TlsException("keytool " + args[0] + " failed (exit " + p.exitValue() + "): " + output.replace('\n', ' ')
                    + " (fix: check that " + cmd.get(0) + " exists, or pass --keystore)");
        }
    }

    private static SSLContext context(Path keystore, char[] password) throws TlsException {
        try (InputStream in = Files.newInputStream(keystore)) {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(in, password);
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, password);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(kmf.getKeyManagers(), null, null);
            return ctx;
        } catch (IOException | GeneralSecurityException e) {
            // A wrong password shows up as an IOException about the MAC or padding; the message never holds it.
            throw new TlsException("cannot load keystore " + keystore + ": " + e.getMessage()
                    + " (fix: give a PKCS#12 keystore and the file holding its password)");
        }
    }
}
