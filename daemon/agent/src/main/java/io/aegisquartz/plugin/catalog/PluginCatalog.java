package io.aegisquartz.plugin.catalog;

import io.aegisquartz.config.AgentSettings;
import io.aegisquartz.config.JobOptions;
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
import io.aegisquartz.plugin.host.HostPlugin;
import io.aegisquartz.plugin.host.PluginHostClient;
import io.aegisquartz.plugin.jar.JarPlugin;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Loaded plugins by file, each loaded once and kept until its file changes.
 *
 * <p>A Groovy script is compiled on first use and recompiled only when its {@link FileStamp} changes;
 * a broken one is remembered as broken, so it is not recompiled on every fire. Loading happens on the
 * worker thread that needs the plugin; two jobs naming the same file wait for one load.
 *
 * <p>A Groovy or JAR plugin is loaded once for the jobs that run it in the agent and once for those
 * that run it in the plugin host ({@code isolation=}); without a host (commands that only check
 * plugins) both load here, and nothing runs.
 */
public final class PluginCatalog implements AutoCloseable {

    private record Loaded(FileStamp stamp, Plugin plugin, PluginException error) {
    }

    /** A plugin file, and whether it is loaded for the plugin host. */
    private record Key(Path file, boolean host) {
    }

    private final InJvmRunner inJvm;
    private final ProcessRunner processes;
    private final StrictModes strictModes;
    private final Path compiledDir;
    private final boolean childJvm;
    private final PluginHostClient host;
    /** The exec host for executables with {@code isolation=host} and no {@code user=}, or null: they run here. */
    private final PluginHostClient execHost;
    private final Map<Key, Loaded> cache = new ConcurrentHashMap<>();
    private final Map<Key, Object> locks = new ConcurrentHashMap<>();

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
        this(inJvm, processes, strictModes, compiledDir, childJvm, null);
    }

    /**
     * @param host the plugin host for jobs with {@code isolation=host} (closed with the catalog); null:
     *             those plugins are loaded here too, for commands that check plugins without running them
     */
    public PluginCatalog(InJvmRunner inJvm, ProcessRunner processes, StrictModes strictModes, Path compiledDir, boolean childJvm,
                         PluginHostClient host) {
        this(inJvm, processes, strictModes, compiledDir, childJvm, host, null);
    }

    /** @param execHost the exec host for executables with {@code isolation=host} and no {@code user=} (closed with the catalog); null: they run here */
    public PluginCatalog(InJvmRunner inJvm, ProcessRunner processes, StrictModes strictModes, Path compiledDir, boolean childJvm,
                         PluginHostClient host, PluginHostClient execHost) {
        this.execHost = execHost;
        this.inJvm = inJvm;
        this.processes = processes;
        this.strictModes = strictModes;
        this.compiledDir = compiledDir;
        this.childJvm = childJvm;
        this.host = host;
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
        return create(threads, settings, childJvm, false);
    }

    /**
     * A catalog as {@link #create(RunnerThreads, AgentSettings, boolean)} makes, which with {@code host}
     * runs the plugins of {@code isolation=host} jobs in a plugin host ([plugin_host] settings).
     */
    public static PluginCatalog create(RunnerThreads threads, AgentSettings settings, boolean childJvm, boolean host) {
        // The launcher's class-data training runs use a scratch cache: they must not leave root-owned
        // files in the agent's.
        String scratch = System.getProperty("aegis.compiled-dir");
        Path compiled = scratch != null ? Path.of(scratch) : settings.compiledDir();
        return new PluginCatalog(new InJvmRunner(new AbandonedThreads()), new ProcessRunner(threads), StrictModes.of(settings), compiled, childJvm,
                host ? new PluginHostClient(settings.pluginHost()) : null,
                host && settings.execHost() != null ? new PluginHostClient(settings.execHost()) : null);
    }

    /** The plugin host, or null if this catalog runs every plugin here. */
    public PluginHostClient host() {
        return host;
    }

    /** The exec host, or null if executables run here. */
    public PluginHostClient execHost() {
        return execHost;
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
        return get(new Key(file, false));
    }

    private Plugin get(Key key) throws PluginException {
        Path file = key.file();
        FileStamp stamp = FileStamp.of(file);
        if (stamp == null) {
            throw new PluginException("plugin file is missing: " + file, "restore it, or remove the cron line that names it");
        }
        Loaded l = cache.get(key);
        if (l == null || !l.stamp().equals(stamp)) {
            synchronized (locks.computeIfAbsent(key, k -> new Object())) {
                l = cache.get(key);
                if (l == null || !l.stamp().equals(stamp)) {
                    Loaded fresh = load(key, stamp);
                    Loaded old = cache.put(key, fresh);
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

    /** Loads {@code job}'s plugin, where the job runs it, and checks that it can serve the job (JAR: the sampler exists). */
    public Plugin check(JobSpec job) throws PluginException {
        Plugin p = get(key(job));
        if (p instanceof JarPlugin jar) {
            jar.choose(job);
        } else if (p instanceof HostPlugin hosted) {
            hosted.check(job);
        }
        return p;
    }

    /**
     * Whether loading {@code file} would run the Groovy compiler (seconds, in a JVM of its own): a
     * Groovy script not loaded yet, or changed, with no compiled classes in the cache.
     */
    public boolean needsCompile(Path file) {
        Loaded l = cache.getOrDefault(new Key(file, false), cache.get(new Key(file, true)));
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
        Loaded l = cache.get(new Key(file, false));
        Loaded h = cache.get(new Key(file, true));
        return l != null ? l.stamp() : h == null ? null : h.stamp();
    }

    /** Where {@code job}'s plugin is loaded: in the plugin host, or here. */
    private Key key(JobSpec job) {
        Path file = job.pluginPath();
        String name = file.getFileName().toString();
        boolean inJvm = name.endsWith(".groovy") || name.endsWith(".jar");
        boolean hosted = job.options().isolation() == JobOptions.Isolation.HOST && (inJvm ? host != null
                // Switching to user= needs a privilege the exec host must not have: such a job runs here.
                : execHost != null && job.options().user() == null);
        return new Key(file, hosted);
    }

    /**
     * Drops every plugin that none of {@code jobs} runs where it is loaded: a file no job names any more,
     * or one that no job runs in the plugin host any more (the host stops when it has no plugin left).
     */
    public void retain(Collection<JobSpec> jobs) {
        Set<Key> used = new HashSet<>();
        jobs.forEach(j -> used.add(key(j)));
        for (Key k : List.copyOf(cache.keySet())) {
            if (!used.contains(k)) {
                retire(cache.remove(k));
                locks.remove(k);
            }
        }
    }

    private Loaded load(Key key, FileStamp stamp) {
        Path file = key.file();
        StrictModes.Refusal refusal = strictModes.check(file);
        if (refusal != null) {
            return new Loaded(stamp, null, new PluginException(refusal.message(), refusal.fix()));
        }
        try {
            PluginKind kind = PluginKind.of(file);
            Plugin p = switch (kind) {
                case GROOVY -> key.host() ? host.groovy(file, GroovyPlugin.compileClasses(file, compiledDir, childJvm))
                        : GroovyPlugin.compile(file, inJvm, processes, compiledDir, childJvm);
                case JAR -> key.host() ? host.jar(file) : JarPlugin.open(file, inJvm, processes);
                case EXEC -> key.host() ? execHost.executable(file, !readableByOthers(file)) : new ExecPlugin(file, processes);
            };
            return new Loaded(stamp, p, null);
        } catch (PluginException e) {
            return new Loaded(stamp, null, e);
        }
    }

    /**
     * True if any local user may run {@code file} where it is: it and every directory above it are
     * open to others. Else the exec host (another user) is sent its bytes and runs its own copy.
     */
    static boolean readableByOthers(Path file) {
        try {
            Set<PosixFilePermission> f = Files.getPosixFilePermissions(file);
            if (!f.contains(PosixFilePermission.OTHERS_READ) || !f.contains(PosixFilePermission.OTHERS_EXECUTE)) {
                return false;
            }
            for (Path d = file.toAbsolutePath().getParent(); d != null; d = d.getParent()) {
                if (!Files.getPosixFilePermissions(d).contains(PosixFilePermission.OTHERS_EXECUTE)) {
                    return false;
                }
            }
            return true;
        } catch (IOException | UnsupportedOperationException e) {
            return false;
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
        if (execHost != null) {
            execHost.close();
        }
        if (host != null) {
            host.close(); // first, so that its end is logged as the agent's stop, not as its last plugin's unload
        }
        cache.values().forEach(PluginCatalog::retire);
        cache.clear();
    }
}
