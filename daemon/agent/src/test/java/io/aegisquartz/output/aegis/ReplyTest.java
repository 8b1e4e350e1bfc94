package io.aegisquartz.output.aegis;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Response bodies as receivers, proxies and broken servers send them (docs/PROTOCOL.md). */
class ReplyTest {

    private static Reply parse(String body) {
        return Reply.parse(body.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void aStoredBatchGivesItsDuplicates() {
        Reply r = parse("{\"accepted\": 98, \"duplicates\": 2}");
        assertEquals(2, r.duplicates());
        assertNull(r.error());
        assertNull(r.rejected());
    }

    @Test
    void aRefusedBatchGivesTheReasonAndEachRejectedSampleByIndex() {
        Reply r = parse("""
                {"error": "2 invalid sample(s); nothing from this batch was stored",
                 "rejected": [{"id": "01a2", "index": 4, "reason": "status 'fine' is not one of ok, warning"},
                              {"index": 7, "extra": {"nested": [1, 2]}}],
                 "trace": {"id": [1, {"a": null}]}}
                """);
        assertEquals("2 invalid sample(s); nothing from this batch was stored", r.reason());
        assertEquals(List.of(new Reply.Rejection(4, "01a2", "status 'fine' is not one of ok, warning"), new Reply.Rejection(7, null, null)),
                r.rejected());
    }

    @Test
    void entriesWithoutAUsableIndexAreMarkedSoTheWorkerBisectsInstead() {
        Reply r = parse("{\"rejected\": [{\"index\": \"4\"}, 5, {\"index\": 1.5}, {\"index\": 99999999999}]}");
        assertEquals(List.of(-1, -1, -1, -1), r.rejected().stream().map(Reply.Rejection::index).toList());
        assertEquals("(no reason given)", r.reason());
    }

    @Test
    void aBodyThatIsNotJsonBecomesTheReasonShortenedToOneLine() {
        Reply r = parse("<html>\n<body>502 Bad Gateway</body>\n</html>\n");
        assertEquals("<html> <body>502 Bad Gateway</body> </html>", r.reason());
        assertEquals(0, r.duplicates());
        assertNull(r.rejected());

        String longBody = "x".repeat(500);
        assertEquals("x".repeat(200) + "...", parse(longBody).reason());
    }

    @Test
    void brokenOrTrailingJsonIsNotTrusted() {
        assertEquals("{\"duplicates\": 3", parse("{\"duplicates\": 3").reason());
        Reply twoObjects = parse("{\"duplicates\": 3} {\"duplicates\": 4}");
        assertEquals(0, twoObjects.duplicates(), "a body with a second object is not a receiver's reply");
        assertTrue(twoObjects.reason().startsWith("{\"duplicates\": 3}"), twoObjects.reason());
        assertEquals("[1, 2]", parse("[1, 2]").reason());
    }

    @Test
    void anEmptyBodyOrOddFieldTypesMeanNothingWasSaid() {
        assertEquals(Reply.EMPTY, Reply.parse(new byte[0]));
        Reply r = parse("{\"duplicates\": \"lots\", \"error\": null, \"rejected\": {\"index\": 1}}");
        assertEquals(0, r.duplicates());
        assertEquals("(no reason given)", r.reason());
        assertNull(r.rejected());
        assertEquals("429", parse("{\"error\": 429}").reason());
    }
}
