package io.aegisquartz.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The INI syntax alone, before any key is checked against the settings schema. */
class IniFileTest {

    @TempDir
    Path dir;

    private Path file() {
        return dir.resolve("aegis_config.ini");
    }

    private IniFile read(String text) throws Exception {
        Files.writeString(file(), text, StandardCharsets.UTF_8);
        return IniFile.read(file());
    }

    private static List<String> formatted(IniFile ini) {
        return ini.problems().stream().map(ConfigProblem::format).toList();
    }

    private static IniFile.Entry entry(IniFile ini, String section, String key) {
        IniFile.Entry e = ini.sections().get(section).get(key);
        assertEquals(section, e.section());
        assertEquals(key, e.key());
        return e;
    }

    private static void assertEntry(String value, int line, int valueColumn, IniFile.Entry e) {
        assertEquals(value, e.value(), "value of " + e.key());
        assertEquals(line, e.line(), "line of " + e.key());
        assertEquals(valueColumn, e.valueColumn(), "value column of " + e.key());
    }

    @Test
    void sectionsAndEntriesWithLinesAndValueColumns() throws Exception {
        IniFile ini = read("""
                ; header comment
                [agent]
                workers = 8
                hostname=web-1

                [limits]
                  timeout   =   5s
                """);
        assertEquals(List.of(), ini.problems());
        assertEquals(List.of("agent", "limits"), List.copyOf(ini.sections().keySet()));
        assertEquals(List.of("workers", "hostname"), List.copyOf(ini.sections().get("agent").keySet()));
        // "workers = " is 10 chars: the value starts at column 11.
        assertEntry("8", 3, 11, entry(ini, "agent", "workers"));
        // "hostname=" is 9 chars: column 10.
        assertEntry("web-1", 4, 10, entry(ini, "agent", "hostname"));
        // "  timeout   =   " is 16 chars: column 17.
        assertEntry("5s", 7, 17, entry(ini, "limits", "timeout"));
        assertEquals(2, ini.sectionLine("agent"));
        assertEquals(6, ini.sectionLine("limits"));
        assertEquals(0, ini.sectionLine("log"));
    }

    @Test
    void quotedValueKeepsHashSemicolonAndBlanks() throws Exception {
        IniFile ini = read("""
                [sink]
                file = "  a # b ; c  "   # trailing comment
                dir = "say \\"hi\\" \\\\ ok" ; comment
                """);
        assertEquals(List.of(), ini.problems());
        assertEquals("  a # b ; c  ", entry(ini, "sink", "file").value());
        // The value column is that of the opening quote: "file = " is 7 chars.
        assertEquals(8, entry(ini, "sink", "file").valueColumn());
        assertEquals("say \"hi\" \\ ok", entry(ini, "sink", "dir").value());
    }

    @Test
    void trailingCommentNeedsBlankBeforeIt() throws Exception {
        IniFile ini = read("""
                [agent]
                hostname = a#b;c   # comment
                workers = 4 ; comment
                """);
        assertEquals(List.of(), ini.problems());
        assertEquals("a#b;c", entry(ini, "agent", "hostname").value());
        assertEquals("4", entry(ini, "agent", "workers").value());
    }

    @Test
    void emptyValueFollowedByTrailingCommentIsEmpty() throws Exception {
        // The shipped aegis_config.ini has "; hostname =            ; empty: the kernel's host name ...";
        // removing the leading "; " must give an empty hostname, not the comment text.
        IniFile ini = read("""
                [agent]
                hostname =            ; empty: the kernel's host name, read at each run
                [upload]
                endpoint =   # must stay empty
                """);
        assertEquals(List.of(), ini.problems());
        assertEquals("", entry(ini, "agent", "hostname").value());
        assertEquals("", entry(ini, "upload", "endpoint").value());
    }

    @Test
    void emptyValue() throws Exception {
        IniFile ini = read("[agent]\nhostname =\nworkers=\n");
        assertEquals(List.of(), ini.problems());
        assertEquals("", entry(ini, "agent", "hostname").value());
        assertEquals("", entry(ini, "agent", "workers").value());
    }

    @Test
    void byteOrderMarkIsSkippedAndDoesNotShiftColumns() throws Exception {
        IniFile ini = read("\uFEFF[agent]\nworkers = 2\n");
        assertEquals(List.of(), ini.problems());
        assertEntry("2", 2, 11, entry(ini, "agent", "workers"));
        assertEquals(1, ini.sectionLine("agent"));
    }

    @Test
    void crlfLineEndingsLeaveNoCarriageReturnInValues() throws Exception {
        IniFile ini = read("[agent]\r\nhostname = web-1\r\nworkers = \"2\"\r\n\r\n[log]\r\nlevel = debug\r\n");
        assertEquals(List.of(), ini.problems());
        assertEntry("web-1", 2, 12, entry(ini, "agent", "hostname"));
        assertEquals("2", entry(ini, "agent", "workers").value());
        assertEntry("debug", 6, 9, entry(ini, "log", "level"));
    }

    @Test
    void duplicateKey() throws Exception {
        IniFile ini = read("""
                [log]
                level = debug
                # another
                level = info
                """);
        assertEquals(List.of(file() + ":4:1: key 'level' in [log] is already set on line 2\n    fix: keep one of the two lines"),
                formatted(ini));
        // The first one stays.
        assertEquals("debug", entry(ini, "log", "level").value());
    }

    @Test
    void duplicateSectionIsReportedOnceAndItsKeysAreNotOrphaned() throws Exception {
        IniFile ini = read("""
                [agent]
                workers = 2
                [log]
                level = debug
                [agent]
                hostname = web-1
                """);
        // Only the duplicate header is wrong; 'hostname' is under a section, so it must not be reported as
        // "appears before any [section]".
        assertEquals(List.of(file() + ":5:1: section [agent] already started on line 1\n"
                + "    fix: merge the two [agent] sections into one"), formatted(ini));
        assertEquals(1, ini.sectionLine("agent"));
    }

    @Test
    void keysAfterABrokenSectionHeaderAreNotReportedAsBeforeAnySection() throws Exception {
        IniFile ini = read("""
                [agent]
                workers = 2
                [log
                level = debug
                max_files = 3
                [sink]
                max_files = 4
                """);
        // The broken header is the one problem; its keys are skipped, not blamed for a missing section.
        assertEquals(List.of(file() + ":3:1: section header is missing its closing ']'\n    fix: write it as [name]"),
                formatted(ini));
        assertEquals(List.of("agent", "sink"), List.copyOf(ini.sections().keySet()));
        assertEntry("4", 7, 13, entry(ini, "sink", "max_files"));
    }

    @Test
    void keyBeforeAnySection() throws Exception {
        IniFile ini = read("""
                # settings
                  workers = 2
                [agent]
                hostname = x
                """);
        // Two leading blanks: the key starts at column 3.
        assertEquals(List.of(file() + ":2:3: key 'workers' appears before any [section]\n"
                + "    fix: move it under the section it belongs to, e.g. [agent]"), formatted(ini));
        assertEquals(List.of("hostname"), List.copyOf(ini.sections().get("agent").keySet()));
        assertEntry("x", 4, 12, entry(ini, "agent", "hostname"));
    }

    @Test
    void lineWithoutEquals() throws Exception {
        IniFile ini = read("[agent]\nworkers 4\n");
        assertEquals(List.of(file() + ":2:1: expected 'key = value' or '[section]', found 'workers 4'\n"
                + "    fix: add '= value', or comment the line out with '#'"), formatted(ini));
    }

    @Test
    void missingKeyBeforeEquals() throws Exception {
        IniFile ini = read("[agent]\n = 4\n");
        // The '=' itself is the first non-blank, at column 2.
        assertEquals(List.of(file() + ":2:2: missing key before '='\n    fix: write 'key = value'"), formatted(ini));
    }

    @Test
    void keyWithInvalidCharacters() throws Exception {
        IniFile ini = read("[agent]\nwork ers = 4\n");
        assertEquals(List.of(file() + ":2:1: key 'work ers' has characters other than letters, digits, '_', '.' and '-'\n"
                + "    fix: check the spelling against the reference in README.md"), formatted(ini));
    }

    @Test
    void sectionHeaderWithoutClosingBracket() throws Exception {
        IniFile ini = read("[agent\n");
        assertEquals(List.of(file() + ":1:1: section header is missing its closing ']'\n    fix: write it as [name]"),
                formatted(ini));
    }

    @Test
    void emptySectionName() throws Exception {
        IniFile ini = read("[ ]\n");
        // Column of the name, just after '['.
        assertEquals(List.of(file() + ":1:2: section name '' is empty or has invalid characters\n"
                + "    fix: use one of the sections listed in README.md, e.g. [agent]"), formatted(ini));
    }

    @Test
    void textAfterSectionHeaderPointsAtTheText() throws Exception {
        IniFile ini = read("[agent] workers = 4\n");
        // "[agent]" is columns 1-7, a blank at 8: the unexpected text starts at column 9.
        assertEquals(List.of(file() + ":1:9: unexpected text after section header: 'workers = 4'\n"
                + "    fix: put the header on a line of its own"), formatted(ini));
    }

    @Test
    void commentAfterSectionHeaderIsFine() throws Exception {
        IniFile ini = read("[agent]   # the agent\n[log] ; logging\n");
        assertEquals(List.of(), ini.problems());
        assertEquals(List.of("agent", "log"), List.copyOf(ini.sections().keySet()));
    }

    @Test
    void unclosedQuotedValue() throws Exception {
        IniFile ini = read("[agent]\nhostname = \"web-1\n");
        // "hostname = " is 11 chars: the quote is at column 12.
        assertEquals(List.of(file() + ":2:12: quoted value is missing its closing '\"'\n    fix: close the quote"),
                formatted(ini));
        assertEquals(Map.of(), ini.sections().get("agent"));
    }

    @Test
    void textAfterQuotedValuePointsAtTheText() throws Exception {
        IniFile ini = read("[agent]\nhostname = \"web\" 1\n");
        // "hostname = " 11 chars, '"web"' columns 12-16, a blank at 17: the stray '1' is at column 18.
        assertEquals(List.of(file() + ":2:18: unexpected text after the quoted value: '1'\n"
                + "    fix: put the whole value inside the quotes"), formatted(ini));
    }

    @Test
    void parsingContinuesAfterEachProblem() throws Exception {
        IniFile ini = read("""
                stray = 1
                [agent]
                workers 4
                hostname = "x
                [log
                [sink]
                max_files = 3
                max_files = 4
                file = ok
                """);
        assertEquals(List.of(1, 3, 4, 5, 8), ini.problems().stream().map(ConfigProblem::line).toList());
        assertEquals("3", entry(ini, "sink", "max_files").value());
        assertEquals("ok", entry(ini, "sink", "file").value());
    }

    @Test
    void missingFileIsAProblemOfTheWholeFile() {
        IniFile ini = IniFile.read(file());
        assertEquals(List.of(file() + ": file not found\n"
                + "    fix: create it, or start with --conf pointing at the config directory"), formatted(ini));
        assertEquals(0, ini.problems().get(0).line());
        assertEquals(Map.of(), ini.sections());
    }

    @Test
    void nonUtf8FileIsAProblem() throws Exception {
        Files.write(file(), "[agent]\nhostname = caf\u00e9\n".getBytes(StandardCharsets.ISO_8859_1));
        IniFile ini = IniFile.read(file());
        assertEquals(List.of(file() + ": file is not valid UTF-8\n    fix: save it as UTF-8"), formatted(ini));
    }

    @Test
    void hugeFileIsRefused() throws Exception {
        Files.write(file(), new byte[(int) IniFile.MAX_FILE_BYTES + 1]);
        IniFile ini = IniFile.read(file());
        assertEquals(List.of(file() + ": file is larger than 1 MiB; this is not an aegis_config.ini\n"
                + "    fix: point --conf at the directory holding the real aegis_config.ini"), formatted(ini));
    }

    @Test
    void oneLineFormOfAProblem() {
        ConfigProblem p = new ConfigProblem(Path.of("/etc/a.ini"), 3, 7, "bad", "fix it");
        assertEquals("/etc/a.ini:3:7: bad (fix: fix it)", p.oneLine());
        assertEquals("/etc/a.ini:3: bad", new ConfigProblem(Path.of("/etc/a.ini"), 3, 0, "bad", null).format());
        assertEquals("/etc/a.ini: bad", new ConfigProblem(Path.of("/etc/a.ini"), 0, 5, "bad", null).oneLine());
    }

    @Test
    void sectionNamesMayHoldDotsAndDashesAsOutputSectionsDo() {
        IniFile ini = IniFile.parse(java.nio.file.Path.of("x.ini"), "[output.main]\ntype = file\n[output.b-2]\ntype = aegis\n");
        assertEquals(java.util.List.of(), ini.problems());
        assertEquals(java.util.List.of("output.main", "output.b-2"), java.util.List.copyOf(ini.sections().keySet()));
        assertEquals(3, ini.sectionLine("output.b-2"));
        assertEquals("aegis", ini.sections().get("output.b-2").get("type").value());
    }
}
