package io.aegisquartz.testing;

import java.io.File;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The built agent (daemon/agent/target) started as a real JVM, as the launcher would, minus the launcher. */
public final class AgentProcesses {

    /** The repository: integration tests get it from Maven, unit tests run from daemon/agent. */
    public static final Path REPO = Path.of(System.getProperty("aegis.repo", "../..")).toAbsolutePath().normalize();

    private AgentProcesses() {
    }

    /**
     * Starts {@code aegis-quartz ARGS...} with stdin from /dev/null and stdout and stderr to {@code out};
     * {@code started} kills it after the test.
     */
    public static Process start(StartedProcesses started, Path out, String... args) throws IOException {
        return startWrapped(started, out, List.of(), args);
    }

    /**
     * Starts the agent on {@code home} with one job, {@code tick}, an executable that fires every
     * second, and returns once the agent has started and written a sample of it.
     */
    public static Process startTicking(StartedProcesses started, AgentHome home, Path out) throws IOException {
        home.userPlugin("tick.sh", "#!/bin/sh\necho 'TICK OK | n=1'\n");
        home.cron("aegis_quartz.conf.user", "[* * * * * ?] name=tick user/tick.sh\n");
        Process p = start(started, out, "--home", home.home().toString(), "run");
        Path log = home.home().resolve("log/aegis_quartz.log");
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(60)).until(() -> AgentHome.text(log).contains(" started with "));
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(30))
                .until(() -> AgentHome.text(home.samplesFile()).contains("\"job\":\"tick\""));
        return p;
    }

    /** As {@link #start}, with the JVM started through {@code wrapper} (e.g. setpriv to run it as another user). */
    public static Process startWrapped(StartedProcesses started, Path out, List<String> wrapper, String... args) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String cp = REPO.resolve("daemon/agent/target/aegis-quartz.jar") + File.pathSeparator + REPO.resolve("daemon/agent/target/lib/*");
        List<String> command = new ArrayList<>(wrapper);
        command.addAll(List.of(java, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp", cp, "io.aegisquartz.cli.Main"));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        return started.add(p);
    }

    /** {@code kill -9 PID}, as an operator or the OOM killer would, then waits until the process is gone. */
    public static void kill9(Process p) throws IOException, InterruptedException {
        Process kill = new ProcessBuilder("kill", "-9", Long.toString(p.pid())).inheritIO().start();
        if (kill.waitFor() != 0 || !p.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)) {
            throw new IllegalStateException("kill -9 " + p.pid() + " did not end it");
        }
    }

    /**
     * Starts {@code daemon/bin/aegis-quartz --home HOME run}, the launcher as installed, with its output
     * to {@code out}, without a class-data archive (none made, none mapped: the same start for every
     * agent a benchmark compares) and with {@code javaOpts} as AEGIS_JAVA_OPTS (none if null).
     */
    public static Process launchPackaged(StartedProcesses started, AgentHome home, Path out, String javaOpts) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(REPO.resolve("daemon/bin/aegis-quartz").toString(), "--home", home.home().toString(), "run")
                .redirectErrorStream(true).redirectOutput(out.toFile()).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.environment().remove("AEGIS_HOME");
        pb.environment().remove("AEGIS_CONF");
        pb.environment().put("AEGIS_CDS_ARCHIVE", "/nonexistent/aegis-quartz.jsa");
        if (javaOpts != null) {
            pb.environment().put("AEGIS_JAVA_OPTS", javaOpts);
        }
        return started.add(pb.start());
    }

    /** The agent's JVM under a launcher started by {@link #launchPackaged}. */
    public static ProcessHandle jvmOf(Process launcher) {
        return launcher.toHandle().descendants().filter(h -> h.info().commandLine().orElse("").contains("io.aegisquartz.cli.Main"))
                .findFirst().orElseThrow();
    }
}
