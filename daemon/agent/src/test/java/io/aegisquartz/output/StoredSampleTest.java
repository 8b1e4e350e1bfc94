package io.aegisquartz.output;

import io.aegisquartz.sample.Status;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The outputs' reader of stored samples (docs/SAMPLES.md). */
class StoredSampleTest {

    private static StoredSample parse(String json) throws StoredSample.NotASample {
        return StoredSample.parse(json.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void readsEveryFieldTheAgentWrites() throws Exception {
        byte[] json = TestSamples.of("filesystem").value("used_bytes", 25_325_268_992.0, "B").value("used_pct", 1.4864480851868378, "%")
                .tag("mount", "/").tag("device", "/dev/sda1").status(Status.WARNING, "80% full").at(1_795_000_000_123L).json();
        StoredSample s = StoredSample.parse(json);
        assertEquals(1_795_000_000_123L, s.timeMillis());
        assertEquals(TestSamples.HOST_UUID, s.hostUuid());
        assertEquals("web1", s.hostname());
        assertEquals("default/sampler.groovy", s.job());
        assertEquals("filesystem", s.metric());
        assertEquals("warning", s.status());
        assertEquals("80% full", s.message());
        assertEquals(2, s.valueCount());
        assertEquals("used_bytes", s.valueName(0));
        assertEquals(25_325_268_992.0, s.value(0));
        assertEquals(1.4864480851868378, s.value(1));
        assertEquals("B", s.unit("used_bytes"));
        assertNull(s.unit("nope"));
        assertEquals(2, s.tagCount());
        assertEquals("mount", s.tagKey(0));
        assertEquals("/dev/sda1", s.tagValue(1));
        assertFalse(s.hasRunStatusPoint());
    }

    @Test
    void timesReadBackExactlyOverTheWholeRange() throws Exception {
        SplittableRandom r = new SplittableRandom(19);
        for (int i = 0; i < 5000; i++) {
            long t = r.nextLong(0, 253_402_300_799_999L);
            assertEquals(t, StoredSample.parse(TestSamples.of("m").at(t).json()).timeMillis(), "epoch ms " + t);
        }
        // Other ISO-8601 forms a hand-written line might carry still read.
        assertEquals(Instant.parse("2026-01-02T03:04:05Z").toEpochMilli(), StoredSample.epochMillis("2026-01-02T03:04:05Z"));
        assertThrows(StoredSample.NotASample.class, () -> StoredSample.epochMillis("2026-02-30T00:00:00.000Z"));
        assertThrows(StoredSample.NotASample.class, () -> StoredSample.epochMillis("yesterday"));
    }

    @Test
    void runStatusPointsAreForFailuresSkipsDropsAndEmptySamples() throws Exception {
        assertFalse(StoredSample.parse(TestSamples.of("m").value("v", 1).json()).hasRunStatusPoint());
        assertFalse(StoredSample.parse(TestSamples.of("m").value("v", 1).status(Status.CRITICAL, "bad").json()).hasRunStatusPoint());
        for (Status s : new Status[] {Status.ERROR, Status.TIMEOUT, Status.CPU_LIMIT, Status.KILLED, Status.SKIPPED, Status.DROPPED}) {
            assertTrue(StoredSample.parse(TestSamples.of("m").status(s, "why").json()).hasRunStatusPoint(), s.wire());
        }
        // A dropped sample has values (count, total ...) and still gets one.
        assertTrue(StoredSample.parse(TestSamples.of("spool").value("count", 3).status(Status.DROPPED, "x").json()).hasRunStatusPoint());
        // A plugin status without values (a filesystem statfs failed) too; and a status a later version adds.
        assertTrue(StoredSample.parse(TestSamples.of("m").status(Status.UNKNOWN, "statfs failed").json()).hasRunStatusPoint());
        assertTrue(parse(line("\"status\":\"mem_limit\",\"values\":{\"v\":1}")).hasRunStatusPoint());
    }

    private static String line(String extra) {
        return "{\"id\":\"x\",\"time\":\"2026-11-22T01:32:30.236Z\",\"host_uuid\":\"u\",\"hostname\":\"h\",\"job\":\"j\","
                + "\"plugin\":\"p\",\"metric\":\"m\",\"tags\":{}," + extra + "}";
    }

    @Test
    void unknownFieldsAreSkippedAsTheFormatRequires() throws Exception {
        StoredSample s = parse(line("\"status\":\"ok\",\"values\":{\"v\":2},\"future\":{\"a\":[1,{\"b\":null}]},\"more\":[\"x\"]"));
        assertEquals(2.0, s.value(0));
    }

    @Test
    void whatIsNotASampleIsRefusedWithTheReason() {
        assertEquals("not a JSON object", assertThrows(StoredSample.NotASample.class, () -> parse("[1]")).getMessage());
        assertTrue(assertThrows(StoredSample.NotASample.class, () -> parse("{\"id\":")).getMessage().startsWith("not valid JSON"));
        assertEquals("no 'status'", assertThrows(StoredSample.NotASample.class, () -> parse(line("\"values\":{}"))).getMessage());
        assertEquals("value 'v' is not a number", assertThrows(StoredSample.NotASample.class,
                () -> parse(line("\"status\":\"ok\",\"values\":{\"v\":\"1\"}"))).getMessage());
        assertEquals("'tags' entry 'k' is not a string", assertThrows(StoredSample.NotASample.class,
                () -> parse("{\"tags\":{\"k\":1}}")).getMessage());
        assertEquals("'metric' is not a string", assertThrows(StoredSample.NotASample.class,
                () -> parse("{\"metric\":{}}")).getMessage());
    }

    @Test
    void aHugeNumberIsInfinityNotAnError() throws Exception {
        // JSON has no NaN, but a number past double range reads as infinity: outputs must cope.
        StoredSample s = parse(line("\"status\":\"ok\",\"values\":{\"v\":1e400,\"w\":-1e400}"));
        assertEquals(Double.POSITIVE_INFINITY, s.value(0));
        assertEquals(Double.NEGATIVE_INFINITY, s.value(1));
    }

    @Test
    void textThatIsNotUnicodeIsFoundWithoutQuotingIt() throws Exception {
        assertNull(parse(line("\"status\":\"ok\",\"values\":{},\"tags\":{\"k\":\"\\ud83d\\ude00 ok\"}")).invalidUnicode());
        assertEquals("a tag", parse(line("\"status\":\"ok\",\"values\":{},\"tags\":{\"k\":\"half \\ud83d\"}")).invalidUnicode());
        // In a name, Jackson itself refuses it: the sample is refused as not JSON, which it is not quite.
        assertThrows(StoredSample.NotASample.class, () -> parse(line("\"status\":\"ok\",\"values\":{\"\\udc00\":1}")));
        assertEquals("its message", parse(line("\"status\":\"ok\",\"values\":{},\"message\":\"\\ud800\"")).invalidUnicode());
    }
}
