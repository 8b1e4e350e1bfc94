package io.aegisquartz.plugin;

import java.util.List;

/**
 * A class loader that shows the JDK's platform classes plus the classes of {@code source} whose names
 * start with one of a few prefixes, and nothing else: the parent of a plugin's own class loader.
 *
 * <p>This is what lets a JAR plugin bundle its own Jackson, Guava or anything else in any version (it
 * never sees ours, and two plugins never see each other's), and keeps honest plugins from depending on
 * the agent's internals. It is not a security boundary: reflection reaches the application class
 * loader. Used for JARs ({@code jar.JarPlugin}) and for scripts in the plugin host
 * ({@code host.HostSession}).
 */
public final class PrefixClassLoader extends ClassLoader {

    static {
        registerAsParallelCapable();
    }

    private final ClassLoader source;
    private final List<String> prefixes;
    private final String refusal;

    /**
     * @param name     the loader's name, in stack traces
     * @param source   where the visible classes come from (the agent's own loader)
     * @param prefixes class name prefixes that are visible ("io.aegisquartz.api.")
     * @param refusal  what a ClassNotFoundException for anything else says after the class name
     */
    public PrefixClassLoader(String name, ClassLoader source, List<String> prefixes, String refusal) {
        super(name, ClassLoader.getPlatformClassLoader());
        this.source = source;
        this.prefixes = List.copyOf(prefixes);
        this.refusal = refusal;
    }

    @Override
    protected Class<?> findClass(String name) throws ClassNotFoundException {
        for (String prefix : prefixes) {
            if (name.startsWith(prefix)) {
                return source.loadClass(name);
            }
        }
        throw new ClassNotFoundException(name + " (" + refusal + ")");
    }
}
