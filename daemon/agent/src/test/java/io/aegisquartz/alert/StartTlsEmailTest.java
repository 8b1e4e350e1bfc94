package io.aegisquartz.alert;

import io.aegisquartz.alert.channel.Channel;
import io.aegisquartz.alert.channel.DeliveryException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The email channel's {@code security = starttls} (the default) against an SMTP server that upgrades
 * the connection with STARTTLS, as port 587 servers do: GreenMail has no STARTTLS, so this test has a
 * small server of its own that speaks the part of RFC 3207 and RFC 4954 a submission needs, with the
 * same keytool key as {@link SmtpsServer}. What it proves: the credentials and the message go only
 * over TLS verified against ca_file, and a server that does not offer STARTTLS (a stripping
 * man-in-the-middle) gets neither the password nor the message.
 */
@Timeout(120)
class StartTlsEmailTest {

    private static Path caPem;

    @TempDir
    Path dir;

    private ScriptedSmtp server;
    private Channel channel;

    @BeforeAll
    static void makeServerKey() throws Exception {
        caPem = SmtpsServer.makeKey();
    }

    @AfterEach
    void stop() throws IOException {
        if (channel != null) {
            channel.close();
        }
        if (server != null) {
            server.close();
        }
    }

    private Channel channel(int port) throws Exception {
        return SmtpsServer.channel(dir, port, "starttls", SmtpsServer.PASSWORD, "ops@example.com", caPem);
    }

    @Test
    void theLoginAndTheMessageGoOnlyAfterStartTls() throws Exception {
        server = new ScriptedSmtp(SmtpsServer.keystore(), true);
        channel = channel(server.port());
        channel.send(SmtpsServer.notification());

        List<String> lines = server.lines();
        int tls = lines.indexOf("C: STARTTLS");
        assertTrue(tls > 0, lines.toString());
        int auth = indexOfPrefix(lines, "C: AUTH ");
        assertTrue(auth > tls, "AUTH only after STARTTLS: " + lines);
        assertTrue(server.tlsAt() >= 0 && server.tlsAt() <= auth, "the connection was TLS from the STARTTLS on: " + lines);
        // AUTH PLAIN: [authorization id] NUL user NUL password (Angus Mail sends the user as the authorization id too).
        assertTrue(server.credentials() != null && server.credentials().endsWith("\u0000aegis\u0000" + SmtpsServer.PASSWORD),
                "AUTH PLAIN with the channel's user and password: " + server.credentials());
        assertTrue(lines.contains("C: MAIL FROM:<aegis@example.com>"), lines.toString());
        assertTrue(lines.contains("C: RCPT TO:<ops@example.com>"), lines.toString());
        String data = server.data();
        assertTrue(data.contains("X-Aegis-Notification-Id: 1b4e28ba-2fa1-11d2-883f-0016d3cca427"), data);
        assertTrue(data.contains("Subject: =?UTF-8?"), "UTF-8 subject, RFC 2047: " + data);
    }

    @Test
    void aServerThatDoesNotOfferStartTlsGetsNeitherThePasswordNorTheMessage() throws Exception {
        server = new ScriptedSmtp(SmtpsServer.keystore(), false);
        channel = channel(server.port());
        DeliveryException e = assertThrows(DeliveryException.class, () -> channel.send(SmtpsServer.notification()));

        List<String> lines = server.lines();
        assertFalse(lines.stream().anyMatch(l -> l.startsWith("C: AUTH") || l.startsWith("C: MAIL")), "nothing past EHLO in clear text: " + lines);
        assertFalse(String.join("\n", lines).contains(Base64.getEncoder().encodeToString(SmtpsServer.PASSWORD.getBytes(StandardCharsets.UTF_8))),
                lines.toString());
        assertFalse(e.getMessage().contains(SmtpsServer.PASSWORD), e.getMessage());
        assertTrue(e.getMessage().startsWith("SMTP 127.0.0.1:"), e.getMessage());
    }

    private static int indexOfPrefix(List<String> lines, String prefix) {
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).startsWith(prefix)) {
                return i;
            }
        }
        return -1;
    }

    /**
     * A one-connection-at-a-time SMTP server on loopback: EHLO (offering STARTTLS or not), STARTTLS,
     * AUTH PLAIN, MAIL, RCPT, DATA, QUIT. It records every command line it read ("C: ...") and the
     * index of the first line read over TLS.
     */
    static final class ScriptedSmtp implements AutoCloseable {
        private final ServerSocket listener;
        private final SSLContext tls;
        private final boolean offerStartTls;
        private final List<String> lines = new CopyOnWriteArrayList<>();
        private volatile int tlsAt = -1;
        private volatile String credentials;
        private volatile String data = "";
        private final Thread thread;

        ScriptedSmtp(Path p12, boolean offerStartTls) throws Exception {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            try (InputStream in = Files.newInputStream(p12)) {
                ks.load(in, "changeit".toCharArray());
            }
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, "changeit".toCharArray());
            tls = SSLContext.getInstance("TLS");
            tls.init(kmf.getKeyManagers(), null, null);
            this.offerStartTls = offerStartTls;
            listener = new ServerSocket(0, 5, InetAddress.getLoopbackAddress());
            thread = new Thread(this::serve, "scripted-smtp");
            thread.setDaemon(true);
            thread.start();
        }

        int port() {
            return listener.getLocalPort();
        }

        List<String> lines() {
            return List.copyOf(lines);
        }

        int tlsAt() {
            return tlsAt;
        }

        String credentials() {
            return credentials;
        }

        String data() {
            return data;
        }

        private void serve() {
            while (!listener.isClosed()) {
                try (Socket s = listener.accept()) {
                    s.setSoTimeout(30_000);
                    converse(s);
                } catch (IOException e) {
                    // The client went away (as it must when STARTTLS is missing), or the test closed us.
                }
            }
        }

        private void converse(Socket plain) throws IOException {
            Socket s = plain;
            BufferedReader in = reader(s);
            OutputStream out = s.getOutputStream();
            say(out, "220 127.0.0.1 ESMTP scripted");
            while (true) {
                String line = in.readLine();
                if (line == null) {
                    return;
                }
                lines.add("C: " + line);
                String cmd = line.length() >= 4 ? line.substring(0, 4).toUpperCase() : line.toUpperCase();
                switch (cmd) {
                    case "EHLO" -> {
                        boolean secure = s instanceof SSLSocket;
                        if (!secure && offerStartTls) {
                            say(out, "250-127.0.0.1\r\n250-8BITMIME\r\n250 STARTTLS");
                        } else if (secure) {
                            say(out, "250-127.0.0.1\r\n250-8BITMIME\r\n250 AUTH PLAIN");
                        } else {
                            say(out, "250-127.0.0.1\r\n250-8BITMIME\r\n250 AUTH PLAIN");
                        }
                    }
                    case "STAR" -> {
                        say(out, "220 go ahead");
                        SSLSocket t = (SSLSocket) tls.getSocketFactory().createSocket(s, "127.0.0.1", s.getPort(), true);
                        t.setUseClientMode(false);
                        t.startHandshake();
                        s = t;
                        tlsAt = lines.size();
                        in = reader(s);
                        out = s.getOutputStream();
                    }
                    case "AUTH" -> {
                        String[] parts = line.split(" ");
                        String b64 = parts.length >= 3 ? parts[2] : null;
                        if (b64 == null) {
                            say(out, "334 ");
                            b64 = in.readLine();
                            lines.add("C: (credentials)");
                        }
                        credentials = new String(Base64.getDecoder().decode(b64.strip()), StandardCharsets.UTF_8);
                        say(out, "235 2.7.0 accepted");
                    }
                    case "MAIL", "RCPT" -> say(out, "250 ok");
                    case "DATA" -> {
                        say(out, "354 end with .");
                        StringBuilder sb = new StringBuilder();
                        for (String l = in.readLine(); l != null && !l.equals("."); l = in.readLine()) {
                            sb.append(l).append('\n');
                        }
                        data = sb.toString();
                        say(out, "250 queued");
                    }
                    case "QUIT" -> {
                        say(out, "221 bye");
                        return;
                    }
                    default -> say(out, "250 ok");
                }
            }
        }

        private static BufferedReader reader(Socket s) throws IOException {
            return new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.ISO_8859_1));
        }

        private static void say(OutputStream out, String reply) throws IOException {
            out.write((reply + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
        }

        @Override
        public void close() throws IOException {
            listener.close();
        }
    }
}
