package io.aegisquartz.agent;

import io.aegisquartz.config.StrictModes;
import io.aegisquartz.testing.AgentHome;
import io.aegisquartz.testing.AgentProcesses;
import io.aegisquartz.testing.StartedProcesses;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What a real 'run' says when it cannot start, or starts refusing files: one clear line each. */
class StartProblemsIT {

    @TempDir
    Path dir;

    @RegisterExtension
    final StartedProcesses started = new StartedProcesses();

    private String runUntilExit(Path home, String... wrapper) throws Exception {
        Path out = dir.resolve("out-" + System.nanoTime());
        Process p = AgentProcesses.startWrapped(started, out, List.of(wrapper), "--home", home.toString(), "run");
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "exits by itself");
        String said = Files.readString(out);
        assertEquals(1, p.exitValue(), said);
        return said;
    }

    @Test
    void aLogPathThatCannotBeCreatedIsOneLineWithoutLoggingInternals() throws Exception {
        Path blocker = Files.writeString(dir.resolve("blocker"), "a file where the log directory should be");
        AgentHome home = new AgentHome(dir.resolve("home"), "[log]\nfile = " + blocker.resolve("agent.log") + "\n");
        String said = runUntilExit(home.home());
        assertEquals("aegis-quartz: cannot start: [log] file " + blocker.resolve("agent.log") + ": cannot create its directory "
                + blocker + ": a file of that name is in the way (fix: let the agent's user write there, or set [log] file in "
                + home.conf().resolve("aegis_config.ini") + ")\n", said);

        Files.createDirectories(home.home().resolve("log/aegis_quartz.log"));
        AgentHome.write(home.conf().resolve("aegis_config.ini"), "");
        said = runUntilExit(home.home());
        assertEquals("aegis-quartz: cannot start: [log] file " + home.home().resolve("log/aegis_quartz.log") + ": it is a directory "
                + "(fix: let the agent's user write there, or set [log] file in " + home.conf().resolve("aegis_config.ini") + ")\n", said);
    }

    @Test
    void aReadOnlyLogDirectoryIsOneLineNamingTheUser() throws Exception {
        // Root writes anywhere: as root, run the agent as nobody (its home readable, its state directory writable).
        boolean root = StrictModes.ownUid() == 0;
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path state = Files.createDirectories(dir.resolve("state"));
        Files.setPosixFilePermissions(state, PosixFilePermissions.fromString("rwxrwxrwx"));
        AgentHome home = new AgentHome(dir.resolve("home"), "[agent]\nstate_dir = " + state + "\n");
        Path log = Files.createDirectories(home.home().resolve("log"));
        Files.setPosixFilePermissions(log, PosixFilePermissions.fromString("r-xr-xr-x"));
        String user = root ? "nobody (uid 65534)" : System.getProperty("user.name") + " (uid " + StrictModes.ownUid() + ")";
        String said = root ? runUntilExit(home.home(), "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups") : runUntilExit(home.home());
        // Was: "... openFile(.../aegis_quartz.log,true) call failed.: .../aegis_quartz.log (Permission denied)".
        assertEquals("aegis-quartz: cannot start: [log] file " + log.resolve("aegis_quartz.log") + ": its directory " + log
                + " is not writable by user " + user + " (fix: let the agent's user write there, or set [log] file in "
                + home.conf().resolve("aegis_config.ini") + ")\n", said);
    }

    @Test
    void aUuidPathThatIsADirectoryIsNamed() throws Exception {
        AgentHome home = new AgentHome(dir.resolve("home"), "");
        Files.createDirectory(home.conf().resolve("uuid"));
        String said = runUntilExit(home.home());
        assertTrue(said.endsWith("aegis-quartz: cannot start: host identity: " + home.conf().resolve("uuid") + ": this is a directory; "
                + "the host identity is a file (fix: remove the directory, or point [agent] uuid_file at a file)\n"), said);
    }

    @Test
    void groupWritableFilesAreReportedOnceAtStartWithTheOneCommandThatFixesThem() throws Exception {
        AgentHome home = new AgentHome(dir.resolve("home"), "[plugins]\nwatch = false\n");
        home.userPlugin("u.sh", "#!/bin/sh\necho OK\n");
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] user/u.sh\n");
        home.groupWritable();
        Path logFile = home.home().resolve("log/aegis_quartz.log");
        AgentProcesses.start(started, dir.resolve("out"), "--home", home.home().toString(), "run");
        await().atMost(Duration.ofSeconds(60)).until(() -> AgentHome.text(logFile).contains(" started with "));
        String log = AgentHome.text(logFile);
        String command = "chmod -R g-w " + home.conf().toRealPath() + " " + home.home().resolve("plugins-default").toRealPath() + " "
                + home.home().resolve("plugins-user").toRealPath();
        assertEquals(1, log.lines().filter(l -> l.contains("fix them all at once with: " + command)).count(), log);
        assertFalse(log.contains("Exception"), log);
    }
}
