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
}
