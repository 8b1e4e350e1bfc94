package io.aegisquartz.log;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LogTextTest {

    @Test
    void plainTextIsReturnedAsItIs() {
        String s = "disk / at 91% (warn 90%), path C:\\temp, ünïcødé and 😀";
        assertSame(s, LogText.escape(s));
    }

    @Test
    void lineBreaksAndTabsBecomeTheirEscapes() {
        assertEquals("a\\nb\\r\\nc\\td", LogText.escape("a\nb\r\nc\td"));
    }

    @Test
    void terminalControlsBecomeHexEscapes() {
        // ESC [ 2 J (clear screen), BEL, NUL, DEL and a C1 CSI: none may reach a terminal.
        assertEquals("\\x1B[2J\\x07\\x00\\x7F\\x9B31m", LogText.escape("\u001b[2J\u0007\u0000\u007f\u009b31m"));
    }

    @Test
    void invisibleUnicodeThatReordersOrBreaksLinesIsEscaped() {
        assertEquals("a\\u2028b\\u202Ec\\u2066d\\uFEFF", LogText.escape("a\u2028b\u202ec\u2066d\ufeff"));
    }

    @Test
    void unpairedSurrogatesAreEscapedAndPairsKept() {
        assertEquals("x\\uD800y\\uDC00z😀", LogText.escape("x\ud800y\udc00z😀"));
    }

    @Test
    void longTextIsCutWithItsOriginalLength() {
        String s = "x".repeat(5000);
        String e = LogText.escape(s);
        assertEquals("x".repeat(LogText.MAX) + "... (5000 chars)", e);
    }

    @Test
    void theCutNeverSplitsAnEscapeOrASurrogatePair() {
        assertEquals("ab... (4 chars)", LogText.escape("ab\u001bc", 5), "\\x1B (4 characters) does not fit after 'ab' in 5");
        assertEquals("abcd... (6 chars)", LogText.escape("abcd😀", 5), "a pair that does not fit is dropped whole");
        assertEquals("abc😀... (6 chars)", LogText.escape("abc😀x", 5));
    }

    @Test
    void nullIsShownAsNull() {
        assertEquals("null", LogText.escape(null));
    }

    @Test
    void theOutputIsOneLineOfPrintableCharacters() {
        StringBuilder all = new StringBuilder();
        for (char c = 0; c < 0x3000; c++) {
            all.append(c);
        }
        String e = LogText.escape(all.toString(), Integer.MAX_VALUE);
        for (int i = 0; i < e.length(); i++) {
            char c = e.charAt(i);
            assertTrue(c >= 0x20 && c != 0x7f && !(c >= 0x80 && c <= 0x9f) && c != '\u2028' && c != '\u2029',
                    "character " + (int) c + " at " + i);
        }
    }
}
