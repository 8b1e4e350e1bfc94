package io.aegisquartz.alert;

import com.icegreen.greenmail.util.GreenMail;
import com.icegreen.greenmail.util.ServerSetup;

import io.aegisquartz.alert.channel.AlertEvent;
import io.aegisquartz.alert.channel.Channel;
import io.aegisquartz.alert.channel.MessageText;
import io.aegisquartz.alert.channel.Notification;
import io.aegisquartz.alert.channel.NotifyConfig;
import io.aegisquartz.testing.TestClock;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.ZoneOffset;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A real SMTP server (GreenMail, implicit TLS) on loopback with a key made for 127.0.0.1 by keytool, and
 * the PEM of its certificate for a channel's ca_file. GreenMail reads its TLS key from system properties
 * once per JVM: {@link #makeKey} must run before the first server starts, and every test class that
 * starts one (or a TLS server of its own) uses it, so that all share the one key.
 */
final class SmtpsServer {

    static final String USER = "aegis";
    static final String PASSWORD = "s3cret-pw";

    private SmtpsServer() {
    }

    /** The one key of this JVM (GreenMail reads its TLS key once per JVM): its folder, made at the first {@link #makeKey}. */
    private static Path keyDir;

    /**
     * Makes the server's key, once per JVM, and returns its certificate as PEM. The key lives in a
     * folder of its own, not the caller's (a test class's folder goes with the class, and GreenMail,
     * which read the key once, would then hold a key whose certificate the next class cannot find).
     */
    static synchronized Path makeKey() throws Exception {
        if (keyDir != null) {
            return keyDir.resolve("smtp.pem");
        }
        Path dir = Files.createTempDirectory("aegis-smtp-key");
        dir.toFile().deleteOnExit();
        Path p12 = dir.resolve("smtp.p12");
        run("keytool", "-genkeypair", "-alias", "greenmail", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=127.0.0.1",
                "-ext", "SAN=ip:127.0.0.1,dns:localhost", "-validity", "2", "-storetype", "PKCS12", "-keystore", p12.toString(),
                "-storepass", "changeit", "-keypass", "changeit");
        Path pem = dir.resolve("smtp.pem");
        run("keytool", "-exportcert", "-rfc", "-alias", "greenmail", "-keystore", p12.toString(), "-storepass", "changeit",
                "-file", pem.toString());
        p12.toFile().deleteOnExit();
        pem.toFile().deleteOnExit();
        System.setProperty("greenmail.tls.keystore.file", p12.toString());
        System.setProperty("greenmail.tls.keystore.password", "changeit");
        System.setProperty("greenmail.tls.key.password", "changeit");
        keyDir = dir;
        return pem;
    }

    /** The PKCS12 keystore of {@link #makeKey}'s key (password "changeit"), for a server of a test's own. */
    static synchronized Path keystore() throws Exception {
        makeKey();
        return keyDir.resolve("smtp.p12");
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

    /**
     * The email channel of a channels file written in {@code dir}: to {@code 127.0.0.1:port} with
     * {@code security}, user {@link #USER} and {@code password}, from aegis@example.com to {@code to},
     * the server's certificate {@code caPem} as ca_file.
     */
    static Channel channel(Path dir, int port, String security, String password, String to, Path caPem) throws Exception {
        Path file = dir.resolve("aegis_notify.ini");
        Files.writeString(file, "[channel.mail]\ntype = email\nhost = 127.0.0.1\nport = " + port + "\nsecurity = " + security
                + "\nusername = " + USER + "\npassword = " + password + "\nfrom = aegis@example.com\nto = " + to + "\nca_file = " + caPem + "\n");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        NotifyConfig config = NotifyConfig.load(file);
        assertEquals(List.of(), config.problems());
        return NotifyConfig.create(config.channels().get("mail"),
                new NotifyConfig.Context(new TestClock(0), new MessageText(ZoneOffset.UTC), () -> null, null, dir));
    }

    /** One critical event with Chinese and English text, its notification id fixed. */
    static Notification notification() {
        long t = 1_780_000_000_000L;
        AlertEvent e = new AlertEvent(AlertEvent.Kind.PROBLEM, "k", "web-17", "磁盘检查", "", "critical", "", "磁盘已满 disk full", t - 60_000,
                t, "", 0);
        return new Notification("1b4e28ba-2fa1-11d2-883f-0016d3cca427", "mail", "web-17", t, List.of(e), 0, 0);
    }

    private static void run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
    }
}
