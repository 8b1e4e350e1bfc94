package io.aegisquartz.plugin.groovy;

import groovy.lang.Binding;
import groovy.lang.GroovyClassLoader;
import groovy.lang.GroovyCodeSource;
import groovy.lang.Script;
import io.aegisquartz.config.JobSpec;
import io.aegisquartz.plugin.InJvmPlugin;
import io.aegisquartz.plugin.InJvmRunner;
import io.aegisquartz.plugin.JobMemory;
import io.aegisquartz.plugin.PluginException;
import io.aegisquartz.plugin.PluginKind;
import io.aegisquartz.plugin.RunContext;
import io.aegisquartz.plugin.exec.ProcessRunner;
import org.codehaus.groovy.control.CompilerConfiguration;
import org.codehaus.groovy.control.MultipleCompilationErrorsException;
import org.codehaus.groovy.control.customizers.ImportCustomizer;
import org.codehaus.groovy.control.messages.ExceptionMessage;
import org.codehaus.groovy.control.messages.Message;
import org.codehaus.groovy.control.messages.SyntaxErrorMessage;
import org.codehaus.groovy.syntax.SyntaxException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A Groovy script plugin, compiled once with budget checks woven in.
 *
 * <p>Each script gets its own class loader, so that when the file changes and the script is
 * recompiled, the old classes can be unloaded. A new script object is made per run; {@code state}
 * carries anything that must survive between runs.
 */
public final class GroovyPlugin extends InJvmPlugin {

    private final Class<? extends Script> scriptClass;
    private final String fileName;

    private GroovyPlugin(Path file, Class<? extends Script> scriptClass, InJvmRunner runner, ProcessRunner processes) {
        super(file, runner, processes);
        this.scriptClass = scriptClass;
        this.fileName = file.getFileName().toString();
    }

    /**
     * Compiles {@code file}.
     *
     * @throws PluginException with the file, line and column of the first compile error
     */
    public static GroovyPlugin compile(Path file, InJvmRunner runner, ProcessRunner processes) throws PluginException {
        // One compile at a time: they are rare (start, a changed file), and the parser's caches are
        // cleared after each, which must not happen under another compile's feet.
        synchronized (COMPILE_LOCK) {
            try {
                return compileAlone(file, runner, processes);
            } finally {
                forgetParserCaches();
            }
        }
    }

    private static final Object COMPILE_LOCK = new Object();

    /**
     * Groovy's ANTLR parser keeps the prediction DFA of everything it has parsed in static fields:
     * about 15 MB of heap after the default plugins, kept for good, for a parser the agent needs
     * again only when a plugin file changes. Drop it; the next compile rebuilds what it needs.
     */
    private static void forgetParserCaches() {
        org.apache.groovy.parser.antlr4.GroovyParser._ATN.clearDFA();
        org.apache.groovy.parser.antlr4.GroovyLexer._ATN.clearDFA();
    }

    private static GroovyPlugin compileAlone(Path file, InJvmRunner runner, ProcessRunner processes) throws PluginException {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new PluginException("cannot read " + file + ": " + e.getMessage(), "check that the agent's user can read it");
        }
        CompilerConfiguration cc = new CompilerConfiguration();
        cc.setScriptBaseClass(AegisScript.class.getName());
        cc.setSourceEncoding("UTF-8");
        ImportCustomizer imports = new ImportCustomizer();
        imports.addStarImports("io.aegisquartz.api");
        cc.addCompilationCustomizers(imports, new BudgetCheckCustomizer());
        GroovyClassLoader loader = new GroovyClassLoader(GroovyPlugin.class.getClassLoader(), cc);
        try {
            GroovyCodeSource source = new GroovyCodeSource(text, file.getFileName().toString(), "/groovy/script");
            source.setCachable(false);
            Class<?> cls = loader.parseClass(source, false);
            if (!Script.class.isAssignableFrom(cls)) {
                throw new PluginException(file + " defines a class, not a script",
                        "write top-level statements; see plugins-user/README.md");
            }
            return new GroovyPlugin(file, cls.asSubclass(Script.class), runner, processes);
        } catch (MultipleCompilationErrorsException e) {
            throw compileError(file, e);
        } catch (RuntimeException | LinkageError e) {
            throw new PluginException("cannot compile " + file + ": " + e, "fix the script; run 'aegis-quartz run-plugin' to try it");
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
