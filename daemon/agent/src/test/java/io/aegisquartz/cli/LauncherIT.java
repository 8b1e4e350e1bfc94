package io.aegisquartz.cli;

import io.aegisquartz.receive.Receiver;
import io.aegisquartz.testing.AgentHome;
import io.aegisquartz.testing.TestJobs;
import io.aegisquartz.output.aegis.Credentials;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The packaged launcher, daemon/bin/aegis-quartz, run as a user would: real processes and signals. */
class LauncherIT {

    static final Path REPO = Path.of(System.getProperty("aegis.repo", "../..")).toAbsolutePath().normalize();
    static final Path LAUNCHER = REPO.resolve("daemon/bin/aegis-quartz");

    @TempDir
    Path dir;

    @org.junit.jupiter.api.extension.RegisterExtension
    final io.aegisquartz.testing.StartedProcesses started = new io.aegisquartz.testing.StartedProcesses();


    /** A class-load log line of the Groovy compiler proper: parser, compile driver, type checker, bytecode writer. */
    private static boolean compilerClass(String line) {
        return Stream.of("org.codehaus.groovy.control.CompilationUnit ", "org.apache.groovy.parser.antlr4.AstBuilder ",
                "org.codehaus.groovy.transform.stc.StaticTypeCheckingVisitor ", "org.codehaus.groovy.classgen.AsmClassGenerator ").anyMatch(line::contains);
    }

    private Process launch(Path out, String... args) throws IOException {
        return launchWithJavaOpts(out, null, args);
    }

    private Process launchWithJavaOpts(Path out, String javaOpts, String... args) throws IOException {
        return launchWithEnv(out, javaOpts == null ? Map.of() : Map.of("AEGIS_JAVA_OPTS", javaOpts), args);
    }

    /** Starts the launcher with {@code env} added to this JVM's environment, less AEGIS_HOME and AEGIS_CONF. */
    private Process launchWithEnv(Path out, Map<String, String> env, String... args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(LAUNCHER.toString());
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.environment().remove("AEGIS_HOME");
        pb.environment().remove("AEGIS_CONF");
        pb.environment().putAll(env);
        Process p = pb.start();
        started.add(p);
        return p;
    }

    /** Runs the launcher to completion; returns {exit code, output}. */
    private Object[] call(String... args) throws Exception {
        Path out = Files.createTempFile(dir, "out", ".txt");
        Process p = launch(out, args);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "command finished");
        return new Object[] {p.exitValue(), Files.readString(out)};
    }

    @Test
    void everyCommandHasHelp() throws Exception {
        for (String command : List.of("run", "check-config", "run-plugin", "test", "status", "run-now", "receive", "spool", "event",
                "unquarantine", "notify", "silence", "config-reference", "version", "cds-archive", "plugin-host")) {
            Object[] r = call(command, "--help");
            assertEquals(0, r[0], command);
            assertTrue(((String) r[1]).startsWith("Usage: aegis-quartz " + command), command + ": " + r[1]);
        }
        Object[] top = call("--help");
        assertEquals(0, top[0]);
        assertTrue(((String) top[1]).contains("check-config"));
        Object[] bad = call("frobnicate");
        assertEquals(2, bad[0]);
        assertTrue(((String) bad[1]).contains("unknown command 'frobnicate'"));
    }

    @Test
    void theClassDataArchiveIsMadeOnceAndThenUsed() throws Exception {
        Path archive = dir.resolve("aq.jsa");
        Path out = dir.resolve("cds.out");
        Process p = launchWithEnv(out, Map.of("AEGIS_CDS_ARCHIVE", archive.toString()), "cds-archive");
        // Two training runs, each compiling the default plugins that are not compiled yet: 10-30 s on
        // an idle 2-core machine, minutes when it is busy.
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), Files.readString(out));
        assertEquals(0, p.exitValue(), Files.readString(out));
        assertTrue(Files.size(archive) > 1_000_000, "an archive of the Groovy, logging and agent classes");
        Path uploadArchive = dir.resolve("aq-upload.jsa");
        assertTrue(Files.size(uploadArchive) > Files.size(archive) + 1_000_000, "a second archive, with HttpClient and the TLS classes");
        try (var left = Files.list(dir)) {
            assertEquals(List.of(), left.filter(f -> f.getFileName().toString().startsWith(".cds-scratch")).toList(),
                    "the training run's scratch home is gone");
        }

        // The archive is trained on the agent itself, so an agent's start maps the scheduler and the
        // agent's own classes from it instead of reading and verifying them from the jars.
        AgentHome home = new AgentHome(dir.resolve("home"), "[plugins]\nwatch = false\n");
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] name=true /bin/true\n");
        Path agentLog = home.home().resolve("log/aegis_quartz.log");
        Process a = launchWithEnv(out, Map.of("AEGIS_CDS_ARCHIVE", archive.toString(),
                "AEGIS_JAVA_OPTS", "-Xlog:class+load=info:file=" + dir.resolve("agent-classes.txt")), "--home", home.home().toString(), "run");
        await().atMost(Duration.ofSeconds(60)).until(() -> read(agentLog).contains(" started with "));
        String agentClasses = read(dir.resolve("agent-classes.txt"));
        for (String cls : List.of("org.quartz.core.QuartzSchedulerThread", "io.aegisquartz.agent.Agent", "ch.qos.logback.core.rolling.RollingFileAppender")) {
            assertTrue(agentClasses.contains(cls + " source: shared objects file (top)"), cls + " from the archive");
        }
        assertTrue(jvmCommandLine(a).contains("-XX:SharedArchiveFile=" + archive + " "), "an agent writing to a local file maps the local archive");
        // Groovy's runtime is set up at start (on a thread of its own) only when a cron file names a Groovy plugin.
        assertFalse(agentClasses.contains("groovy.lang.GroovySystem "), "an agent without Groovy jobs set up Groovy's runtime (a few MB)");
        signal(a, "TERM");
        assertTrue(a.waitFor(20, TimeUnit.SECONDS), "stopped on SIGTERM");

        // An agent whose config sets an endpoint maps the upload archive, trained on real HTTPS requests:
        // its uploads load HttpClient and the TLS classes from it, not from the jars.
        String secret = "launcher-cds-secret";
        try (Receiver receiver = Receiver.start(new Receiver.Config().listen(new InetSocketAddress("127.0.0.1", 0))
                .out(dir.resolve("received.jsonl")).stateDir(dir.resolve("receiver"))
                .credentials(List.of(Credentials.of("AKID-cds", secret, null))))) {
            AgentHome up = new AgentHome(dir.resolve("up"), "[plugins]\nwatch = false\n[upload]\nendpoint = \"https://127.0.0.1:"
                    + receiver.address().getPort() + Receiver.PATH + "\"   ; quoted, with a comment, as an admin may write it\nca_file = "
                    + receiver.certificatePem() + "\nlinger = 0\n");
            up.credentials("AKID-cds", secret, "rw-------");
            up.cron("aegis_quartz.conf.user", "[* * * * * ?] name=true /bin/true\n");
            Path upClasses = dir.resolve("upload-classes.txt");
            Path upOut = dir.resolve("upload.out");
            Process u = launchWithEnv(upOut, Map.of("AEGIS_CDS_ARCHIVE", archive.toString(),
                    "AEGIS_JAVA_OPTS", "-Xlog:class+load=info:file=" + upClasses), "--home", up.home().toString(), "run");
            await().atMost(Duration.ofSeconds(60)).until(() -> read(dir.resolve("received.jsonl")).contains("\"job\":\"true\""));
            assertTrue(jvmCommandLine(u).contains("-XX:SharedArchiveFile=" + uploadArchive + " "), "an uploading agent maps the upload archive");
            assertFalse(read(upOut).contains("creating the class-data archive"), "cds-archive made it already: " + read(upOut));
            String uploaded = read(upClasses);
            for (String cls : List.of("org.apache.hc.client5.http.impl.classic.MainClientExec", "sun.security.ssl.SSLSocketImpl",
                    "org.quartz.core.QuartzSchedulerThread")) {
                assertTrue(uploaded.contains(cls + " source: shared objects file (top)"), cls + " from the upload archive");
            }
            signal(u, "TERM");
            assertTrue(u.waitFor(20, TimeUnit.SECONDS), "stopped on SIGTERM");
        }

        // The JVM says where each class came from: Groovy's classes now come from the archive.
        // A scratch cache, so that this run compiles the sampler and loads the compiler.
        Process q = launchWithEnv(out, Map.of("AEGIS_CDS_ARCHIVE", archive.toString(),
                "AEGIS_JAVA_OPTS", "-Xlog:class+load=info -Daegis.compiled-dir=" + dir.resolve("scratch-cache")), "run-plugin", "default/sampler.groovy");
        assertTrue(q.waitFor(120, TimeUnit.SECONDS));
        String log = Files.readString(out);
        assertEquals(0, q.exitValue(), log);
        assertTrue(log.lines().anyMatch(l -> l.contains("groovy.lang.MetaClassImpl source: shared objects file (top)")),
                "Groovy's runtime loaded from the archive");
        assertTrue(log.lines().anyMatch(LauncherIT::compilerClass), "this run compiled");
        assertFalse(log.lines().anyMatch(l -> compilerClass(l) && l.contains("shared objects file (top)")),
                "the compiler is not in the archive: the agent does not load it, and archived classes cost memory used or not");
    }

    @Test
    void theDefaultPluginsNeverTurnNumbersIntoTextTheGroovyWay() throws Exception {
        // Groovy turns values into text (GStrings, String + number) through FormatHelper, whose first use
        // loads part of the compiler and indexes the JDK's classes: about 4.5 MB held for good. Every
        // agent runs the default jobs, so they build their text from Strings only.
        Path cache = dir.resolve("cache");
        Path out = dir.resolve("out.txt");
        for (String plugin : List.of("default/sampler.groovy", "default/net_snmp.groovy", "default/process_top.groovy")) {
            Process compile = launchWithJavaOpts(out, "-Daegis.compiled-dir=" + cache, "run-plugin", plugin);
            assertTrue(compile.waitFor(120, TimeUnit.SECONDS));
            assertEquals(0, compile.exitValue(), plugin + ": " + read(out));

            Process run = launchWithJavaOpts(out, "-Xlog:class+load=info -Daegis.compiled-dir=" + cache, "run-plugin", plugin);
            assertTrue(run.waitFor(120, TimeUnit.SECONDS));
            String log = read(out);
            assertEquals(0, run.exitValue(), plugin + ": " + log);
            assertTrue(log.contains("groovy.lang.Script "), "the class-load log works: " + log.length() + " chars");
            assertFalse(log.contains("org.codehaus.groovy.runtime.FormatHelper "), plugin + " used Groovy's FormatHelper");
            // Not the whole compiler check: FormatHelper itself loads some of the compiler's classes.
            assertFalse(log.contains("org.apache.groovy.parser.antlr4.AstBuilder "), plugin + " was loaded compiled, as the agent loads it");
        }
    }

    @Test
    void runPluginOnAHangingPluginPrintsStatusTimeout() throws Exception {
        Path hang = TestJobs.script(dir, "hang.sh", "#!/bin/sh\nsleep 60\n");
        long t0 = System.nanoTime();
        Object[] r = call("run-plugin", "--timeout", "1s", "--kill-grace", "500ms", hang.toString());
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);

        assertEquals(3, r[0], (String) r[1]);
        assertTrue(((String) r[1]).contains("status=timeout"), (String) r[1]);
        assertTrue(ms < 10_000, "JVM start + 1 s limit + grace, took " + ms + " ms");
    }

    @Test
    void checkConfigPrintsEveryProblemWithItsPlaceAndFailsTheExitCode() throws Exception {
        AgentHome home = new AgentHome(dir.resolve("home"), "[agent]\nwokers = 4\n");
        home.userPlugin("x.sh", "#!/bin/sh\necho OK\n");
        home.cron("aegis_quartz.conf.user", "[0 0 25 * * ?] user/x.sh\n# fine\n[0 0 * * *] user/x.sh\n[0 0 * * * ?] user/nope.sh\n");
        Object[] r = call("--home", home.home().toString(), "check-config");
        String out = (String) r[1];

        assertEquals(1, r[0], out);
        assertTrue(out.contains(home.conf().resolve("aegis_config.ini") + ":2:1: unknown key 'wokers' in [agent]"), out);
        assertTrue(out.contains("did you mean 'workers'?"), out);
        assertTrue(out.contains(home.conf().resolve("aegis_quartz.conf.user") + ":1:6: hours field '25'"), out);
        assertTrue(out.contains(home.conf().resolve("aegis_quartz.conf.user") + ":3:2: a Quartz cron expression has 6 or 7 fields"), out);
        assertTrue(out.contains(home.conf().resolve("aegis_quartz.conf.user") + ":4:15: plugin not found: "), out);
        assertTrue(out.contains("4 problem(s) found"), out);
    }

    @Test
    void aStopWhileTheAgentCompilesItsPluginsEndsItAsAStop() throws Exception {
        // A first start compiles each Groovy plugin in a JVM of its own, for a second or more, in the
        // background of a started agent: a 'systemctl stop' then must end the agent with exit code 0,
        // the compiler process with it, and report neither a failed start nor a broken plugin.
        AgentHome home = new AgentHome(dir.resolve("home"), "[plugins]\nwatch = false\n");
        home.userPlugin("hello.groovy", "emit('hello', [v: 1])\n");
        home.cron("aegis_quartz.conf.user", "[0 0 0 * * ?] user/hello.groovy\n");
        Path out = dir.resolve("out.txt");
        Process a = launch(out, "--home", home.home().toString(), "run");
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(20)).until(() -> a.toHandle().descendants()
                .anyMatch(h -> commandLine(h).contains("io.aegisquartz.plugin.groovy.ChildCompiler")));
        List<ProcessHandle> family = a.descendants().toList();
        signal(a, "TERM");
        assertTrue(a.waitFor(60, TimeUnit.SECONDS), "stopped on SIGTERM");
        await().atMost(Duration.ofSeconds(10)).until(() -> family.stream().noneMatch(ProcessHandle::isAlive));
        String log = read(home.home().resolve("log/aegis_quartz.log"));
        assertEquals(0, a.exitValue(), read(out) + log);
        assertTrue(log.contains("compiling 1 plugin(s), once") && log.contains(" stopped"), log);
        assertFalse(log.contains("cannot start"), log);
        assertFalse(log.contains("ERROR"), "the interrupted compile is no error of the plugin's: " + log);
        assertFalse(read(out).contains("starting it again"), read(out));
    }

    @Test
    void theDaemonRunsTheDefaultJobsReloadsOnSighupAndStopsOnSigterm() throws Exception {
        Path conf = Files.createDirectories(dir.resolve("conf"));
        Path plugins = Files.createDirectories(dir.resolve("plugins-user"));
        Files.copy(REPO.resolve("conf/aegis_quartz.conf.default"), conf.resolve("aegis_quartz.conf.default"));
        Path cache = dir.resolve("plugin-cache");
        // Its own state directory: the checkout is the home, and an agent a developer runs there holds its agent.lock.
        Files.writeString(conf.resolve("aegis_config.ini"), "[agent]\nstate_dir = " + dir.resolve("state") + "\n[plugins]\nuser_dir = "
                + plugins + "\nwatch = false\ncompiled_dir = " + cache
                + "\n[log]\nfile = " + dir.resolve("log/agent.log") + "\n[sink]\nfile = " + dir.resolve("log/samples.jsonl") + "\n");
        Path log = dir.resolve("log/agent.log");
        Path samples = dir.resolve("log/samples.jsonl");
        Path classes = dir.resolve("classes.txt");
        Process p = launchWithJavaOpts(dir.resolve("stdout.txt"), "-Xlog:class+load=info:file=" + classes, "--conf", conf.toString(), "run");

        // A first start compiles the default plugins, each in a JVM of its own: 12-14 s on a 2-core CI
        // machine, more when it is busy. Only then is the agent started; a SIGHUP before that is deferred
        // and logged differently ("SIGHUP received during start-up"), and this test is about a running agent.
        await().atMost(Duration.ofSeconds(90)).until(() -> read(log).contains(" started with "));
        // The default sampler fires every 10 s.
        await().atMost(Duration.ofSeconds(25)).until(() -> read(samples).contains("\"job\":\"default/sampler.groovy\""));
        String banner = read(log);
        assertTrue(banner.contains("aegis-quartz ") && banner.contains("starting"), banner);
        assertTrue(banner.contains("job default/sampler.groovy [0/10 * * * * ?]") && banner.contains("next run"), banner);
        // The plugins were compiled (the cache was empty), but by child JVMs: the agent never loaded the compiler.
        try (var entries = Files.list(cache)) {
            assertTrue(entries.anyMatch(e -> e.getFileName().toString().startsWith("sampler.groovy-")), "the sampler's compiled classes are cached");
        }
        List<String> compiler = read(classes).lines().filter(LauncherIT::compilerClass).toList();
        assertEquals(List.of(), compiler, "the agent's JVM loaded no class of the Groovy compiler");
        assertTrue(read(classes).contains("groovy.lang.Script "), "the class-load log works: " + read(classes).length() + " chars");
        // Jackson's ObjectMapper is about 280 classes (3-4 MB of the agent's memory). Samples are written
        // without it; only event files and JSON-lines plugin output need it.
        assertFalse(read(classes).contains("com.fasterxml.jackson.databind.ObjectMapper "), "the agent built no ObjectMapper");

        TestJobs.script(plugins, "tick.sh", "#!/bin/sh\necho 'TICK OK | n=1'\n");
        Files.writeString(conf.resolve("aegis_quartz.conf.user"), "[* * * * * ?] user/tick.sh\n");
        assertFalse(read(log).contains("reloading"), "file watching is off in this test: only the signal reloads");
        signal(p, "HUP");
        await().atMost(Duration.ofSeconds(15)).until(() -> read(samples).contains("\"job\":\"user/tick.sh\""));
        assertTrue(read(log).contains("reloading (SIGHUP)"), read(log));
        assertTrue(read(log).contains("+ job user/tick.sh"));
        assertFalse(read(classes).contains("com.fasterxml.jackson.databind.ObjectMapper "), "Nagios output is read without an ObjectMapper");

        List<ProcessHandle> jvm = p.children().filter(h -> commandLine(h).contains("io.aegisquartz.cli.Main")).toList();
        assertEquals(1, jvm.size(), "the launcher runs one JVM");
        signal(p, "TERM");
        assertTrue(p.waitFor(20, TimeUnit.SECONDS), "stopped on SIGTERM");
        assertEquals(0, p.exitValue());
        assertFalse(jvm.get(0).isAlive(), "the JVM is gone");
        assertTrue(read(log).contains("stopped"));
    }

    @Test
    void theLauncherStartsTheAgentAgainWhenItAsksToBeRestarted() throws Exception {
        AgentHome home = new AgentHome(dir.resolve("home"), "[plugins]\nwatch = false\n[limits]\nmax_abandoned_threads = 1\n"
                + "kill_grace = 200ms\n");
        // Two jobs whose threads cannot be stopped (accept() ignores interrupts): two abandoned > 1 allowed.
        Files.writeString(home.home().resolve("plugins-user/stuck.groovy"),
                "def s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())\ntry { s.accept() } finally { s.close() }\n");
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] timeout=500ms isolation=inproc name=a user/stuck.groovy\n"
                + "[* * * * * ?] timeout=500ms isolation=inproc name=b user/stuck.groovy\n");
        Path log = home.home().resolve("log/aegis_quartz.log");
        Process p = launch(dir.resolve("stdout.txt"), "--home", home.home().toString(), "run");

        await().atMost(Duration.ofSeconds(40)).until(() -> count(read(log), " starting: pid ") >= 2);
        String text = read(log);
        assertTrue(text.contains("restarting: 2 abandoned plugin threads"), text);
        assertTrue(read(dir.resolve("stdout.txt")).contains("asked to be restarted"));

        signal(p, "TERM");
        assertTrue(p.waitFor(20, TimeUnit.SECONDS));
    }

    @Test
    void anOldJavaIsNamedWithTheVersionTheAgentNeeds() throws Exception {
        // A JDK 11 as JAVA_HOME: its release file says so; its java would fail on the agent's classes.
        Path jdk = Files.createDirectories(dir.resolve("jdk-11/bin"));
        Files.writeString(jdk.getParent().resolve("release"), "JAVA_VERSION=\"11.0.22\"\n");
        TestJobs.script(jdk, "java", "#!/bin/sh\necho 'should not run' >&2\nexit 99\n");
        Path out = dir.resolve("out.txt");
        Process p = launchWithEnv(out, Map.of("JAVA_HOME", jdk.getParent().toString()), "run");
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(1, p.exitValue(), read(out));
        assertTrue(read(out).contains("is Java 11.0.22; the agent needs Java 17 or later"), read(out));
        assertFalse(read(out).contains("should not run"), read(out));
    }

    // ------------------------------------------------------------------ supervision (docs/SUPERVISION.md)

    /** A home with a healthy executable job firing every second ("tick"), plus {@code more} cron lines. */
    private AgentHome supervisedHome(String ini, String more) throws IOException {
        AgentHome home = new AgentHome(dir.resolve("home"), "[plugins]\nwatch = false\n" + ini);
        home.userPlugin("tick.sh", "#!/bin/sh\necho 'TICK OK | n=1'\n");
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] name=tick user/tick.sh\n" + more);
        return home;
    }

    /** Epoch millis of each sample of job {@code job}, in file order. */
    private static List<Long> sampleTimes(AgentHome home, String job) {
        return home.samples().stream().filter(n -> n.path("job").asText().equals(job))
                .map(n -> java.time.Instant.parse(n.path("time").asText()).toEpochMilli()).toList();
    }

    private static long longestGap(List<Long> times) {
        long gap = 0;
        for (int i = 1; i < times.size(); i++) {
            gap = Math.max(gap, times.get(i) - times.get(i - 1));
        }
        return gap;
    }

    /** The environment of the JVM the launcher runs now, as NAME=VALUE strings. */
    private static List<String> jvmEnvironment(Process launcher) throws IOException {
        ProcessHandle jvm = launcher.toHandle().children().filter(h -> commandLine(h).contains("io.aegisquartz.cli.Main"))
                .findFirst().orElseThrow(() -> new AssertionError("no JVM"));
        return List.of(Files.readString(Path.of("/proc/" + jvm.pid() + "/environ")).split("\0"));
    }

    @Test
    void aPluginThatExitsZeroOrHaltsIsAnsweredByARestartAndTheHealthyJobKeepsGoing() throws Exception {
        // Each culprit ends the JVM once (a marker file remembers), as a buggy or hostile plugin would.
        // In the agent's JVM (isolation = inproc): in the plugin host the exit would end only the host.
        AgentHome home = supervisedHome("isolation = inproc\n", "[* * * * * ?] name=exit user/exit.groovy " + dir.resolve("exited") + "\n");
        Files.writeString(home.home().resolve("plugins-user/exit.groovy"),
                "def m = new File(args[0]); if (!m.exists()) { m.text = 'x'; System.exit(0) }\nemit('after', [v: 1])\n");
        Files.writeString(home.home().resolve("plugins-user/halt.groovy"),
                "def m = new File(args[0]); if (!m.exists()) { m.text = 'x'; Runtime.getRuntime().halt(3) }\nemit('after', [v: 1])\n");
        Path out = dir.resolve("out.txt");
        Process p = launch(out, "--home", home.home().toString(), "run");

        await().atMost(Duration.ofSeconds(120)).until(() -> read(out).contains("it exited with code 0, which nobody asked for"));
        await().atMost(Duration.ofSeconds(60)).ignoreExceptions().until(() -> jvmEnvironment(p).contains("AEGIS_PREVIOUS_EXIT=exit:0"));
        Path log = home.home().resolve("log/aegis_quartz.log");
        await().atMost(Duration.ofSeconds(60)).until(() -> count(read(log), " started with ") >= 2);
        // Now the halt, added to the running agent's cron file by a reload.
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] name=tick user/tick.sh\n[* * * * * ?] name=halt user/halt.groovy "
                + dir.resolve("halted") + "\n");
        signal(p, "HUP");
        await().atMost(Duration.ofSeconds(120)).until(() -> read(out).contains("it exited with code 3, which nobody asked for"));
        await().atMost(Duration.ofSeconds(60)).ignoreExceptions().until(() -> jvmEnvironment(p).contains("AEGIS_PREVIOUS_EXIT=exit:3"));
        long halted = System.currentTimeMillis();
        await().atMost(Duration.ofSeconds(60)).until(() -> sampleTimes(home, "tick").stream().anyMatch(t -> t > halted + 2000));

        // The healthy job's samples go on; the longest gap is one restart: a JVM start and an agent
        // start (the culprits are compiled once, before the first exit). Generous for a loaded machine.
        long gap = longestGap(sampleTimes(home, "tick"));
        assertTrue(gap < 20_000, "longest gap between the healthy job's samples: " + gap + " ms\n" + read(out));
        System.out.println("longest gap in the healthy job's samples across an exit(0) and a halt(3): " + gap + " ms");

        // A stop request still stops everything, the ticker and the JVM included, and nothing restarts.
        List<ProcessHandle> family = p.descendants().toList();
        signal(p, "TERM");
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "stopped on SIGTERM");
        assertEquals(0, p.exitValue(), read(out));
        await().atMost(Duration.ofSeconds(10)).until(() -> family.stream().noneMatch(ProcessHandle::isAlive));
        assertEquals(2, count(read(out), "which nobody asked for; starting it again"), read(out));
    }

    @Test
    void theWatchdogKillsAnAgentWhoseSchedulerAPluginSuspendedAndStartsItAgain() throws Exception {
        // The plugin suspends the scheduler thread and every worker but its own: the JVM stays up and
        // answers nothing. The heartbeat stops; the launcher kills the JVM and starts it again.
        // In the agent's JVM (isolation=inproc): in the plugin host it would freeze only the host.
        AgentHome home = supervisedHome("[agent]\nwatchdog = 4s\n", "[*/2 * * * * ?] name=freeze isolation=inproc user/freeze.groovy "
                + dir.resolve("froze") + "\n");
        Files.writeString(home.home().resolve("plugins-user/freeze.groovy"), """
                def m = new File(args[0])
                if (!m.exists()) {
                    m.text = 'x'
                    Thread.getAllStackTraces().keySet().findAll {
                        it != Thread.currentThread() && (it.name.contains('QuartzSchedulerThread') || it.name.startsWith('aegis-worker'))
                    }.each { it.suspend() }
                }
                emit('after', [v: 1])
                """);
        Path out = dir.resolve("out.txt");
        Process p = launch(out, "--home", home.home().toString(), "run");

        await().atMost(Duration.ofSeconds(120)).until(() -> Files.exists(dir.resolve("froze")));
        long froze = System.currentTimeMillis();
        await().atMost(Duration.ofSeconds(60)).until(() -> read(out).contains("watchdog: no heartbeat from the agent"));
        long killed = System.currentTimeMillis();
        await().atMost(Duration.ofSeconds(60)).until(() -> sampleTimes(home, "tick").stream().anyMatch(t -> t > killed));
        long resumed = System.currentTimeMillis();
        await().atMost(Duration.ofSeconds(10)).ignoreExceptions()
                .until(() -> jvmEnvironment(p).stream().anyMatch(e -> e.startsWith("AEGIS_PREVIOUS_EXIT=watchdog:")));
        String log = read(home.home().resolve("log/aegis_quartz.log"));
        assertTrue(log.contains("heartbeat withheld: thread ") && log.contains(" is suspended"), log);
        // Within the timeout (4 s) and a tick (1 s), plus the new JVM's start.
        assertTrue(killed - froze < 4_000 + 1_000 + 5_000, "killed " + (killed - froze) + " ms after the freeze");
        System.out.println("watchdog: freeze to kill " + (killed - froze) + " ms, kill to the healthy job's next sample "
                + (resumed - killed) + " ms");
        signal(p, "TERM");
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "stopped on SIGTERM");
    }

    @Test
    void restartsAreRateLimitedWithBackoffAndEndInGivingUp() throws Exception {
        // A plugin that ends the agent at every fire: restarts come 0, 1, 2 s apart, then the launcher
        // gives up (AEGIS_RESTART_MAX=3) and exits 1, for systemd's Restart= and start limit to judge.
        // It edits itself before each exit: a plugin that ended the agent is quarantined until its file
        // changes (docs/JOURNAL.md), so only a changing one can end every agent the launcher starts.
        Path plugin = dir.resolve("home/plugins-user/exit.groovy");
        // In the agent's JVM (isolation=inproc): in the plugin host the exit would end only the host.
        AgentHome home = supervisedHome("", "[* * * * * ?] name=exit isolation=inproc user/exit.groovy " + plugin + "\n");
        Files.writeString(plugin, "new File(args[0]).append('//\\n')\nSystem.exit(0)\n");
        Path out = dir.resolve("out.txt");
        Process p = launchWithEnv(out, Map.of("AEGIS_RESTART_MAX", "3"), "--home", home.home().toString(), "run");
        assertTrue(p.waitFor(240, TimeUnit.SECONDS), "gave up: " + read(out));
        String text = read(out);
        assertEquals(1, p.exitValue(), text);
        assertTrue(text.contains("starting it again (quick restart 1 of 3; AEGIS_PREVIOUS_EXIT=exit:0)"), text);
        assertTrue(text.contains("starting it again in 1 s (quick restart 2 of 3;"), text);
        assertTrue(text.contains("starting it again in 2 s (quick restart 3 of 3;"), text);
        assertTrue(text.contains("ended 4 times in a row within 60 s of its start"), text);
        assertEquals(3, count(text, "starting it again"), text);
    }

    private static void signal(Process p, String sig) throws Exception {
        Process k = new ProcessBuilder("kill", "-s", sig, Long.toString(p.pid())).start();
        assertEquals(0, k.waitFor());
    }

    /** The command line of the JVM that the launcher process {@code p} started. */
    private static String jvmCommandLine(Process p) {
        return commandLine(p.toHandle().children().filter(h -> commandLine(h).contains("io.aegisquartz.cli.Main")).findFirst()
                .orElseThrow(() -> new AssertionError("the launcher has no child JVM")));
    }

    /** The command line of a process, words separated by spaces; empty once it has ended. */
    private static String commandLine(ProcessHandle h) {
        try {
            return Files.readString(Path.of("/proc/" + h.pid() + "/cmdline")).replace('\0', ' ');
        } catch (IOException e) {
            return "";
        }
    }

    private static String read(Path f) {
        try {
            return Files.exists(f) ? Files.readString(f) : "";
        } catch (IOException e) {
            return "";
        }
    }

    private static int count(String text, String needle) {
        int n = 0;
        for (int i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + 1)) {
            n++;
        }
        return n;
    }
}
