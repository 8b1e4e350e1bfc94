package io.aegisquartz.plugin.jar;

import io.aegisquartz.api.Sampler;
import io.aegisquartz.config.JobSpec;
import io.aegisquartz.plugin.InJvmPlugin;
import io.aegisquartz.plugin.InJvmRunner;
import io.aegisquartz.plugin.JobMemory;
import io.aegisquartz.plugin.PluginException;
import io.aegisquartz.plugin.PluginKind;
import io.aegisquartz.plugin.PrefixClassLoader;
import io.aegisquartz.plugin.RunContext;
import io.aegisquartz.plugin.exec.ProcessCommands;
import io.aegisquartz.plugin.exec.ProcessRunner;

import java.io.IOException;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A JAR plugin: {@link Sampler} implementations found with {@link ServiceLoader} in a class loader of
 * the JAR's own, whose parent shows only the JDK and the plugin API.
 *
 * <p>Only the sampler classes are looked up at load time; instances are created on the plugin
 * thread, under the run's limits, one per job, and kept between runs.
 */
public final class JarPlugin extends InJvmPlugin implements AutoCloseable {

    private final URLClassLoader loader;
    private final List<ServiceLoader.Provider<Sampler>> samplers;
    private final AtomicInteger inFlight = new AtomicInteger();
    private volatile boolean retired;

    private JarPlugin(Path file, URLClassLoader loader, List<ServiceLoader.Provider<Sampler>> samplers, InJvmRunner runner,
                      ProcessRunner processes) {
        super(file, runner, new ProcessCommands(processes));
        this.loader = loader;
        this.samplers = samplers;
    }

    /**
     * Opens {@code file} and finds its samplers.
     *
     * @throws PluginException if it is not a readable JAR or declares no sampler
     */
    public static JarPlugin open(Path file, InJvmRunner runner, ProcessRunner processes) throws PluginException {
        URL url;
        try {
            url = file.toUri().toURL();
        } catch (MalformedURLException e) {
            throw new PluginException("bad JAR path " + file, null);
        }
        return open(file, new URLClassLoader("plugin " + file.getFileName(), new URL[] {url}, apiOnlyParent()), runner, processes);
    }

    /** The parent a JAR plugin's class loader needs: the JDK and the plugin API, nothing else of the agent. */
    public static ClassLoader apiOnlyParent() {
        return new PrefixClassLoader("aegis-plugin-api", JarPlugin.class.getClassLoader(), List.of("io.aegisquartz.api."),
                "JAR plugins see only the JDK and io.aegisquartz.api.*; bundle other libraries in the JAR");
    }

    /**
     * Finds the samplers in {@code loader}, a class loader holding the JAR {@code file} (the plugin
     * host's holds it in memory), under {@link #apiOnlyParent()}; closes the loader if there are none.
     *
     * @throws PluginException if the JAR declares no sampler, or a bad one
     */
    public static JarPlugin open(Path file, URLClassLoader loader, InJvmRunner runner, ProcessRunner processes) throws PluginException {
        List<ServiceLoader.Provider<Sampler>> found = new ArrayList<>();
        try {
            ServiceLoader.load(Sampler.class, loader).stream()
                    .filter(p -> p.type().getClassLoader() == loader)
                    .forEach(found::add);
        } catch (ServiceConfigurationError e) {
            closeQuietly(loader);
            throw new PluginException(file + ": " + e.getMessage(),
                    "check META-INF/services/io.aegisquartz.api.Sampler: each line must name a public class with a public no-argument constructor");
        }
        if (found.isEmpty()) {
            closeQuietly(loader);
            throw new PluginException(file + " holds no sampler",
                    "implement io.aegisquartz.api.Sampler and list the class in META-INF/services/io.aegisquartz.api.Sampler");
        }
        return new JarPlugin(file, loader, found, runner, processes);
    }

    @Override
    public PluginKind kind() {
        return PluginKind.JAR;
    }

    /** Class names of the samplers inside, for messages. */
    public List<String> samplerClasses() {
        return samplers.stream().map(p -> p.type().getName()).toList();
    }

    /** Picks the sampler a job asks for. */
    public ServiceLoader.Provider<Sampler> choose(JobSpec job) throws PluginException {
        return samplers.get(choose(file, samplerClasses(), job));
    }

    /**
     * Which of {@code classes} (the samplers of the JAR {@code file}, by class name) {@code job} asks for:
     * its index. The one sampler if the job names none.
     *
     * @throws PluginException if the job names none and there are several, or names one that is not there
     */
    public static int choose(Path file, List<String> classes, JobSpec job) throws PluginException {
        String wanted = job.options().sampler();
        if (wanted == null) {
            if (classes.size() == 1) {
                return 0;
            }
            throw new PluginException(file.getFileName() + " holds " + classes.size() + " samplers " + classes,
                    "pick one with sampler=NAME on the cron line (NAME is the class's simple or fully qualified name)");
        }
        for (int i = 0; i < classes.size(); i++) {
            String name = classes.get(i);
            if (name.equals(wanted) || name.substring(Math.max(name.lastIndexOf('.'), name.lastIndexOf('$')) + 1).equals(wanted)) {
                return i;
            }
        }
        throw new PluginException(file.getFileName() + " has no sampler named '" + wanted + "'; it has " + classes,
                "fix sampler= on the cron line");
    }

    @Override
    protected boolean budgetChecksCompiledIn() {
        return false;
    }

    @Override
    protected void body(JobSpec job, JobMemory memory, RunContext ctx) throws Exception {
        inFlight.incrementAndGet();
        try {
            Sampler s = (Sampler) memory.instanceFor(this);
            if (s == null) {
                s = choose(job).get();
                memory.keepInstance(this, s);
            }
            Thread.currentThread().setContextClassLoader(loader);
            s.sample(ctx);
        } finally {
            if (inFlight.decrementAndGet() == 0 && retired) {
                closeQuietly(loader);
            }
        }
    }

    @Override
    protected String where(Throwable t) {
        for (StackTraceElement e : t.getStackTrace()) {
            if (e.getClassLoaderName() != null && e.getClassLoaderName().equals(loader.getName()) && e.getLineNumber() > 0) {
                return " at " + e.getClassName() + "(" + e.getFileName() + ":" + e.getLineNumber() + ")";
            }
        }
        return "";
    }

    /**
     * Releases the JAR file once no run uses it: closing a class loader under a running sampler would
     * break its lazy class loading. A thread that was abandoned keeps the JAR open for good.
     */
    @Override
    public void close() {
        retired = true;
        if (inFlight.get() == 0) {
            closeQuietly(loader);
        }
    }

    private static void closeQuietly(URLClassLoader l) {
        try {
            l.close();
        } catch (IOException ignored) {
            // Nothing useful to do: the loader is being dropped either way.
        }
    }
}
