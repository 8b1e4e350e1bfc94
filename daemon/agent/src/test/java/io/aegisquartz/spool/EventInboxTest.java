package io.aegisquartz.spool;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Status;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The agent's side of incoming/: read oldest first, set garbage aside, delete only when told. */
class EventInboxTest {

    @TempDir
    Path spool;

    private ListAppender<ILoggingEvent> logged;

    @BeforeEach
    void captureLog() {
        logged = new ListAppender<>();
        logged.start();
        ((Logger) LoggerFactory.getLogger("spool")).addAppender(logged);
    }

    @AfterEach
    void release() {
        ((Logger) LoggerFactory.getLogger("spool")).detachAppender(logged);
    }

    private Path incoming() {
        return spool.resolve(EventInbox.INCOMING);
    }

    private List<String> files() throws Exception {
        try (Stream<Path> s = Files.list(incoming())) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void writtenEventsComeBackOldestFirstAndIdentical() throws Exception {
        String content = "line 1\nline 2 \"quoted\" \\ tab\t ünïcødé 🚀 \u0001";
        Path late = EventInbox.write(spool, "deploy.done", content, "web:eu-1", 3_000);
        Path early = EventInbox.write(spool, "backup_failed", "", null, 1_000);
        Path middle = EventInbox.write(spool, "x", "m", "", 2_000); // an empty group is no group
        assertTrue(late.getFileName().toString().matches("0000000003000-[0-9a-f-]{36}\\.event\\.json"), late.toString());
        assertEquals(3, files().size(), "no temporary files left: " + files());

        EventInbox inbox = new EventInbox(spool);
        List<EventInbox.Event> all = inbox.pending(10);
        assertEquals(List.of(
                new EventInbox.Event(early, "backup_failed", "", null, 1_000, sha256(early)),
                new EventInbox.Event(middle, "x", "m", null, 2_000, sha256(middle)),
                new EventInbox.Event(late, "deploy.done", content, "web:eu-1", 3_000, sha256(late))), all);
        assertEquals(all.subList(0, 2), inbox.pending(2));
        assertEquals(all, inbox.pending(10), "pending() consumes nothing");
        assertEquals(List.of(), logged.list);
    }

    @Test
    void doneDeletesTheFilesAndOnlyThose() throws Exception {
        EventInbox.write(spool, "a", "1", null, 1_000);
        EventInbox.write(spool, "b", "2", null, 2_000);
        EventInbox inbox = new EventInbox(spool);
        List<EventInbox.Event> first = inbox.pending(1);
        assertEquals("a", first.get(0).name());
        inbox.done(first);
        assertFalse(Files.exists(first.get(0).file()));
        List<EventInbox.Event> rest = inbox.pending(10);
        assertEquals(List.of("b"), rest.stream().map(EventInbox.Event::name).toList());
        inbox.done(rest);
        inbox.done(rest); // already gone: nothing to do, no error
        assertEquals(List.of(), inbox.pending(10));
        assertEquals(List.of(), files());
    }

    @Test
    void aFileThatIsNotAnEventIsSetAsideWithOneLogLineNotDeleted() throws Exception {
        Files.createDirectories(incoming());
        byte[] garbage = "{\"name\": \"half\", \"cont".getBytes(StandardCharsets.UTF_8);
        Path bad = incoming().resolve("0000000000500-garbage.event.json");
        Files.write(bad, garbage);
        Path good = EventInbox.write(spool, "ok", "fine", null, 1_000);
        Path wrongName = incoming().resolve("0000000000600-n.event.json");
        Files.writeString(wrongName, "{\"name\": \"has space\", \"content\": \"c\", \"time\": 1}");
        Files.writeString(incoming().resolve("0000000000600-n.event.json.bad"), "an earlier one with the same name");
        Files.writeString(incoming().resolve(".in-progress.tmp"), "{");

        EventInbox inbox = new EventInbox(spool);
        List<EventInbox.Event> events = inbox.pending(10);
        assertEquals(List.of(good), events.stream().map(EventInbox.Event::file).toList());
        assertFalse(Files.exists(bad));
        assertArrayEquals(garbage, Files.readAllBytes(incoming().resolve("0000000000500-garbage.event.json.bad")));
        assertTrue(Files.exists(incoming().resolve("0000000000600-n.event.json.bad.1")), files().toString());
        assertEquals("an earlier one with the same name", Files.readString(incoming().resolve("0000000000600-n.event.json.bad")));
        assertTrue(Files.exists(incoming().resolve(".in-progress.tmp")), "a file being written is left alone");

        assertEquals(2, logged.list.size(), logged.list.toString());
        String first = logged.list.get(0).getFormattedMessage();
        assertTrue(first.contains("0000000000500-garbage.event.json") && first.contains("not valid JSON")
                && first.contains("set aside as 0000000000500-garbage.event.json.bad"), first);
        assertTrue(logged.list.get(1).getFormattedMessage().contains("name may contain only"), logged.list.get(1).getFormattedMessage());

        inbox.done(events);
        assertEquals(List.of(), inbox.pending(10));
        assertEquals(4, files().size(), "set-aside files are never deleted: " + files());
        assertEquals(2, logged.list.size(), "each bad file is reported once");
    }

    @Test
    void everyMalformedFieldIsRejected() throws Exception {
        Files.createDirectories(incoming());
        String[] bad = {
                "[1, 2]",
                "{\"content\": \"c\", \"time\": 1}",
                "{\"name\": \"n\", \"time\": 1}",
                "{\"name\": \"n\", \"content\": \"c\"}",
                "{\"name\": \"n\", \"content\": \"c\", \"time\": \"2026-11-22T01:02:03Z\"}",
                "{\"name\": \"n\", \"content\": \"c\", \"time\": 1.5}",
                "{\"name\": \"n\", \"content\": \"c\", \"time\": -1}",
                "{\"name\": \"n\", \"content\": 7, \"time\": 1}",
                "{\"name\": \"n\", \"content\": \"c\", \"group\": [], \"time\": 1}",
                "{\"name\": \"n\", \"name\": \"m\", \"content\": \"c\", \"time\": 1}",
                "{\"name\": \"n\", \"content\": \"c\", \"time\": 1} {}",
                "{\"name\": \"" + "n".repeat(129) + "\", \"content\": \"c\", \"time\": 1}",
                "{\"name\": \"n\", \"content\": \"" + "c".repeat(4097) + "\", \"time\": 1}",
                "{\"name\": \"n\", \"content\": \"c\", \"group\": \"" + "g".repeat(129) + "\", \"time\": 1}",
                "",
        };
        for (int i = 0; i < bad.length; i++) {
            Files.writeString(incoming().resolve(String.format("%013d-bad.event.json", i)), bad[i]);
        }
        Files.writeString(incoming().resolve("0000000000099-good.event.json"),
                "{\"name\": \"n\", \"content\": \"" + "c".repeat(4096) + "\", \"group\": null, \"time\": 99, \"later\": {\"field\": 1}}");
        List<EventInbox.Event> events = new EventInbox(spool).pending(100);
        assertEquals(1, events.size(), events.toString());
        assertEquals(99, events.get(0).timeMillis());
        assertNull(events.get(0).group());
        assertEquals(bad.length, logged.list.size(), logged.list.toString());
        for (int i = 0; i < bad.length; i++) {
            assertTrue(Files.exists(incoming().resolve(String.format("%013d-bad.event.json.bad", i))), "file " + i + ": " + bad[i]);
        }
    }

    @Test
    void writeRefusesAnInvalidEventAndLeavesNothingBehind() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> EventInbox.write(spool, "", "c", null, 1));
        assertTrue(e.getMessage().contains("name must be 1 to 128 characters"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> EventInbox.write(spool, "n", "c", null, -5));
        assertFalse(Files.exists(incoming()));
    }

    /** The hex SHA-256 of a file's bytes, computed here with the JDK's own tools. */
    private static String sha256(Path file) throws Exception {
        return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    }

    /**
     * docs/SPOOL.md: a file delivered again (after a crash before done(), or one that cannot be
     * deleted) must carry the id of its first delivery, so that the receiver can drop the copy; two
     * different events, or one event on two hosts, must not share one.
     */
    @Test
    void anEventFileKeepsOneSampleIdAcrossReadsAndInboxes() throws Exception {
        Path file = EventInbox.write(spool, "deploy.done", "v42", "web", 1_795_309_323_000L);
        byte[] bytes = Files.readAllBytes(file);
        String host = "3d1219c7-c4c5-404a-aa1f-6d2a48adfda4";
        String id = EventInbox.sampleId(new EventInbox(spool).pending(1).get(0), host);
        assertTrue(id.matches("[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"), id);
        assertEquals(1_795_309_323_000L, Long.parseLong(id.replace("-", "").substring(0, 12), 16),
                "the first 48 bits are the event's time, as in every sample id");

        EventInbox later = new EventInbox(spool); // as after a restart
        later.done(later.pending(1));
        assertFalse(Files.exists(file));
        Files.write(file, bytes); // restored, as a crash before the deletion leaves it
        assertEquals(id, EventInbox.sampleId(new EventInbox(spool).pending(1).get(0), host), "the same file, the same id");

        assertFalse(id.equals(EventInbox.sampleId(new EventInbox(spool).pending(1).get(0), "another-host")),
                "the same file on another host is another event");
        Files.delete(file);
        Path twin = EventInbox.write(spool, "deploy.done", "v42", "web", 1_795_309_323_000L);
        assertFalse(id.equals(EventInbox.sampleId(new EventInbox(spool).pending(1).get(0), host)),
                "a second event with the same fields (another file) is another sample");
        Files.delete(twin);
        Files.write(file, new String(bytes, StandardCharsets.UTF_8).replace("v42", "v43").getBytes(StandardCharsets.UTF_8));
        assertFalse(id.equals(EventInbox.sampleId(new EventInbox(spool).pending(1).get(0), host)),
                "the same name with other content is another event");
    }

    @Test
    void noIncomingDirectoryMeansNoEvents() throws Exception {
        assertEquals(List.of(), new EventInbox(spool).pending(5));
        assertFalse(Files.exists(incoming()));
    }

    @Test
    void anEventBecomesAnOkSampleWithoutValues() {
        Measurement m = EventInbox.toMeasurement(new EventInbox.Event(Path.of("f"), "deploy", "v1.2 rolled out", "web", 1_234, "00"));
        assertEquals(new Measurement(1_234, "event", Status.OK, "v1.2 rolled out", Map.of(), Map.of(),
                Map.of("name", "deploy", "group", "web")), m);
        assertEquals(List.of("name", "group"), List.copyOf(m.tags().keySet()));
        Measurement bare = EventInbox.toMeasurement(new EventInbox.Event(Path.of("f"), "reboot", "", null, 5, "00"));
        assertEquals(Map.of("name", "reboot"), bare.tags());
        assertNull(bare.message(), "no content, no message (samples omit an empty message)");
        assertTrue(bare.values().isEmpty());
    }
}
