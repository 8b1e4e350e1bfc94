package io.aegisquartz.plugin.catalog;

import io.aegisquartz.config.AgentSettings;
import io.aegisquartz.config.JobSpec;
import io.aegisquartz.config.StrictModes;
import io.aegisquartz.plugin.AbandonedThreads;
import io.aegisquartz.plugin.FileStamp;
import io.aegisquartz.plugin.InJvmRunner;
import io.aegisquartz.plugin.Plugin;
import io.aegisquartz.plugin.PluginException;
import io.aegisquartz.plugin.PluginKind;
import io.aegisquartz.plugin.RunnerThreads;
import io.aegisquartz.plugin.exec.ExecPlugin;
import io.aegisquartz.plugin.exec.ProcessRunner;
import io.aegisquartz.plugin.groovy.GroovyPlugin;
import io.aegisquartz.plugin.jar.JarPlugin;

import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Loaded plugins by file, each loaded once and kept until its file changes.
 *
 * <p>A Groovy script is compiled on first use and recompiled only when its {@link FileStamp} changes;
 * a broken one is remembered as broken, so it is not recompiled on every fire. Loading happens on the
 * worker thread that needs the plugin; two jobs naming the same file wait for one load.
 */
public final class PluginCatalog implements AutoCloseable {

    private record Loaded(FileStamp stamp, Plugin plugin, PluginException error) {
    }

    private final InJvmRunner inJvm;
    private final ProcessRunner processes;
    private final StrictModes strictModes;
    private final Path compiledDir;
    private final boolean childJvm;
    private final Map<Path, Loaded> cache = new ConcurrentHashMap<>();
    private final Map<Path, Object> locks = new ConcurrentHashMap<>();

    public PluginCatalog(InJvmRunner inJvm, ProcessRunner processes, StrictModes strictModes) {
        this(inJvm, processes, strictModes, null);
    }

    /** @param compiledDir where compiled Groovy scripts are kept between starts; null: compile every time */
    public PluginCatalog(InJvmRunner inJvm, ProcessRunner processes, StrictModes strictModes, Path compiledDir) {
        this(inJvm, processes, strictModes, compiledDir, false);
    }

    /**
     * @param compiledDir where compiled Groovy scripts are kept between starts; null: compile every time
     * @param childJvm    compile Groovy scripts in a short-lived JVM of their own (needs {@code compiledDir})
     */
    public PluginCatalog(InJvmRunner inJvm, ProcessRunner processes, StrictModes strictModes, Path compiledDir, boolean childJvm) {
        this.inJvm = inJvm;
        this.processes = processes;
        this.strictModes = strictModes;
        this.compiledDir = compiledDir;
        this.childJvm = childJvm;
    }

    /** A catalog for a command that ends soon: compiles in this JVM. */
    public static PluginCatalog create(RunnerThreads threads, AgentSettings settings) {
        return create(threads, settings, false);
    }

    /**
     * A catalog with its own runners on {@code threads}, trusting plugin files as {@code settings} say.
     *
     * @param childJvm compile Groovy scripts in a JVM of their own, so that this one never holds the
     *                 compiler: for the long-running agent
     */
    public static PluginCatalog create(RunnerThreads threads, AgentSettings settings, boolean childJvm) {
        // The launcher's class-data training runs use a scratch cache: they must not leave root-owned
        // files in the agent's.
        String scratch = System.getProperty("aegis.compiled-dir");
        Path compiled = scratch != null ? Path.of(scratch) : settings.compiledDir();
        return new PluginCatalog(new InJvmRunner(new AbandonedThreads()), new ProcessRunner(threads), StrictModes.of(settings), compiled, childJvm);
    }

    public InJvmRunner inJvm() {
        return inJvm;
    }

    public ProcessRunner processes() {
        return processes;
    }

    /**
     * The plugin in {@code file}, loading or reloading it if needed.
     *
     * @throws PluginException if the file is missing, not trusted (see {@link StrictModes}), of no known
     *                         kind, or does not compile
     */
    public Plugin get(Path file) throws PluginException {
        FileStamp stamp = FileStamp.of(file);
        if (stamp == null) {
            throw new PluginException("plugin file is missing: " + file, "restore it, or remove the cron line that names it");
        }
        Loaded l = cache.get(file);
        if (l == null || !l.stamp().equals(stamp)) {
            synchronized (locks.computeIfAbsent(file, k -> new Object())) {
                l = cache.get(file);
                if (l == null || !l.stamp().equals(stamp)) {
                    Loaded fresh = load(file, stamp);
                    Loaded old = cache.put(file, fresh);
                    retire(old);
                    l = fresh;
                }
            }
        }
        if (l.error() != null) {
            throw l.error();
        }
        return l.plugin();
    }

    /** Loads {@code job}'s plugin and checks that it can serve the job (JAR: the sampler exists). */
    public Plugin check(JobSpec job) throws PluginException {
        Plugin p = get(job.pluginPath());
        if (p instanceof JarPlugin jar) {
            jar.choose(job);
        }
        return p;
    }

    /**
     * Whether loading {@code file} would run the Groovy compiler (seconds, in a JVM of its own): a
     * Groovy script not loaded yet, or changed, with no compiled classes in the cache.
     */
    public boolean needsCompile(Path file) {
        Loaded l = cache.get(file);
        if (l != null && l.stamp().equals(FileStamp.of(file))) {
            return false;
        }
        try {
            return PluginKind.of(file) == PluginKind.GROOVY && (compiledDir == null || !GroovyPlugin.compiled(file, compiledDir));
        } catch (PluginException e) {
            return false; // loading it will say what is wrong, at once
        }
    }

    /** Where compiled Groovy scripts are kept, or null. */
    public Path compiledDir() {
        return compiledDir;
    }

    /** The stamp of the version currently loaded from {@code file}, or null if it was never loaded. */
    public FileStamp loadedStamp(Path file) {
        Loaded l = cache.get(file);
        return l == null ? null : l.stamp();
    }

    /** Drops a plugin that no job names any more. */
    public void forget(Path file) {
        retire(cache.remove(file));
        locks.remove(file);
    }

    private Loaded load(Path file, FileStamp stamp) {
        StrictModes.Refusal refusal = strictModes.check(file);
        if (refusal != null) {
            return new Loaded(stamp, null, new PluginException(refusal.message(), refusal.fix()));
        }
        try {
            PluginKind kind = PluginKind.of(file);
            Plugin p = switch (kind) {
                case GROOVY -> GroovyPlugin.compile(file, inJvm, processes, compiledDir, childJvm);
                case JAR -> JarPlugin.open(file, inJvm, processes);
                case EXEC -> new ExecPlugin(file, processes);
            };
            return new Loaded(stamp, p, null);
        } catch (PluginException e) {
            return new Loaded(stamp, null, e);
        }
    }

    private static void retire(Loaded l) {
        if (l != null && l.plugin() instanceof AutoCloseable c) {
            try {
                c.close();
            } catch (Exception ignored) {
                // Closing only releases file handles; a failure leaves them to the garbage collector.
            }
        }
    }

    @Override
    public void close() {
        cache.values().forEach(PluginCatalog::retire);
        cache.clear();
    }
}
