package io.aegisquartz.schedule;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Plugin text on one log line: nothing a plugin prints can forge a line or reach the terminal raw. */
class PluginTextTest {

    @Test
    void controlCharactersAreEscapedAndTheTextStaysOnOneLine() {
        assertEquals("disk 91%\\n2026-01-01 00:00:00 INFO  agent   forged", PluginText.escape("disk 91%\n2026-01-01 00:00:00 INFO  agent   forged"));
        assertEquals("a\\r\\tb\\x1b[31mred\\x07\\x00\\x7f\\x9b", PluginText.escape("a\r\tb\u001b[31mred\u0007\u0000\u007f\u009b"));
        assertEquals("back\\\\slash \\\\n is not a newline", PluginText.escape("back\\slash \\n is not a newline"));
        assertEquals("\\u202eevil\\u2028", PluginText.escape("\u202eevil\u2028"));
        assertEquals("lone \\ud800 half, whole \ud83d\ude00 pair, ünïcode", PluginText.escape("lone \ud800 half, whole \ud83d\ude00 pair, ünïcode"));
        assertNull(PluginText.escape(null));
    }

    @Test
    void longTextIsCutAndSaysHowMuchWasLeftOut() {
        String s = PluginText.escape("x".repeat(1_000_000));
        assertEquals("x".repeat(PluginText.MAX_CHARS) + " ...(" + (1_000_000 - PluginText.MAX_CHARS) + " more)", s);
        String escapes = PluginText.escape("\n".repeat(500));
        assertTrue(escapes.length() < PluginText.MAX_CHARS + 20, escapes);
        assertTrue(escapes.endsWith(" ...(" + (500 - PluginText.MAX_CHARS / 2) + " more)"), escapes);
        assertFalse(escapes.contains("\n"));
        assertEquals("y".repeat(PluginText.MAX_CHARS), PluginText.escape("y".repeat(PluginText.MAX_CHARS)), "exactly the cap: nothing cut");
    }
}
