package io.aegisquartz.plugin.groovy;

import groovy.lang.Binding;
import groovy.lang.GroovyClassLoader;
import groovy.lang.Script;
import io.aegisquartz.config.JobSpec;
import io.aegisquartz.plugin.InJvmPlugin;
import io.aegisquartz.plugin.InJvmRunner;
import io.aegisquartz.plugin.JobMemory;
import io.aegisquartz.plugin.PluginException;
import io.aegisquartz.plugin.PluginKind;
import io.aegisquartz.plugin.RunContext;
import io.aegisquartz.plugin.exec.ProcessCommands;
import io.aegisquartz.plugin.exec.ProcessRunner;
import org.codehaus.groovy.control.CompilationUnit;
import org.codehaus.groovy.control.CompilerConfiguration;
import org.codehaus.groovy.control.Phases;
import org.codehaus.groovy.control.SourceUnit;
import org.codehaus.groovy.tools.GroovyClass;
import org.codehaus.groovy.control.MultipleCompilationErrorsException;
import org.codehaus.groovy.control.customizers.ImportCustomizer;
import org.codehaus.groovy.control.messages.ExceptionMessage;
import org.codehaus.groovy.control.messages.Message;
import org.codehaus.groovy.control.messages.SyntaxErrorMessage;
import org.codehaus.groovy.syntax.SyntaxException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A Groovy script plugin, compiled once with budget checks woven in.
 *
 * <p>Each script gets its own class loader, so that when the file changes and the script is
 * recompiled, the old classes can be unloaded. A new script object is made per run; {@code state}
 * carries anything that must survive between runs.
 */
public final class GroovyPlugin extends InJvmPlugin {

    private static final Logger LOG = LoggerFactory.getLogger(GroovyPlugin.class);

    static {
        GroovyRuntime.configure(); // before any script runs
    }

    private final Class<? extends Script> scriptClass;
    private final String fileName;

    private GroovyPlugin(Path file, Class<? extends Script> scriptClass, InJvmRunner runner, ProcessRunner processes) {
        super(file, runner, new ProcessCommands(processes));
        this.scriptClass = scriptClass;
        this.fileName = file.getFileName().toString();
    }

    /** Compiles {@code file}, without a cache of compiled scripts. */
    public static GroovyPlugin compile(Path file, InJvmRunner runner, ProcessRunner processes) throws PluginException {
        return compile(file, runner, processes, null);
    }

    /** Compiles {@code file} in this JVM, or loads its classes from {@code cacheDir} when this exact script was compiled before. */
    public static GroovyPlugin compile(Path file, InJvmRunner runner, ProcessRunner processes, Path cacheDir) throws PluginException {
        return compile(file, runner, processes, cacheDir, false);
    }

    /**
     * Compiles {@code file}, or loads its classes from {@code cacheDir} when this exact script was
     * compiled before ({@link CompiledScripts}).
     *
     * @param cacheDir where compiled scripts are kept; null: always compile, in this JVM
     * @param childJvm compile in a short-lived JVM of its own ({@link ChildCompiler}), so that this one
     *                 never loads the compiler: for the long-running agent
     * @throws PluginException with the file, line and column of the first compile error
     */
    public static GroovyPlugin compile(Path file, InJvmRunner runner, ProcessRunner processes, Path cacheDir, boolean childJvm)
            throws PluginException {
        return define(file, compileClasses(file, cacheDir, childJvm), GroovyPlugin.class.getClassLoader(), runner, processes);
    }

    /**
     * The compiled classes of {@code file}, from {@code cacheDir} when this exact script was compiled
     * before, else compiled (in a child JVM if {@code childJvm}): what the plugin host is sent.
     *
     * @throws PluginException with the file, line and column of the first compile error
     */
    public static CompiledScripts.Entry compileClasses(Path file, Path cacheDir, boolean childJvm) throws PluginException {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new PluginException("cannot read " + file + ": " + e.getMessage(), "check that the agent's user can read it");
        }
        CompiledScripts cache = cacheDir == null ? null : new CompiledScripts(cacheDir);
        String key = cache == null ? null : CompiledScripts.key(file, text);
        CompiledScripts.Entry entry = cache == null ? null : cache.read(file, key);
        if (entry == null && cache != null && CompiledScripts.SEED_DIR != null && !CompiledScripts.SEED_DIR.equals(cache.dir())) {
            // A default plugin compiled when the agent was built: copied into the cache, as if compiled here.
            entry = new CompiledScripts(CompiledScripts.SEED_DIR).read(file, key);
            if (entry != null) {
                cache.write(file, key, entry);
            }
        }
        if (entry == null && childJvm && cache != null) {
            entry = ChildCompiler.compile(file, text, cache, key); // null: it logged why; compiled here instead
        }
        if (entry == null) {
            // One compile at a time: they are rare (a start without a cache, a changed file), and the
            // parser's caches are cleared after each, which must not happen under another compile.
            synchronized (COMPILE_LOCK) {
                try {
                    entry = compileToBytes(file, text);
                } finally {
                    forgetParserCaches();
                }
            }
            if (cache != null) {
                cache.write(file, key, entry);
            }
        }
        return entry;
    }

    /**
     * The plugin made of {@code entry}'s classes, defined in a class loader of their own under
     * {@code parent} (the agent's loader, or in the plugin host one that shows only what scripts need).
     *
     * @throws PluginException if the first class is not a plugin script or cannot be loaded
     */
    public static GroovyPlugin define(Path file, CompiledScripts.Entry entry, ClassLoader parent, InJvmRunner runner, ProcessRunner processes)
            throws PluginException {
        try {
            Class<?> cls = Class.forName(entry.mainClass(), false, new ScriptClassLoader(parent, entry.classes()));
            if (!AegisScript.class.isAssignableFrom(cls)) {
                throw new PluginException(file + ": its first class, " + cls.getName() + ", is not a plugin",
                        "write top-level statements, or make the first class in the file extend io.aegisquartz.plugin.groovy.AegisScript"
                                + " (as plugins-default/sampler.groovy does); see plugins-user/README.md");
            }
            return new GroovyPlugin(file, cls.asSubclass(Script.class), runner, processes);
        } catch (ClassNotFoundException | LinkageError e) {
            throw new PluginException("cannot load the compiled " + file + ": " + e, "fix the script; run 'aegis-quartz run-plugin' to try it");
        }
    }

    /** Whether {@code file} as it is now has compiled classes in {@code cacheDir}, so that loading it runs no compiler. */
    public static boolean compiled(Path file, Path cacheDir) {
        try {
            String text = Files.readString(file, StandardCharsets.UTF_8);
            String key = CompiledScripts.key(file, text);
            return new CompiledScripts(cacheDir).has(file, key)
                    || CompiledScripts.SEED_DIR != null && new CompiledScripts(CompiledScripts.SEED_DIR).has(file, key);
        } catch (IOException | RuntimeException e) {
            return false; // loading it will say what is wrong
        }
    }

    private static final Object COMPILE_LOCK = new Object();

    /**
     * The compiler keeps, in static fields, caches the agent needs again only when a plugin file
     * changes: the ANTLR parser's prediction DFA of everything it has parsed (about 15 MB of heap
     * after the default plugins), and for static type checking the AST of every Groovy extension
     * method and of every class it has looked at (about 8 MB, held strongly, keyed by the agent's own
     * class loader). Drop them; the next compile rebuilds what it needs.
     */
    private static void forgetParserCaches() {
        org.apache.groovy.parser.antlr4.GroovyParser._ATN.clearDFA();
        org.apache.groovy.parser.antlr4.GroovyLexer._ATN.clearDFA();
        try {
            java.lang.reflect.Field f = org.codehaus.groovy.transform.stc.AbstractExtensionMethodCache.class.getDeclaredField("cache");
            f.setAccessible(true);
            ((org.codehaus.groovy.runtime.memoize.EvictableCache<?, ?>) f.get(org.codehaus.groovy.transform.stc.ExtensionMethodCache.INSTANCE)).clearAll();
            Class<?> helperCache = Class.forName("org.codehaus.groovy.ast.ClassHelper$ClassHelperCache");
            java.lang.reflect.Field c = helperCache.getDeclaredField("classCache");
            c.setAccessible(true);
            ((Map<?, ?>) c.get(null)).clear();
        } catch (ReflectiveOperationException | RuntimeException e) {
            // A Groovy version without these fields: the caches stay, which costs memory, not correctness.
            LOG.warn("cannot clear the Groovy compiler's caches (about 8 MB of heap stay in use): {}", e.toString());
        }
    }

    /** Runs the Groovy compiler on {@code text}: the bytes of every class it makes, the script class first. */
    static CompiledScripts.Entry compileToBytes(Path file, String text) throws PluginException {
        CompilerConfiguration cc = new CompilerConfiguration();
        cc.setScriptBaseClass(AegisScript.class.getName());
        cc.setSourceEncoding("UTF-8");
        ImportCustomizer imports = new ImportCustomizer();
        imports.addStarImports("io.aegisquartz.api");
        cc.addCompilationCustomizers(imports, new BudgetCheckCustomizer());
        try (GroovyClassLoader loader = new GroovyClassLoader(GroovyPlugin.class.getClassLoader(), cc)) {
            CompilationUnit cu = new CompilationUnit(cc, null, loader);
            SourceUnit su = cu.addSource(file.getFileName().toString(), text);
            cu.compile(Phases.CLASS_GENERATION);
            Map<String, byte[]> classes = new LinkedHashMap<>();
            for (GroovyClass c : cu.getClasses()) {
                classes.put(c.getName(), c.getBytes());
            }
            String main = su.getAST().getMainClassName();
            if (main == null || !classes.containsKey(main)) {
                main = su.getAST().getClasses().isEmpty() ? null : su.getAST().getClasses().get(0).getName();
            }
            if (main == null) {
                throw new PluginException(file + " compiles to nothing", "write the script's statements; see plugins-user/README.md");
            }
            return new CompiledScripts.Entry(main, classes);
        } catch (MultipleCompilationErrorsException e) {
            throw compileError(file, e);
        } catch (IOException | RuntimeException | LinkageError e) {
            throw new PluginException("cannot compile " + file + ": " + e, "fix the script; run 'aegis-quartz run-plugin' to try it");
        }
    }

    /** Defines a script's classes from their bytes, on demand; one per script so replaced scripts unload. */
    private static final class ScriptClassLoader extends ClassLoader {
        private final Map<String, byte[]> classes;

        ScriptClassLoader(ClassLoader parent, Map<String, byte[]> classes) {
            super(parent);
            this.classes = classes;
        }

        @Override
        protected Class<?> findClass(String name) throws ClassNotFoundException {
            byte[] b = classes.get(name);
            if (b == null) {
                throw new ClassNotFoundException(name);
            }
            return defineClass(name, b, 0, b.length);
        }
    }

    private static PluginException compileError(Path file, MultipleCompilationErrorsException e) {
        int count = e.getErrorCollector().getErrorCount();
        Message first = e.getErrorCollector().getError(0);
        String more = count > 1 ? " (and " + (count - 1) + " more)" : "";
        if (first instanceof SyntaxErrorMessage sem) {
            SyntaxException se = sem.getCause();
            return new PluginException(file + ":" + se.getLine() + ":" + se.getStartColumn() + ": " + se.getOriginalMessage() + more,
                    "fix the script; 'aegis-quartz run-plugin' compiles and runs it once", se.getLine(), se.getStartColumn());
        }
        if (first instanceof ExceptionMessage em) {
            return new PluginException(file + ": " + em.getCause().getMessage() + more, "fix the script");
        }
        return new PluginException(file + ": compile error" + more + ": " + e.getMessage().strip(), "fix the script");
    }

    @Override
    public PluginKind kind() {
        return PluginKind.GROOVY;
    }

    @Override
    protected boolean budgetChecksCompiledIn() {
        return true;
    }

    @Override
    protected void body(JobSpec job, JobMemory memory, RunContext ctx) throws Exception {
        Script script = scriptClass.getDeclaredConstructor().newInstance();
        Binding binding = new Binding();
        binding.setVariable("args", job.args());
        script.setBinding(binding);
        ((AegisScript) script).bind(ctx);
        script.run();
    }

    @Override
    protected String where(Throwable t) {
        for (StackTraceElement e : t.getStackTrace()) {
            if (fileName.equals(e.getFileName()) && e.getLineNumber() > 0) {
                return " at " + fileName + ":" + e.getLineNumber();
            }
        }
        return "";
    }
}
