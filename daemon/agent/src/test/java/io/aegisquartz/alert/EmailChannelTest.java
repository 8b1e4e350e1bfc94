package io.aegisquartz.alert;

import com.icegreen.greenmail.util.GreenMail;
import io.aegisquartz.alert.channel.Channel;
import io.aegisquartz.alert.channel.DeliveryException;
import jakarta.mail.Message;
import jakarta.mail.internet.MimeMessage;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The email channel through a real SMTP server (GreenMail) on loopback: implicit TLS with the server's
 * certificate checked against the channel's ca_file (a key made for 127.0.0.1 by keytool in this test),
 * AUTH with the configured user, UTF-8 subject and body, the notification id in the headers.
 * GreenMail 2.1 has no STARTTLS: {@link StartTlsEmailTest} covers it with a server of its own.
 */
class EmailChannelTest {

    private static Path caPem;

    @TempDir
    Path dir;

    private GreenMail mail;
    private Channel channel;

    @BeforeAll
    static void makeServerKey() throws Exception {
        caPem = SmtpsServer.makeKey();
    }

    @BeforeEach
    void start() throws Exception {
        mail = SmtpsServer.start();
        channel = channel("s3cret-pw");
    }

    private Channel channel(String password) throws Exception {
        return SmtpsServer.channel(dir, mail.getSmtps().getPort(), "tls", password, "ops@example.com, 值班 <oncall@example.com>", caPem);
    }

    @AfterEach
    void stop() {
        if (channel != null) {
            channel.close();
        }
        mail.stop();
    }

    @Test
    void oneMessageToEveryRecipientOverTlsWithAuthInUtf8() throws Exception {
        channel.send(SmtpsServer.notification());
        assertTrue(mail.waitForIncomingEmail(30_000, 2));
        MimeMessage[] got = mail.getReceivedMessages();
        assertEquals(2, got.length, "one copy per recipient");
        MimeMessage m = got[0];
        assertEquals("[aegis-quartz] [CRITICAL] web-17: 磁盘检查", m.getSubject());
        assertTrue(m.getHeader("Subject")[0].startsWith("=?UTF-8?"), "RFC 2047 encoded: " + m.getHeader("Subject")[0]);
        assertEquals("<1b4e28ba-2fa1-11d2-883f-0016d3cca427@aegis-quartz>", m.getMessageID());
        assertEquals("1b4e28ba-2fa1-11d2-883f-0016d3cca427", m.getHeader("X-Aegis-Notification-Id")[0]);
        assertEquals("auto-generated", m.getHeader("Auto-Submitted")[0]);
        assertEquals("aegis@example.com", m.getFrom()[0].toString());
        assertEquals(2, m.getRecipients(Message.RecipientType.TO).length);
        String body = (String) m.getContent();
        assertTrue(body.contains("磁盘已满 disk full"), body);
        assertTrue(m.getContentType().toLowerCase().contains("utf-8"), m.getContentType());
    }

    @Test
    void aWrongPasswordIsADeliveryFailureThatDoesNotQuoteIt() throws Exception {
        channel.close();
        channel = channel("wrong-pw-123");
        DeliveryException e = assertThrows(DeliveryException.class, () -> channel.send(SmtpsServer.notification()));
        assertFalse(e.getMessage().contains("wrong-pw-123"), e.getMessage());
        assertTrue(e.getMessage().startsWith("SMTP 127.0.0.1:") && e.getMessage().contains("(tls)"), e.getMessage());
        assertTrue(e.getMessage().toLowerCase().contains("auth"), "the server refused the login: " + e.getMessage());
        assertEquals(0, mail.getReceivedMessages().length);
    }
}
