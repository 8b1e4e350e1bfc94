package io.aegisquartz.plugin.exec;

import io.aegisquartz.plugin.exec.Perfdata.Item;
import io.aegisquartz.plugin.exec.Perfdata.Parsed;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Perfdata parsing against the cases of the Nagios Plugin Development Guidelines, section "Performance
 * data": {@code 'label'=value[UOM];[warn];[crit];[min];[max]}, space separated.
 */
class PerfdataTest {

    @Test
    void multipleItemsSeparatedByBlanksAreParsedInOrder() {
        Parsed p = Perfdata.parse("time=0.002s;1;2;0;10 size=1234B;;;0 procs=72");

        assertEquals(List.of(), p.problems());
        assertEquals(List.of(
                new Item("time", 0.002, "s", "1", "2", 0.0, 10.0),
                new Item("size", 1234.0, "B", "", "", 0.0, null),
                new Item("procs", 72.0, "", "", "", null, null)), p.items());
    }

    @Test
    void extraBlanksTabsAndTrailingNewlineBetweenItemsAreIgnored() {
        Parsed p = Perfdata.parse("   a=1 \t  b=2\t\r\n");

        assertEquals(List.of(), p.problems());
        assertEquals(List.of("a", "b"), labels(p));
        assertEquals(2.0, p.items().get(1).value());
    }

    @Test
    void emptyOrBlankPerfdataGivesNoItemsAndNoProblems() {
        assertEquals(new Parsed(List.of(), List.of()), Perfdata.parse(""));
        assertEquals(new Parsed(List.of(), List.of()), Perfdata.parse("   \t "));
    }

    @Test
    void quotedLabelMayHoldBlanks() {
        Parsed p = Perfdata.parse("'my free space'=42% 'C:\\ Label'=1");

        assertEquals(List.of(), p.problems());
        assertEquals(List.of("my free space", "C:\\ Label"), labels(p));
        assertEquals(42.0, p.items().get(0).value());
        assertEquals("%", p.items().get(0).unit());
    }

    @Test
    void doubledSingleQuoteInAQuotedLabelIsOneLiteralQuote() {
        Parsed p = Perfdata.parse("'it''s ok'=1 'x'''=2 ''''=3");

        assertEquals(List.of(), p.problems());
        assertEquals(List.of("it's ok", "x'", "'"), labels(p));
        assertEquals(List.of(1.0, 2.0, 3.0), p.items().stream().map(Item::value).toList());
    }

    @Test
    void equalsSignInsideAQuotedLabelIsPartOfTheLabel() {
        Parsed p = Perfdata.parse("'a=b'=3;4;5 'x = y'=6ms");

        assertEquals(List.of(), p.problems());
        assertEquals(new Item("a=b", 3.0, "", "4", "5", null, null), p.items().get(0));
        assertEquals(new Item("x = y", 6.0, "ms", "", "", null, null), p.items().get(1));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({
            "t=5s,        5,     s",
            "t=12ms,      12,    ms",
            "t=300us,     300,   us",
            "t=55%,       55,    %",
            "t=1024B,     1024,  B",
            "t=2.5KB,     2.5,   KB",
            "t=700MB,     700,   MB",
            "t=3GB,       3,     GB",
            "t=1.5TB,     1.5,   TB",
            "t=123456c,   123456, c",
            "t=17,        17,    ''",
    })
    void unitOfMeasureIsSplitFromTheValue(String text, double value, String unit) {
        Parsed p = Perfdata.parse(text);

        assertEquals(List.of(), p.problems());
        assertEquals(1, p.items().size());
        assertEquals(value, p.items().get(0).value());
        assertEquals(unit, p.items().get(0).unit());
    }

    @Test
    void valueUMeansUndeterminedAndYieldsNoValueButKeepsTheRest() {
        Parsed p = Perfdata.parse("rta=U;100;200;0; pl=0%;20;60;0;100");

        assertEquals(List.of(), p.problems());
        assertEquals(new Item("rta", null, "", "100", "200", 0.0, null), p.items().get(0));
        assertEquals(new Item("pl", 0.0, "%", "20", "60", 0.0, 100.0), p.items().get(1));
    }

    @Test
    void trailingFieldsMayBeMissingOrEmpty() {
        Parsed p = Perfdata.parse("a=1 b=2;3 c=3;4;5 d=4;5;6;0 e=5;6;7;0;10 f=6;;;; g=7;;;0; h=8;1;");

        assertEquals(List.of(), p.problems());
        assertEquals(List.of(
                new Item("a", 1.0, "", "", "", null, null),
                new Item("b", 2.0, "", "3", "", null, null),
                new Item("c", 3.0, "", "4", "5", null, null),
                new Item("d", 4.0, "", "5", "6", 0.0, null),
                new Item("e", 5.0, "", "6", "7", 0.0, 10.0),
                new Item("f", 6.0, "", "", "", null, null),
                new Item("g", 7.0, "", "", "", 0.0, null),
                new Item("h", 8.0, "", "1", "", null, null)), p.items());
    }

    @Test
    void minAndMaxWithTheValueUnitAreReadAsNumbers() {
        // check_disk prints "/=23240638464B;216442024755;243497277849;0;270552530944", older ones "0B".
        Parsed p = Perfdata.parse("/=2643MB;5948;5958;0MB;5968MB");

        assertEquals(new Item("/", 2643.0, "MB", "5948", "5958", 0.0, 5968.0), p.items().get(0));
    }

    @Test
    void thresholdRangesAreKeptAsPrintedAndAreNotPlainNumbers() {
        Parsed p = Perfdata.parse("a=15;10:20;~:5 b=1.5;@1:2;@~:3 c=30;10:;-5:-1");

        assertEquals(List.of(), p.problems());
        assertEquals(List.of("10:20", "@1:2", "10:"), p.items().stream().map(Item::warn).toList());
        assertEquals(List.of("~:5", "@~:3", "-5:-1"), p.items().stream().map(Item::crit).toList());
        for (Item i : p.items()) {
            assertNull(Item.plain(i.warn()), i.warn());
            assertNull(Item.plain(i.crit()), i.crit());
        }
    }

    @ParameterizedTest(name = "plain({0}) = {1}")
    @CsvSource({
            "5,       5",
            "-5,      -5",
            "0.25,    0.25",
            ".5,      0.5",
            "1e3,     1000",
            "2.5E-2,  0.025",
    })
    void plainNumberThresholdsAreNumbers(String threshold, double expected) {
        assertEquals(expected, Item.plain(threshold));
    }

    @ParameterizedTest(name = "plain(''{0}'') is null")
    @CsvSource({"''", "10:20", "~:5", "@1:2", "10:", "5s", "abc"})
    void nonPlainThresholdsAreNotNumbers(String threshold) {
        assertNull(Item.plain(threshold));
    }

    @Test
    void negativeAndExponentNumbersParse() {
        Parsed p = Perfdata.parse("temp=-12.5;-5;-1;-40;85 big=1.5e9B small=2E-3s neg=-3e+2 frac=-.75");

        assertEquals(List.of(), p.problems());
        assertAll(
                () -> assertEquals(new Item("temp", -12.5, "", "-5", "-1", -40.0, 85.0), p.items().get(0)),
                () -> assertEquals(new Item("big", 1.5e9, "B", "", "", null, null), p.items().get(1)),
                () -> assertEquals(new Item("small", 0.002, "s", "", "", null, null), p.items().get(2)),
                () -> assertEquals(new Item("neg", -300.0, "", "", "", null, null), p.items().get(3)),
                () -> assertEquals(new Item("frac", -0.75, "", "", "", null, null), p.items().get(4)));
        assertEquals(-5.0, Item.plain(p.items().get(0).warn()));
    }

    @Test
    void garbageItemsAreReportedAsProblemsWhileTheOthersAreKept() {
        Parsed p = Perfdata.parse("a=1 garbage b=2;3 c=abc =5 d=4 e=");

        assertEquals(List.of("a", "b", "d"), labels(p));
        assertEquals(List.of(1.0, 2.0, 4.0), p.items().stream().map(Item::value).toList());
        assertEquals(4, p.problems().size(), p.problems().toString());
        assertTrue(p.problems().get(0).contains("'garbage'") && p.problems().get(0).contains("no '='"), p.problems().get(0));
        assertTrue(p.problems().get(1).contains("'c=abc'"), p.problems().get(1));
        assertTrue(p.problems().get(2).contains("'=5'"), p.problems().get(2));
        assertTrue(p.problems().get(3).contains("'e='"), p.problems().get(3));
    }

    @Test
    void quotedLabelWithoutValueIsAProblem() {
        Parsed p = Perfdata.parse("'lonely label' ok=1");

        assertEquals(List.of("ok"), labels(p));
        assertEquals(1, p.problems().size());
        assertTrue(p.problems().get(0).contains("lonely label"), p.problems().get(0));
    }

    @Test
    void guidelinesExampleWithEveryFieldParses() {
        // From the guidelines: 'label'=value[UOM];[warn];[crit];[min];[max]
        Parsed p = Perfdata.parse("'/ used'=2643MB;5948;5958;0;5968 time=0.219544s;;;0.000000 'load avg'=0.06;5:10;@10:20;0;");

        assertEquals(List.of(), p.problems());
        assertEquals(List.of(
                new Item("/ used", 2643.0, "MB", "5948", "5958", 0.0, 5968.0),
                new Item("time", 0.219544, "s", "", "", 0.0, null),
                new Item("load avg", 0.06, "", "5:10", "@10:20", 0.0, null)), p.items());
    }

    private static List<String> labels(Parsed p) {
        return p.items().stream().map(Item::label).toList();
    }
}
