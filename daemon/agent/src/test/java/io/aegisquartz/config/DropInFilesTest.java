package io.aegisquartz.config;

import io.aegisquartz.testing.AgentHome;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Date;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** conf/aegis_quartz.conf.d/*.conf: which files are read, in which order, each on its own. */
class DropInFilesTest {

    @TempDir
    Path home;

    private Path dropIns;
    private AgentSettings settings;

    @BeforeEach
    void layout() throws IOException {
        AgentHome agentHome = new AgentHome(home, "");
        agentHome.userPlugin("check.sh", "#!/bin/sh\necho OK\n");
        agentHome.cron("aegis_quartz.conf.default", "[0 0 1 * * ?] user/check.sh default\n");
        dropIns = Files.createDirectories(agentHome.conf().resolve("aegis_quartz.conf.d"));
        settings = agentHome.settings();
    }

    private List<CronFile> parse() {
        return new CronFileParser(settings, new Date()).parseDropIns();
    }

    @Test
    void onlyDotConfFilesAreReadSortedByName() throws Exception {
        Files.writeString(dropIns.resolve("20-web.conf"), "[0 0 2 * * ?] user/check.sh web\n");
        Files.writeString(dropIns.resolve("10-db.conf"), "[0 0 3 * * ?] user/check.sh db\n");
        Files.writeString(dropIns.resolve("B.conf"), "[0 0 4 * * ?] user/check.sh upper\n");
        // Not read: editor and package-manager leftovers, hidden files, other suffixes, a bare ".conf".
        for (String ignored : List.of("10-db.conf~", ".10-db.conf.swp", "10-db.conf.rpmnew", "10-db.conf.rpmsave", "10-db.conf.bak",
                ".hidden.conf", "README", "notes.txt", ".conf")) {
            Files.writeString(dropIns.resolve(ignored), "this is not a cron line\n");
        }
        List<CronFile> files = parse();
        assertEquals(List.of("10-db.conf", "20-web.conf", "B.conf"), files.stream().map(f -> f.file().getFileName().toString()).toList());
        assertTrue(files.stream().allMatch(f -> f.problems().isEmpty() && f.source() == JobSource.DROPIN), files.toString());
        List<CronFile> all = new CronFileParser(settings, new Date()).parseAll();
        assertEquals(List.of(JobSource.DEFAULT, JobSource.USER, JobSource.DROPIN, JobSource.DROPIN, JobSource.DROPIN),
                all.stream().map(CronFile::source).toList(), "the default file, the user file, then the drop-ins");
    }

    @Test
    void noDirectoryMeansNoDropIns() throws Exception {
        Files.delete(dropIns);
        assertEquals(List.of(), parse());
    }

    @Test
    void aBrokenDropInIsReportedAndLeavesTheOthersAlone() throws Exception {
        Files.writeString(dropIns.resolve("a.conf"), "[0 0 25 * * ?] user/check.sh a\n");
        Files.writeString(dropIns.resolve("b.conf"), "[0 0 5 * * ?] user/check.sh b\n");
        List<CronFile> files = parse();
        assertEquals(1, files.get(0).problems().size());
        assertTrue(files.get(0).problems().get(0).oneLine().startsWith(dropIns.resolve("a.conf") + ":1:6: hours field '25'"),
                files.get(0).problems().toString());
        assertEquals(1, files.get(1).jobs().size());
        assertEquals(List.of(), files.get(1).problems());
    }

    @Test
    void aDropInThatIsADirectoryOrAGroupWritableFileIsRefusedAlone() throws Exception {
        Files.createDirectory(dropIns.resolve("dir.conf"));
        Path open = Files.writeString(dropIns.resolve("open.conf"), "[0 0 6 * * ?] user/check.sh open\n");
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rw-rw-r--"));
        Files.writeString(dropIns.resolve("ok.conf"), "[0 0 7 * * ?] user/check.sh ok\n");
        List<CronFile> files = parse();
        assertTrue(files.get(0).problems().get(0).message().startsWith("this is a directory"), files.get(0).problems().toString());
        assertFalse(files.get(0).readable());
        assertTrue(files.get(2).problems().get(0).message().contains("writable by its group"), files.get(2).problems().toString());
        assertEquals("chmod go-w " + open, files.get(2).problems().get(0).fix(), "StrictModes applies to drop-ins too");
        assertFalse(files.get(2).readable());
        assertEquals(1, files.get(1).jobs().size());
    }

    @Test
    void aFileWhereTheDirectoryShouldBeIsOneProblem() throws Exception {
        Files.delete(dropIns);
        Files.writeString(dropIns, "[0 0 8 * * ?] user/check.sh\n");
        List<CronFile> files = parse();
        assertEquals(1, files.size());
        assertTrue(files.get(0).problems().get(0).message().startsWith("this is a file; the drop-in job files go in a directory"),
                files.get(0).problems().toString());
    }
}
