package io.aegisquartz.plugin;

import java.nio.file.Files;
import java.nio.file.Path;

/** How a plugin file is run, chosen by the file itself. */
public enum PluginKind {
    /** A {@code .groovy} script, compiled once and run in the agent's JVM under limits. */
    GROOVY,
    /** A {@code .jar} holding a {@link io.aegisquartz.api.Sampler}, run in its own class loader. */
    JAR,
    /** Any file with the execute bit: shell, Python, a binary, a stock Nagios plugin. */
    EXEC;

    /**
     * The kind of {@code file}.
     *
     * @throws PluginException if the file is none of the three, with the fix in the message
     */
    public static PluginKind of(Path file) throws PluginException {
        String name = file.getFileName().toString();
        if (name.endsWith(".groovy")) {
            return GROOVY;
        }
        if (name.endsWith(".jar")) {
            return JAR;
        }
        if (Files.isExecutable(file)) {
            return EXEC;
        }
        throw new PluginException("not a plugin: " + file + " is not a .groovy script, not a .jar and not executable",
                "make it executable (chmod 755 " + file + "), or rename a Groovy script to end in .groovy");
    }
}
