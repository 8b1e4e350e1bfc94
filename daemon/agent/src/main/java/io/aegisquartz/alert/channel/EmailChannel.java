package io.aegisquartz.alert.channel;

import jakarta.mail.Message;
import jakarta.mail.MessagingException;
import jakarta.mail.Session;
import jakarta.mail.Transport;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeMessage;

import javax.net.ssl.SSLContext;
import java.util.Date;
import java.util.List;
import java.util.Properties;

/**
 * Email over SMTP, with Eclipse Angus Mail (Jakarta Mail): STARTTLS (required, not opportunistic) or
 * implicit TLS, the server's certificate and name verified; AUTH when a username is set; one message to
 * every recipient. The subject is the title, the body the plain text, both UTF-8 (RFC 2047 encoded-words
 * for the subject, quoted-printable or base64 for the body as Angus picks). The Message-ID carries the
 * notification's id, so a repeat after a crash threads with the first.
 */
final class EmailChannel implements Channel {

    /** How the connection is protected. */
    enum Security { STARTTLS, TLS, NONE }

    private final String name;
    private final String host;
    private final int port;
    private final Security security;
    private final String username;
    private final String password;
    private final InternetAddress from;
    private final List<InternetAddress> to;
    private final String subjectPrefix;
    private final SSLContext tls;
    private final long timeoutMillis;
    private final MessageText text;

    EmailChannel(String name, String host, int port, Security security, String username, String password, InternetAddress from,
                 List<InternetAddress> to, String subjectPrefix, SSLContext tls, long timeoutMillis, MessageText text) {
        this.name = name;
        this.host = host;
        this.port = port;
        this.security = security;
        this.username = username;
        this.password = password;
        this.from = from;
        this.to = List.copyOf(to);
        this.subjectPrefix = subjectPrefix;
        this.tls = tls;
        this.timeoutMillis = timeoutMillis;
        this.text = text;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String type() {
        return "email";
    }

    private Session session() {
        String proto = security == Security.TLS ? "smtps" : "smtp";
        Properties p = new Properties();
        String k = "mail." + proto + ".";
        p.put(k + "host", host);
        p.put(k + "port", Integer.toString(port));
        p.put(k + "connectiontimeout", Long.toString(timeoutMillis));
        p.put(k + "timeout", Long.toString(timeoutMillis));
        p.put(k + "writetimeout", Long.toString(timeoutMillis));
        p.put(k + "auth", Boolean.toString(username != null));
        if (security != Security.NONE) {
            p.put(k + "ssl.checkserveridentity", "true");
            p.put(k + "ssl.socketFactory", tls.getSocketFactory());
        }
        if (security == Security.STARTTLS) {
            p.put("mail.smtp.starttls.enable", "true");
            p.put("mail.smtp.starttls.required", "true");
        }
        return Session.getInstance(p);
    }

    /** The message as it is sent (also what tests and 'notify test' look at). */
    MimeMessage message(Session session, Notification n) throws MessagingException {
        MimeMessage m = new MimeMessage(session) {
            @Override
            protected void updateMessageID() throws MessagingException {
                setHeader("Message-ID", "<" + n.id() + "@aegis-quartz>");
            }
        };
        m.setFrom(from);
        m.setRecipients(Message.RecipientType.TO, to.toArray(new InternetAddress[0]));
        m.setSubject((subjectPrefix.isEmpty() ? "" : subjectPrefix + " ") + text.title(n), "UTF-8");
        m.setText(text.plain(n) + "\nid " + n.id() + "\n", "UTF-8");
        m.setSentDate(new Date(n.createdMillis()));
        m.setHeader("X-Aegis-Notification-Id", n.id());
        m.setHeader("Auto-Submitted", "auto-generated");
        m.saveChanges();
        return m;
    }

    @Override
    public void send(Notification n) throws DeliveryException {
        Session session = session();
        String proto = security == Security.TLS ? "smtps" : "smtp";
        try (Transport t = session.getTransport(proto)) {
            MimeMessage m = message(session, n);
            t.connect(host, port, username, password);
            t.sendMessage(m, m.getAllRecipients());
        } catch (MessagingException e) {
            throw new DeliveryException("SMTP " + host + ":" + port + " (" + security.name().toLowerCase() + "): " + describe(e));
        }
    }

    /** The exception's chain in one line, without stack traces. */
    private static String describe(Throwable e) {
        StringBuilder sb = new StringBuilder();
        for (Throwable t = e; t != null && sb.length() < 400; t = t.getCause()) {
            if (sb.length() > 0) {
                sb.append(": ");
            }
            sb.append(t.getMessage() == null ? t.getClass().getSimpleName() : MessageText.clean(t.getMessage().strip()));
        }
        return sb.toString();
    }
}
