package io.aegisquartz.output.kafka;

import io.aegisquartz.output.kafka.bridge.KafkaBridge;

import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.InvocationTargetException;
import java.net.URISyntaxException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The Kafka client's own class loader: the jars of {@code lib/kafka/} (outside the agent's
 * classpath), over the platform class loader, plus two things taken from the agent's loader: the
 * bridge interface ({@code output.kafka.bridge}) and SLF4J (so Kafka logs to the agent's log). The
 * bridge's implementation ({@code output.kafka.client}) is compiled into the agent's jar but defined
 * here, so that it sees these Kafka classes. An agent without a kafka output never creates one, and
 * never loads a Kafka class; one with a kafka output loads them here, once.
 */
public final class KafkaClientLoader extends URLClassLoader {

    /** Overrides where lib/kafka is (tests, and installs that move it). */
    public static final String LIB_PROPERTY = "aegis.kafka.lib";

    private static final String BRIDGE_PACKAGE = KafkaBridge.class.getPackageName() + ".";
    private static final String CLIENT_PACKAGE = "io.aegisquartz.output.kafka.client.";
    private static final String IMPLEMENTATION = CLIENT_PACKAGE + "ClientBridge";

    private static KafkaClientLoader shared;

    static {
        registerAsParallelCapable();
    }

    private final ClassLoader agent;

    private KafkaClientLoader(URL[] jars, ClassLoader agent) {
        super("aegis-kafka", jars, ClassLoader.getPlatformClassLoader());
        this.agent = agent;
    }

    /**
     * Why the client cannot be loaded: one line naming the directory and the fix. An IOException, so
     * that the agent's wiring catches it without naming a class of this package (the verifier loads
     * the classes of catch clauses, and an agent without a kafka output must load none of them).
     */
    public static final class Missing extends IOException {
        Missing(String message) {
            super(message);
        }
    }

    /**
     * A bridge to a new client with the producer settings {@code config}, a send waiting up to
     * {@code wait} for its acknowledgements; nothing connects until the first send. The loader is made once per JVM: outputs added by a reload share it.
     */
    public static KafkaBridge bridge(Map<String, Object> config, java.time.Duration wait) throws Missing {
        KafkaClientLoader loader = loader();
        try {
            Class<?> c = Class.forName(IMPLEMENTATION, true, loader);
            return (KafkaBridge) c.getConstructor(Map.class, Long.class).newInstance(config, wait.toMillis());
        } catch (InvocationTargetException e) {
            throw new Missing("the Kafka client refuses its settings: " + e.getCause().getMessage());
        } catch (ReflectiveOperationException | LinkageError e) {
            throw new Missing("the Kafka client in " + loader.dir() + " cannot be loaded (" + e + "); reinstall the package");
        }
    }

    private Path dir() {
        URL[] urls = getURLs();
        try {
            return urls.length == 0 ? null : Path.of(urls[0].toURI()).getParent();
        } catch (URISyntaxException e) {
            return null;
        }
    }

    private static synchronized KafkaClientLoader loader() throws Missing {
        if (shared == null) {
            Path dir = libDir();
            List<URL> jars = new ArrayList<>();
            try (Stream<Path> files = Files.list(dir)) {
                for (Path f : files.filter(f -> f.getFileName().toString().endsWith(".jar")).sorted().toList()) {
                    jars.add(f.toUri().toURL());
                }
            } catch (IOException e) {
                throw new Missing(dir + " (the Kafka client of the kafka output) cannot be read: " + e.getMessage()
                        + "; reinstall the package, or build with mvn package");
            }
            if (jars.stream().noneMatch(u -> u.getPath().contains("kafka-clients"))) {
                throw new Missing(dir + " holds no kafka-clients jar (the Kafka client of the kafka output)"
                        + "; reinstall the package, or build with mvn package");
            }
            shared = new KafkaClientLoader(jars.toArray(URL[]::new), KafkaClientLoader.class.getClassLoader());
        }
        return shared;
    }

    /**
     * lib/kafka beside the agent's jar: {@code lib/aegis-quartz.jar} installed, so {@code lib/kafka};
     * {@code target/aegis-quartz.jar} or {@code target/classes} as Maven built it, so {@code target/lib/kafka}.
     */
    static Path libDir() throws Missing {
        String configured = System.getProperty(LIB_PROPERTY);
        if (configured != null && !configured.isEmpty()) {
            return Path.of(configured);
        }
        try {
            Path code = Path.of(KafkaClientLoader.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            Path parent = code.getParent();
            return parent.getFileName().toString().equals("lib") ? parent.resolve("kafka") : parent.resolve("lib").resolve("kafka");
        } catch (URISyntaxException | RuntimeException e) {
            throw new Missing("cannot tell where the agent's jar is, so where lib/kafka is (" + e + "); set -D" + LIB_PROPERTY + "=DIR");
        }
    }

    @Override
    protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
        if (name.startsWith(BRIDGE_PACKAGE) || name.startsWith("org.slf4j.")) {
            return agent.loadClass(name);
        }
        if (name.startsWith(CLIENT_PACKAGE)) {
            synchronized (getClassLoadingLock(name)) {
                Class<?> c = findLoadedClass(name);
                if (c == null) {
                    c = defineFromAgentJar(name);
                }
                if (resolve) {
                    resolveClass(c);
                }
                return c;
            }
        }
        return super.loadClass(name, resolve);
    }

    private Class<?> defineFromAgentJar(String name) throws ClassNotFoundException {
        try (InputStream in = agent.getResourceAsStream(name.replace('.', '/') + ".class")) {
            if (in == null) {
                throw new ClassNotFoundException(name);
            }
            byte[] bytes = in.readAllBytes();
            return defineClass(name, bytes, 0, bytes.length, KafkaClientLoader.class.getProtectionDomain());
        } catch (IOException e) {
            throw new ClassNotFoundException(name, e);
        }
    }
}
