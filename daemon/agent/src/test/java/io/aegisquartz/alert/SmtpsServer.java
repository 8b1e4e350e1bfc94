package io.aegisquartz.alert;

import com.icegreen.greenmail.util.GreenMail;
import com.icegreen.greenmail.util.ServerSetup;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A real SMTP server (GreenMail, implicit TLS) on loopback with a key made for 127.0.0.1 by keytool, and
 * the PEM of its certificate for a channel's ca_file. GreenMail reads its TLS key from system properties
 * once per JVM: {@link #makeKey} must run before the first server starts, and every test class that
 * starts one uses it (the test JVM has no other SMTPS server).
 */
final class SmtpsServer {

    static final String USER = "aegis";
    static final String PASSWORD = "s3cret-pw";

    private SmtpsServer() {
    }

    /** Makes the server's key in {@code dir} and returns its certificate as PEM. */
    static Path makeKey(Path dir) throws Exception {
        Path p12 = dir.resolve("smtp.p12");
        run("keytool", "-genkeypair", "-alias", "greenmail", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=127.0.0.1",
                "-ext", "SAN=ip:127.0.0.1,dns:localhost", "-validity", "2", "-storetype", "PKCS12", "-keystore", p12.toString(),
                "-storepass", "changeit", "-keypass", "changeit");
        Path pem = dir.resolve("smtp.pem");
        run("keytool", "-exportcert", "-rfc", "-alias", "greenmail", "-keystore", p12.toString(), "-storepass", "changeit",
                "-file", pem.toString());
        System.setProperty("greenmail.tls.keystore.file", p12.toString());
        System.setProperty("greenmail.tls.keystore.password", "changeit");
        System.setProperty("greenmail.tls.key.password", "changeit");
        return pem;
    }

    /** Starts a server on a free port with the user aegis@example.com (USER, PASSWORD). */
    static GreenMail start() {
        ServerSetup smtps = new ServerSetup(0, "127.0.0.1", ServerSetup.PROTOCOL_SMTPS).dynamicPort();
        smtps.setServerStartupTimeout(60_000); // its 2 s default is not enough on a loaded 2-core machine
        GreenMail mail = new GreenMail(smtps);
        mail.start();
        mail.setUser("aegis@example.com", USER, PASSWORD);
        return mail;
    }

    private static void run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
    }
}
