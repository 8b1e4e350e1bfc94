package io.aegisquartz.plugin;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The command line of a JVM the agent starts for itself (the Groovy compiler, the plugin host): the
 * same java, the same class path, and those of the agent's own options that suit the child.
 *
 * <p>The options the launcher gives the agent (daemon/bin/aegis-quartz) make a small, quiet JVM;
 * passing the class-data archive on lets the child map the same archive, so the classes both load
 * (Groovy's runtime, the plugin API) are pages of the page cache shared by both.
 */
public final class ChildJvm {

    /** Options that suit any child: class-data sharing, the collector, the JIT. */
    public static final List<String> SHARED = List.of("-XX:SharedArchiveFile=", "-Xshare:", "-Xlog:cds", "-XX:+UnlockDiagnosticVMOptions",
            "-XX:ArchiveRelocationMode=", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=", "-XX:-UsePerfData", "-XX:+IgnoreUnrecognizedVMOptions",
            "-XX:MaxMetaspaceSize=");
    /** Those, and the ones that keep a long-lived JVM small and free of housekeeping wake-ups, as the agent's do. */
    public static final List<String> LONG_LIVED = concat(SHARED, List.of("-Xss", "-Xmn", "-XX:MinHeapFreeRatio=", "-XX:MaxHeapFreeRatio=",
            "-XX:GuaranteedSafepointInterval=", "-XX:AsyncDeflationInterval=", "-XX:TrimNativeHeapInterval="));
    /** Options the JVM would take from the environment, unasked: an agent or a debugger has no place in the child. */
    private static final List<String> ENVIRONMENT_OPTIONS = List.of("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS");

    private ChildJvm() {
    }

    /**
     * A process builder for {@code java [agent's options that start with one of inherited] [options] -cp CLASSPATH mainClass [args]},
     * with the JVM option variables removed from its environment.
     */
    public static ProcessBuilder builder(List<String> inherited, List<String> options, String mainClass, List<String> args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (inherited.stream().anyMatch(arg::startsWith)) {
                cmd.add(arg);
            }
        }
        cmd.addAll(options);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(mainClass);
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd);
        ENVIRONMENT_OPTIONS.forEach(pb.environment()::remove);
        return pb;
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> out = new ArrayList<>(a);
        out.addAll(b);
        return List.copyOf(out);
    }
}
