package io.aegisquartz.cli;

import io.aegisquartz.agent.Agent;
import io.aegisquartz.testing.AgentHome;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * 'check-config' refuses exactly what the agent's start refuses, for the same reason: the spool's
 * limits, each output's credentials, TLS files, endpoint and file. (The smallest documented
 * [spool] max_size, 1MiB, passed check-config but stopped the start before.)
 */
class CheckConfigMatchesStartTest {

    @TempDir
    Path dir;

    /** check-config's exit code and output, then what start said (null if it started). */
    private record Verdicts(int checkConfig, String checkOutput, String start) {
    }

    private Verdicts both(String name, String ini, boolean credentials) throws Exception {
        AgentHome home = new AgentHome(dir.resolve(name), "[plugins]\nwatch = false\n" + ini);
        if (credentials) {
            home.credentials("AKID-check", "check-secret", "rw-------");
        }
        InProcessCli cli = new InProcessCli(home.home());
        int code = cli.run("check-config", "--quiet");
        String startProblem = null;
        Agent agent = new Agent(home.settings());
        try {
            agent.start();
        } catch (Agent.StartException e) {
            startProblem = e.getMessage();
        } finally {
            agent.stop();
        }
        return new Verdicts(code, cli.out(), startProblem);
    }

    @Test
    void bothAcceptOrBothRefuseWithTheSameReason() throws Exception {
        List<String> failures = new ArrayList<>();
        record Case(String name, String ini, boolean credentials, String reason) {
        }
        List<Case> cases = List.of(
                new Case("defaults", "", false, null),
                new Case("smallest-cap", "[spool]\nmax_size = 1MiB\n", false, null),
                new Case("largest-cap", "[spool]\nmax_size = 1TiB\nmin_free = 0\n", false, null),
                new Case("aegis-ok", "[output.c]\ntype = aegis\nendpoint = https://127.0.0.1:9/x\n", true, null),
                new Case("no-credentials", "[output.c]\ntype = aegis\nendpoint = https://127.0.0.1:9/x\n", false,
                        "credentials file not found"),
                new Case("no-ca-file", "[output.c]\ntype = aegis\nendpoint = https://127.0.0.1:9/x\nca_file = missing.pem\n", true,
                        "missing.pem"),
                new Case("legacy-no-credentials", "[upload]\nendpoint = https://127.0.0.1:9/x\n", false, "credentials file not found"),
                new Case("influx-ok", "[output.i]\ntype = influx\nendpoint = https://127.0.0.1:9\ndatabase = aegis\n", false, null),
                new Case("influx-basic-no-credentials", "[output.i]\ntype = influx\nendpoint = https://127.0.0.1:9\ndatabase = aegis\n"
                        + "auth = basic\ncredentials_file = conf/influx.secret\n", false, "influx.secret: credentials file not found"),
                new Case("prometheus-bearer-wrong-keys", "[output.p]\ntype = prometheus\nendpoint = https://127.0.0.1:9/api/v1/write\n"
                        + "auth = bearer\n", true, "unknown key 'access_key_id'"),
                new Case("otlp-no-ca-file", "[output.o]\ntype = otlp\nendpoint = https://127.0.0.1:9/v1/metrics\nca_file = missing.pem\n",
                        false, "missing.pem"),
                new Case("file-unwritable", "[output.l]\ntype = file\nfile = /proc/self/nope/x.jsonl\n", false,
                        "cannot be created"));
        for (Case c : cases) {
            Verdicts v = both(c.name, c.ini, c.credentials);
            boolean checkOk = v.checkConfig == 0;
            boolean startOk = v.start == null;
            if (checkOk != startOk || checkOk != (c.reason == null)) {
                failures.add(c.name + ": check-config " + (checkOk ? "accepted" : "refused") + ", start " + (startOk ? "started"
                        : "refused (" + v.start + ")") + "; expected both to " + (c.reason == null ? "accept" : "refuse") + "\n" + v.checkOutput);
            } else if (c.reason != null && !(v.start.contains(c.reason) && v.checkOutput.contains(c.reason))) {
                failures.add(c.name + ": not the same reason: start said '" + v.start + "', check-config said:\n" + v.checkOutput);
            }
        }
        assertEquals(List.of(), failures);
        assertTrue(Files.exists(dir.resolve("smallest-cap/spool")), "the smallest cap really ran a spool");
    }
}
