package io.aegisquartz.cli;

import io.aegisquartz.testing.AgentHome;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Where the agent looks for its config when AEGIS_CONF is set, as the launcher does. */
class CliEnvironmentTest {

    @TempDir
    Path dir;

    /** check-config with {@code env}; returns what it printed (its exit code is checked: 1, one problem). */
    private String checkConfig(Map<String, String> env, Path home) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream ps = new PrintStream(out, true, StandardCharsets.UTF_8);
        int rc = new Cli(ps, ps, env).execute("--home", home.toString(), "check-config");
        String text = out.toString(StandardCharsets.UTF_8);
        assertEquals(1, rc, text);
        return text;
    }

    @Test
    void anEmptyAegisConfMeansTheHomesConfLikeTheLauncher() {
        AgentHome home = new AgentHome(dir.resolve("home"), "[agent]\nwokers = 2\n");
        // Before: Path.of("") is the current directory, so the agent read the config from wherever it
        // was started while the launcher (${AEGIS_CONF:-...}) chose the class-data archive from HOME/conf.
        String out = checkConfig(Map.of("AEGIS_CONF", ""), home.home());
        assertTrue(out.contains(home.conf().resolve("aegis_config.ini") + ":2:1: unknown key 'wokers'"), out);
    }

    @Test
    void aSetAegisConfIsTheConfigDirectory() {
        AgentHome home = new AgentHome(dir.resolve("home"), "[agent]\n");
        AgentHome other = new AgentHome(dir.resolve("other"), "[agent]\nwrokers = 2\n");
        String out = checkConfig(Map.of("AEGIS_CONF", other.conf().toString()), home.home());
        assertTrue(out.contains(other.conf().resolve("aegis_config.ini") + ":2:1: unknown key 'wrokers'"), out);
    }
}
