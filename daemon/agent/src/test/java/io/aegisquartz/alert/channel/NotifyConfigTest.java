package io.aegisquartz.alert.channel;

import io.aegisquartz.config.ConfigProblem;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.net.URI;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The channels file's checks: real files, every problem with file and line, no secret quoted. */
class NotifyConfigTest {

    @TempDir
    Path dir;

    private NotifyConfig load(String text, String mode) throws IOException {
        Path f = dir.resolve("aegis_notify.ini");
        Files.writeString(f, text);
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString(mode));
        return NotifyConfig.load(f);
    }

    private static List<String> problems(NotifyConfig c) {
        return c.problems().stream().map(ConfigProblem::oneLine).toList();
    }

    @Test
    void aGoodFileGivesEveryChannel() throws IOException {
        NotifyConfig c = load("[channel.ops]\ntype = wecom\nurl = https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc\nmax_per_hour = 5\n"
                + "[channel.mail]\ntype = email\nhost = smtp.example.com\nfrom = a@example.com\nto = b@example.com, c@example.com\n", "rw-------");
        assertEquals(List.of(), c.problems());
        assertEquals(List.of("ops", "mail"), List.copyOf(c.channels().keySet()));
        assertEquals(5, c.channels().get("ops").maxPerHour());
        assertEquals("ops (wecom, qyapi.weixin.qq.com)", c.channels().get("ops").describe(), "what a log line says: no key");
        assertEquals(List.of("pager"), c.unknown(List.of("ops", "pager")));
    }

    @Test
    void aCaFileThatHoldsNoCertificateStopsTheChannelBeingMadeThoughItsClientIsMadeOnlyAtItsFirstMessage() throws IOException {
        Path notPem = dir.resolve("ca.pem");
        Files.writeString(notPem, "not a certificate\n");
        IOException e = assertThrows(IOException.class, () -> new HttpPoster(URI.create("https://example.com/hook"), notPem, Duration.ofSeconds(5)));
        assertTrue(e.getMessage().contains(notPem.toString()), e.getMessage());
        new HttpPoster(URI.create("https://example.com/hook"), null, Duration.ofSeconds(5)).close(); // nothing to check, nothing made
    }

    @Test
    void aFileOthersCanReadIsRefusedWhole() throws IOException {
        NotifyConfig c = load("[channel.ops]\ntype = wecom\nurl = https://example.com/x\n", "rw-r--r--");
        assertTrue(c.channels().isEmpty());
        assertEquals(1, c.problems().size());
        assertTrue(problems(c).get(0).contains("aegis_notify.ini"), problems(c).toString());
    }

    @Test
    void problemsNameTheLineAndNeverQuoteASecret() throws IOException {
        NotifyConfig c = load("[channel.ops]\ntype = wecom\nurl = http://example.com/send?key=TOPSECRET1\n"
                + "[channel.x]\ntype = pager\n"
                + "[channel.mail]\ntype = email\nhost = smtp.example.com\nfrom = a@example.com\nto = b@example.com\nsecurity = none\n"
                + "username = u\n"
                + "[channel.sms]\ntype = exec\ncommand = send-sms\ncolour = red\n"
                + "[other]\n", "rw-------");
        List<String> p = problems(c);
        assertTrue(p.stream().anyMatch(s -> s.contains(":3:") && s.contains("url: must be https://")), p.toString());
        assertTrue(p.stream().anyMatch(s -> s.contains(":5:") && s.contains("type 'pager' is not one of")), p.toString());
        assertTrue(p.stream().anyMatch(s -> s.contains(":11:") && s.contains("security = none")), p.toString());
        assertTrue(p.stream().anyMatch(s -> s.contains("username and password go together")), p.toString());
        assertTrue(p.stream().anyMatch(s -> s.contains(":15:") && s.contains("command must start with an absolute path")), p.toString());
        assertTrue(p.stream().anyMatch(s -> s.contains(":16:") && s.contains("unknown key 'colour'")), p.toString());
        assertTrue(p.stream().anyMatch(s -> s.contains(":17:") && s.contains("is not [channel.NAME]")), p.toString());
        assertFalse(String.join("\n", p).contains("TOPSECRET1"), p.toString());
        assertTrue(c.channels().isEmpty(), "a channel with a problem is not used: " + c.channels().keySet());
    }

    /** Issue 18's rule for secrets, here too: a secret cut at what INI reads as a comment is refused with its line; quoted, it is taken whole. */
    @Test
    void aSecretWithBlankSemicolonOrHashIsRefusedWithItsLineOrTakenWholeWhenQuoted() throws IOException {
        NotifyConfig cut = load("[channel.mail]\ntype = email\nhost = smtp.example.com\nfrom = a@example.com\nto = b@example.com\n"
                + "username = u\npassword = pa55 ;word\n"
                + "[channel.ding]\ntype = dingtalk\nurl = https://oapi.dingtalk.com/robot/send?access_token=t\nsecret = SEC1 #x\n", "rw-------");
        List<String> p = problems(cut);
        assertTrue(p.stream().anyMatch(s -> s.contains(":7:") && s.contains("password has ';' or '#' after a blank")), p.toString());
        assertTrue(p.stream().anyMatch(s -> s.contains(":11:") && s.contains("secret has ';' or '#' after a blank")), p.toString());
        assertFalse(String.join("\n", p).contains("pa55") || String.join("\n", p).contains("SEC1"), p.toString());
        assertTrue(cut.channels().isEmpty(), cut.channels().keySet().toString());

        NotifyConfig whole = load("[channel.mail]\ntype = email\nhost = smtp.example.com\nfrom = a@example.com\nto = b@example.com\n"
                + "username = u\npassword = \"pa55 ;word\"   ; a comment after a quoted value is unambiguous\n"
                + "subject_prefix = [ops] ; not a secret: INI rules as everywhere\n", "rw-------");
        assertEquals(List.of(), whole.problems());
        assertEquals(List.of("mail"), List.copyOf(whole.channels().keySet()));
        assertEquals("pa55 ;word", whole.channels().get("mail").values().get("password"));
    }

    @Test
    void aMissingFileIsNoChannelAndNoProblem() {
        NotifyConfig c = NotifyConfig.load(dir.resolve("absent.ini"));
        assertTrue(c.channels().isEmpty());
        assertTrue(c.problems().isEmpty());
    }
}
