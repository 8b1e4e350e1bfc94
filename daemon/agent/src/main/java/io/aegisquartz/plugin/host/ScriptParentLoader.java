package io.aegisquartz.plugin.host;

import java.util.List;

/**
 * In the plugin host, the parent of every Groovy script's class loader: the JDK, the plugin API and
 * what a compiled script links to (Groovy's runtime, its base class, the budget check woven into it),
 * and nothing else of the agent's code, as {@link io.aegisquartz.plugin.jar.JarPlugin} does for JARs.
 *
 * <p>This keeps honest scripts from depending on the agent's internals. It is not a security boundary
 * (reflection reaches the application class loader); the process and its user are.
 */
final class ScriptParentLoader extends ClassLoader {

    private static final List<String> VISIBLE = List.of("io.aegisquartz.api.", "groovy.", "org.codehaus.groovy.", "org.apache.groovy.",
            "io.aegisquartz.plugin.groovy.AegisScript", "io.aegisquartz.plugin.RunBudget");

    static {
        registerAsParallelCapable();
    }

    private final ClassLoader host;

    ScriptParentLoader(ClassLoader host) {
        super("aegis-script-api", ClassLoader.getPlatformClassLoader());
        this.host = host;
    }

    @Override
    protected Class<?> findClass(String name) throws ClassNotFoundException {
        for (String prefix : VISIBLE) {
            if (name.startsWith(prefix)) {
                return host.loadClass(name);
            }
        }
        throw new ClassNotFoundException(name + " (plugins in the plugin host see only the JDK, Groovy and io.aegisquartz.api.*)");
    }
}
