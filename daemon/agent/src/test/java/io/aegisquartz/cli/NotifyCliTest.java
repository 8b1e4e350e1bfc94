package io.aegisquartz.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.aegisquartz.testing.AgentHome;
import io.aegisquartz.testing.HookServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** 'notify test CHANNEL' against a real webhook on loopback, and check-config's checks of the channels. */
class NotifyCliTest {

    @TempDir
    Path dir;

    private HookServer hook;
    private AgentHome home;
    private InProcessCli cli;

    @BeforeEach
    void setUp() throws IOException {
        hook = new HookServer();
        home = new AgentHome(dir, "[agent]\nhostname = web-17\n");
        cli = new InProcessCli(dir);
        channels("[channel.hook]\ntype = webhook\nurl = " + hook.url("/hook?token=TOPSECRET") + "\n", "rw-------");
    }

    @AfterEach
    void tearDown() {
        hook.close();
    }

    private void channels(String text, String mode) throws IOException {
        Path f = home.conf().resolve("aegis_notify.ini");
        Files.writeString(f, text);
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString(mode));
    }

    @Test
    void aTestMessageGoesOutOnceAndTheExitCodeSaysItWasTaken() throws Exception {
        assertEquals(0, cli.run("notify", "test", "hook", "--message", "网关 check"), cli.err());
        assertEquals(1, hook.requests().size());
        JsonNode body = new ObjectMapper().readTree(hook.requests().get(0).body());
        assertEquals("test", body.get("events").get(0).get("kind").asText());
        assertTrue(body.get("events").get(0).get("message").asText().contains("on web-17 ('notify test'): 网关 check"), body.toString());
        assertTrue(cli.out().startsWith("sent test message " + body.get("id").asText() + " to hook (webhook, 127.0.0.1)"), cli.out());
    }

    @Test
    void aChannelThatRefusesIsExitOneWithTheReasonAndNoSecret() {
        hook.answer(r -> HookServer.DOWN);
        assertEquals(1, cli.run("notify", "test", "hook"));
        assertTrue(cli.err().contains("not delivered: webhook at http://127.0.0.1:") && cli.err().contains("503"), cli.err());
        assertFalse(cli.err().contains("TOPSECRET"), cli.err());
        assertEquals(1, hook.requests().size(), "one attempt, no retry");
    }

    @Test
    void anUnknownChannelOrABadCommandLineSaysSo() {
        assertEquals(1, cli.run("notify", "test", "pager"));
        assertTrue(cli.err().contains("no channel [channel.pager]") && cli.err().contains("channels: hook"), cli.err());
        assertEquals(2, cli.run("notify", "send", "hook"));
        assertEquals(0, cli.run("notify", "--help"));
        assertTrue(cli.out().contains("Usage: aegis-quartz notify test CHANNEL"), cli.out());
        assertEquals(0, hook.requests().size());
    }

    @Test
    void checkConfigNamesAJobThatNotifiesAChannelThatDoesNotExist() throws IOException {
        home.userPlugin("check.sh", "#!/bin/sh\necho ok\n");
        home.cron("aegis_quartz.conf.user", "[0 * * * * ?] name=web notify=hook,pager user/check.sh\n");
        assertEquals(CheckConfigCommand.SKIPPED, cli.run("check-config"), cli.out());
        assertTrue(cli.out().contains("aegis_quartz.conf.user:1:1: job web: notify=pager: no [channel.pager] in "), cli.out());
        assertTrue(cli.out().contains("channels: hook"), cli.out());

        home.cron("aegis_quartz.conf.user", "[0 * * * * ?] name=web notify=hook user/check.sh\n");
        assertEquals(0, cli.run("check-config"), cli.out());
    }

    @Test
    void checkConfigReportsAChannelsFileOthersCanRead() throws IOException {
        channels("[channel.hook]\ntype = webhook\nurl = " + hook.url("/hook?token=TOPSECRET") + "\n", "rw-r--r--");
        assertEquals(CheckConfigCommand.SKIPPED, cli.run("check-config"), cli.out());
        assertTrue(cli.out().contains("aegis_notify.ini"), cli.out());
        assertFalse(cli.out().contains("TOPSECRET"), cli.out());
        assertEquals(1, cli.run("notify", "test", "hook"));
    }
}
