package io.aegisquartz.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.aegisquartz.spool.EventInbox;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** 'aegis-quartz event': one durable file in incoming/ that the agent's inbox reads back as it was given. */
class EventCommandTest {

    /** 2026-11-22T01:02:03Z */
    private static final long T = 1_795_309_323_000L;

    @TempDir
    Path home;

    private InProcessCli cli;

    @BeforeEach
    void emptyHome() throws Exception {
        Files.createDirectories(home.resolve("conf"));
        Files.writeString(home.resolve("conf/aegis_config.ini"), "");
    }

    private int cli(String... args) {
        if (cli == null) {
            cli = new InProcessCli(home);
        }
        return cli.run(args);
    }

    private Path incoming() {
        return home.resolve("spool").resolve(EventInbox.INCOMING);
    }

    private List<String> files() throws Exception {
        if (!Files.exists(incoming())) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(incoming())) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void writesOneFileThatTheInboxReadsBackIdentically() throws Exception {
        String content = "backup of /srv failed:\n  \"rsync\" exit 23 — ünïcødé 🚀\ttab \\ backslash";
        assertEquals(0, cli("event", "--name", "backup.failed:nightly-1", "--content", content, "--group", "storage servers",
                "--time", "2026-11-22T01:02:03Z"), cli.err());
        List<String> names = files();
        assertEquals(1, names.size(), "exactly one file, no temporary left: " + names);
        assertTrue(names.get(0).matches(T + "-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\\.event\\.json"), names.get(0));
        Path file = incoming().resolve(names.get(0));
        assertEquals("event written to " + file + "\n", cli.out());

        JsonNode j = new ObjectMapper().readTree(file.toFile());
        assertEquals(List.of("name", "content", "group", "time"), List.copyOf(iterable(j.fieldNames())));
        assertEquals(T, j.get("time").longValue());

        List<EventInbox.Event> events = new EventInbox(home.resolve("spool")).pending(10);
        assertEquals(List.of(new EventInbox.Event(file, "backup.failed:nightly-1", content, "storage servers", T,
                java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file))))), events);
    }

    private static <T> List<T> iterable(java.util.Iterator<T> it) {
        List<T> out = new java.util.ArrayList<>();
        it.forEachRemaining(out::add);
        return out;
    }

    @Test
    void timeMayBeEpochMillisAnOffsetTimeOrNow() throws Exception {
        Path dir = home.resolve("elsewhere");
        assertEquals(0, cli("event", "--name", "a", "--content", "", "--time", Long.toString(T + 1), "--dir", dir.toString()));
        assertEquals(0, cli("event", "--name", "b", "--content", "x", "--time", "2026-11-22T03:02:03.5+02:00", "--dir", dir.toString()));
        long before = System.currentTimeMillis();
        assertEquals(0, cli("event", "--name", "c", "--content", "x", "--dir", dir.toString()));
        long after = System.currentTimeMillis();
        assertEquals(List.of(), files(), "--dir overrides [spool] dir");

        List<EventInbox.Event> events = new EventInbox(dir).pending(10);
        assertEquals(List.of("a", "b", "c"), events.stream().map(EventInbox.Event::name).toList());
        assertEquals(T + 1, events.get(0).timeMillis());
        assertEquals(T + 500, events.get(1).timeMillis());
        long now = events.get(2).timeMillis();
        assertTrue(now >= before && now <= after, before + " <= " + now + " <= " + after);
        assertEquals(null, events.get(0).group());
    }

    @Test
    void invalidEventsExitTwoWithTheReasonAndWriteNothing() throws Exception {
        assertUsage("name may contain only letters A-Z a-z, digits and _ . : - (character 4 is ' ')",
                "--name", "bad name", "--content", "c");
        assertUsage("name must be 1 to 128 characters, not 129", "--name", "n".repeat(129), "--content", "c");
        assertUsage("name must be 1 to 128 characters", "--name", "", "--content", "c");
        assertUsage("content must be at most 4096 characters, not 4097", "--name", "n", "--content", "c".repeat(4097));
        assertUsage("group must be at most 128 characters, not 129", "--name", "n", "--content", "c", "--group", "g".repeat(129));
        assertUsage("--time 'yesterday' is neither an ISO-8601 time with a zone", "--name", "n", "--content", "c", "--time", "yesterday");
        assertUsage("--time '2026-11-22T01:02:03' has no zone: add Z for UTC", "--name", "n", "--content", "c",
                "--time", "2026-11-22T01:02:03");
        assertUsage("time must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z", "--name", "n", "--content", "c",
                "--time", "-1");
        assertUsage("epoch milliseconds out of range", "--name", "n", "--content", "c", "--time", "99999999999999999999");
        assertUsage("event needs --name NAME", "--content", "c");
        assertUsage("event needs --content TEXT", "--name", "n");
        assertUsage("event takes no arguments besides its options", "--name", "n", "--content", "disk", "replaced");
        assertFalse(Files.exists(home.resolve("spool")), "nothing created for an invalid event");

        // The longest valid values pass.
        assertEquals(0, cli("event", "--name", "n".repeat(128), "--content", "🚀".repeat(4096), "--group", "g".repeat(128)),
                cli.err());
        assertEquals(1, new EventInbox(home.resolve("spool")).pending(10).size());
    }

    private void assertUsage(String expected, String... args) {
        String[] argv = new String[args.length + 1];
        argv[0] = "event";
        System.arraycopy(args, 0, argv, 1, args.length);
        assertEquals(2, cli(argv), String.join(" ", args));
        String e = cli.err();
        assertTrue(e.contains(expected), e);
        assertEquals("", cli.out());
    }

    @Test
    void statCountsTheWaitingEvents() throws Exception {
        assertEquals(0, cli("event", "--name", "a", "--content", "1"));
        assertEquals(0, cli("event", "--name", "b", "--content", "2"));
        assertEquals(0, cli("spool", "stat", "--json"));
        assertEquals(2, new ObjectMapper().readTree(cli.out()).get("incoming_events").intValue());
    }

    @Test
    void helpDescribesEveryOption() {
        assertEquals(0, cli("event", "--help"));
        String h = cli.out();
        for (String option : List.of("--name NAME", "--content TEXT", "--group GROUP", "--time TIME", "--dir DIR", "Exit codes")) {
            assertTrue(h.contains(option), option + " missing from:\n" + h);
        }
    }
}
