package io.aegisquartz.plugin.jar;

/**
 * The parent of every JAR plugin's class loader: the JDK's platform classes plus the plugin API
 * package, and nothing else of the agent.
 *
 * <p>This is what lets a plugin bundle its own Jackson, Guava or anything else in any version: it can
 * never see ours, and two plugins never see each other's.
 */
final class ApiOnlyClassLoader extends ClassLoader {

    static final String API_PACKAGE = "io.aegisquartz.api.";

    static {
        registerAsParallelCapable();
    }

    private final ClassLoader agent;

    ApiOnlyClassLoader(ClassLoader agent) {
        super("aegis-plugin-api", ClassLoader.getPlatformClassLoader());
        this.agent = agent;
    }

    @Override
    protected Class<?> findClass(String name) throws ClassNotFoundException {
        if (name.startsWith(API_PACKAGE)) {
            return agent.loadClass(name);
        }
        throw new ClassNotFoundException(name + " (JAR plugins see only the JDK and " + API_PACKAGE + "*; bundle other libraries in the JAR)");
    }
}
