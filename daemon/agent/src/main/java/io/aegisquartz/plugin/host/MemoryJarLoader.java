package io.aegisquartz.plugin.host;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.net.URLConnection;
import java.net.URLStreamHandler;
import java.security.CodeSource;
import java.security.ProtectionDomain;
import java.security.cert.Certificate;
import java.util.Collections;
import java.util.Enumeration;
import java.util.HashMap;
import java.util.Map;
import java.util.jar.JarEntry;
import java.util.jar.JarInputStream;

/**
 * A JAR plugin's classes and resources, held in memory: the plugin host is sent the JAR's bytes and
 * reads no file of the agent's (under the packaged service it runs as a user who cannot).
 *
 * <p>A URLClassLoader without URLs, so that {@link io.aegisquartz.plugin.jar.JarPlugin} treats it as
 * the loader of a JAR file; resources are served from a URL scheme of its own.
 */
final class MemoryJarLoader extends URLClassLoader {

    /** Entries and bytes a JAR may unpack to in the host: a ZIP bomb ends here, not in the host's heap. */
    static final int MAX_ENTRIES = 20_000;
    static final long MAX_UNPACKED = 64L << 20;

    static {
        registerAsParallelCapable();
    }

    private final Map<String, byte[]> entries;
    private final ProtectionDomain domain;
    private final URLStreamHandler handler = new URLStreamHandler() {
        @Override
        protected URLConnection openConnection(URL u) throws IOException {
            byte[] b = entries.get(u.getPath().substring(1));
            if (b == null) {
                throw new IOException("no entry " + u.getPath() + " in the JAR");
            }
            return new URLConnection(u) {
                @Override
                public void connect() {
                }

                @Override
                public InputStream getInputStream() {
                    return new ByteArrayInputStream(b);
                }
            };
        }
    };

    private MemoryJarLoader(String name, Map<String, byte[]> entries, ClassLoader parent) throws MalformedURLException {
        super(name, new URL[0], parent);
        this.entries = entries;
        this.domain = new ProtectionDomain(new CodeSource(new URL("aegis-jar", null, -1, "/", handler), (Certificate[]) null), null, this, null);
    }

    /**
     * Unpacks {@code jar} into a loader under {@code parent}.
     *
     * @throws IOException if it is not a readable JAR, or unpacks to more than the caps allow
     */
    static MemoryJarLoader of(String name, byte[] jar, ClassLoader parent) throws IOException {
        Map<String, byte[]> entries = new HashMap<>();
        long total = 0;
        try (JarInputStream in = new JarInputStream(new ByteArrayInputStream(jar))) {
            JarEntry e;
            while ((e = in.getNextJarEntry()) != null) {
                if (e.isDirectory()) {
                    continue;
                }
                if (entries.size() >= MAX_ENTRIES) {
                    throw new IOException("more than " + MAX_ENTRIES + " entries");
                }
                byte[] b = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, MAX_UNPACKED - total + 1));
                total += b.length;
                if (total > MAX_UNPACKED) {
                    throw new IOException("it unpacks to more than " + (MAX_UNPACKED >> 20) + " MiB");
                }
                entries.put(e.getName(), b);
            }
        }
        if (entries.isEmpty()) {
            throw new IOException("not a JAR, or an empty one");
        }
        return new MemoryJarLoader(name, entries, parent);
    }

    @Override
    protected Class<?> findClass(String name) throws ClassNotFoundException {
        byte[] b = entries.get(name.replace('.', '/') + ".class");
        if (b == null) {
            throw new ClassNotFoundException(name);
        }
        return defineClass(name, b, 0, b.length, domain);
    }

    @Override
    public URL findResource(String name) {
        if (!entries.containsKey(name)) {
            return null;
        }
        try {
            return new URL("aegis-jar", null, -1, "/" + name, handler);
        } catch (MalformedURLException e) {
            return null;
        }
    }

    @Override
    public Enumeration<URL> findResources(String name) {
        URL u = findResource(name);
        return u == null ? Collections.emptyEnumeration() : Collections.enumeration(java.util.List.of(u));
    }
}
