package io.aegisquartz.schedule;

import io.aegisquartz.config.AgentSettings;
import io.aegisquartz.config.ConfigProblem;
import io.aegisquartz.config.CronFileParser;
import io.aegisquartz.config.JobSpec;
import io.aegisquartz.testing.AgentHome;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What a reload does with the default file, the user file and the drop-in files: each on its own. */
class ReloadPlanTest {

    @TempDir
    Path home;

    private Path conf;
    private Path dropIns;
    private AgentSettings settings;

    @BeforeEach
    void layout() {
        AgentHome agentHome = new AgentHome(home, "");
        agentHome.userPlugin("check.sh", "#!/bin/sh\necho OK\n");
        conf = agentHome.conf();
        agentHome.cron("aegis_quartz.conf.default", "[0 0 1 * * ?] name=d user/check.sh\n");
        agentHome.cron("aegis_quartz.conf.user", "[0 0 2 * * ?] name=u user/check.sh\n");
        dropIns = conf.resolve("aegis_quartz.conf.d");
        try {
            Files.createDirectories(dropIns);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        settings = agentHome.settings();
    }

    private ReloadPlan plan(Map<String, JobSpec> current) {
        return ReloadPlan.compute(current, new CronFileParser(settings, new Date()).parseAll());
    }

    @Test
    void aNameUsedInTwoFilesIsAnErrorNamingBothPlacesAndTheFirstKeepsIt() throws Exception {
        Files.writeString(dropIns.resolve("10-a.conf"), "[0 0 3 * * ?] name=x user/check.sh a\n[0 0 4 * * ?] name=u user/check.sh\n");
        Files.writeString(dropIns.resolve("20-b.conf"), "# b\n[0 0 5 * * ?] name=x user/check.sh b\n[0 0 6 * * ?] name=y user/check.sh\n");
        ReloadPlan p = plan(Map.of());
        assertEquals(List.of("d", "u", "x", "y"), List.copyOf(p.next().keySet()));
        assertEquals(dropIns.resolve("10-a.conf"), p.next().get("x").file());
        assertEquals(List.of(dropIns.resolve("10-a.conf") + ":2:1: job 'u' is already defined in " + conf.resolve("aegis_quartz.conf.user")
                        + ":1\n    fix: give one of the two lines a different name=..., or remove one of them",
                dropIns.resolve("20-b.conf") + ":2:1: job 'x' is already defined in " + dropIns.resolve("10-a.conf")
                        + ":1\n    fix: give one of the two lines a different name=..., or remove one of them"),
                p.problems().stream().map(ConfigProblem::format).toList());
    }

    @Test
    void oneBrokenOrUnreadableDropInNeverTouchesAnotherFilesJobs() throws Exception {
        Files.writeString(dropIns.resolve("a.conf"), "[0 0 3 * * ?] name=a user/check.sh\n");
        Files.writeString(dropIns.resolve("b.conf"), "[0 0 4 * * ?] name=b user/check.sh\n");
        Map<String, JobSpec> running = new LinkedHashMap<>(plan(Map.of()).next());
        assertEquals(List.of("d", "u", "a", "b"), List.copyOf(running.keySet()));

        // a.conf now unreadable (group-writable) and b.conf with a line that cannot be identified.
        Files.setPosixFilePermissions(dropIns.resolve("a.conf"), PosixFilePermissions.fromString("rw-rw-r--"));
        Files.writeString(dropIns.resolve("b.conf"), "[0 0 4 * * ? name=b user/check.sh\n");
        ReloadPlan p = plan(running);
        assertEquals(running.keySet(), p.next().keySet(), "every job kept: " + p.kept());
        assertEquals(List.of(), p.removed());
        assertEquals(2, p.problems().size());

        // Deleting a drop-in removes its jobs, and only its jobs.
        Files.delete(dropIns.resolve("a.conf"));
        Files.writeString(dropIns.resolve("b.conf"), "[0 0 4 * * ?] name=b user/check.sh\n");
        p = plan(running);
        assertEquals(List.of("a"), p.removed().stream().map(JobSpec::key).toList());
        assertEquals(List.of("d", "u", "b"), List.copyOf(p.next().keySet()));
    }

    @Test
    void aDropInDirectoryThatCannotBeListedKeepsAllItsJobs() throws Exception {
        Files.writeString(dropIns.resolve("a.conf"), "[0 0 3 * * ?] name=a user/check.sh\n");
        Map<String, JobSpec> running = new LinkedHashMap<>(plan(Map.of()).next());
        // The directory replaced by a file: its files cannot be known, so its jobs stay as they were.
        Files.delete(dropIns.resolve("a.conf"));
        Files.delete(dropIns);
        Files.writeString(dropIns, "");
        ReloadPlan p = plan(running);
        assertEquals(List.of("d", "u", "a"), List.copyOf(p.next().keySet()));
        assertTrue(p.kept().get(0).startsWith("keeping all 1 job(s) from " + dropIns), p.kept().toString());
    }

    @Test
    void aJobMovedToAnotherFileIsRescheduledAndSaysWhere() throws Exception {
        Files.writeString(dropIns.resolve("a.conf"), "[0 0 3 * * ?] name=a user/check.sh\n");
        Map<String, JobSpec> running = new LinkedHashMap<>(plan(Map.of()).next());
        Files.delete(dropIns.resolve("a.conf"));
        Files.writeString(dropIns.resolve("b.conf"), "[0 0 3 * * ?] name=a user/check.sh\n");
        ReloadPlan p = plan(running);
        assertEquals(1, p.changed().size());
        assertEquals("moved from " + dropIns.resolve("a.conf") + " to " + dropIns.resolve("b.conf"),
                ReloadPlan.describeChange(p.changed().get(0)[0], p.changed().get(0)[1]));
    }
}
