package io.aegisquartz.plugin.groovy;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.aegisquartz.plugin.JobMemory;
import io.aegisquartz.plugin.PluginException;
import io.aegisquartz.plugin.RunResult;
import io.aegisquartz.sample.Status;
import io.aegisquartz.testing.PluginRunners;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;

import static io.aegisquartz.testing.TestJobs.job;
import static io.aegisquartz.testing.TestJobs.limits;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The agent compiles Groovy plugins in a JVM of their own: the plugin runs as if compiled here, a
 * compile error reads the same (file, line, column, fix), and nothing is left behind but the entry.
 */
class ChildCompilerTest extends PluginRunners {

    @TempDir
    Path dir;

    private RunResult run(GroovyPlugin plugin, Path script) throws Exception {
        return plugin.run(job(script, limits(Duration.ofSeconds(20), Duration.ofSeconds(20))), new JobMemory());
    }

    private List<Path> files(Path cache) throws Exception {
        try (Stream<Path> s = Files.list(cache)) {
            return s.toList();
        }
    }

    @Test
    void aScriptCompiledInAChildJvmRunsAndIsCachedForTheNextStart() throws Exception {
        Path cache = dir.resolve("cache");
        Path script = dir.resolve("child.groovy");
        Files.writeString(script, "@groovy.transform.CompileStatic\nint twice(int x) { 2 * x }\nemit('x', [v: twice(21)])\n");

        int before = ChildCompiler.RESULTS.get();
        RunResult r = run(GroovyPlugin.compile(script, inJvm, processes, cache, true), script);
        assertEquals(Status.OK, r.outcome(), () -> r.measurements().toString());
        assertEquals(42.0, r.measurements().get(0).values().get("v"));
        assertEquals(before + 1, ChildCompiler.RESULTS.get(), "a child JVM compiled it, not the fallback in this JVM");

        List<Path> left = files(cache);
        assertEquals(1, left.size(), "only the entry, no temp or output files: " + left);
        String key = CompiledScripts.key(script, Files.readString(script));
        assertNotNull(new CompiledScripts(cache).read(script, key), "the child wrote the entry under the agent's key");
    }

    @Test
    void aCompileErrorFromTheChildNamesTheFileLineAndColumnAsAnInProcessCompileDoes() throws Exception {
        Path script = dir.resolve("broken.groovy");
        Files.writeString(script, "emit('x', [v: 1])\nint y = (\n");

        int before = ChildCompiler.RESULTS.get();
        PluginException child = assertThrows(PluginException.class,
                () -> GroovyPlugin.compile(script, inJvm, processes, dir.resolve("cache"), true));
        assertEquals(before + 1, ChildCompiler.RESULTS.get(), "the child JVM reported the error, not the fallback in this JVM");
        PluginException here = assertThrows(PluginException.class, () -> GroovyPlugin.compile(script, inJvm, processes, null, false));

        assertEquals(here.getMessage(), child.getMessage());
        assertEquals(here.fix(), child.fix());
        assertEquals(here.line(), child.line());
        assertEquals(here.column(), child.column());
        assertTrue(child.line() >= 2, "the error is on the unclosed line or at the end: " + child.line());
        assertTrue(child.getMessage().startsWith(script + ":" + child.line() + ":" + child.column() + ": "), child.getMessage());
        assertEquals(List.of(), files(dir.resolve("cache")), "nothing cached, no text, error or output file left");
    }

    @Test
    void codeThatPrintsWithoutEndAtCompileTimeCannotFillTheStateDisk() throws Exception {
        Path cache = dir.resolve("cache");
        Path printed = dir.resolve("printed");
        Path go = dir.resolve("go");
        Path script = dir.resolve("chatty.groovy");
        // An AST transformation's code runs inside the compiler: it prints 10 MB, then waits for the
        // test to look at what reached the disk.
        Files.writeString(script, "@groovy.transform.ASTTest(value = {\n"
                + "  String line = 'x' * 999\n"
                + "  for (int i = 0; i < 10000; i++) { System.out.println(line); System.err.println(line) }\n"
                + "  new File('" + printed + "').text = 'done'\n"
                + "  long until = System.currentTimeMillis() + 60000\n"
                + "  while (!new File('" + go + "').exists() && System.currentTimeMillis() < until) { Thread.sleep(20) }\n"
                + "})\n"
                + "def unused = 1\n"
                + "emit('x', [v: 3])\n");

        var compiled = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try {
                return GroovyPlugin.compile(script, inJvm, processes, cache, true);
            } catch (PluginException e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        });
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(90)).until(() -> Files.exists(printed));
        long onDisk = 0;
        for (Path f : files(cache)) {
            if (f.getFileName().toString().endsWith(".out")) {
                onDisk += Files.size(f);
            }
        }
        Files.writeString(go, "go");
        assertTrue(onDisk > 0 && onDisk <= ChildCompiler.OUTPUT_MAX + 100,
                "20 MB printed, " + onDisk + " bytes kept (at most " + ChildCompiler.OUTPUT_MAX + ")");

        RunResult r = run(compiled.get(90, java.util.concurrent.TimeUnit.SECONDS), script);
        assertEquals(Status.OK, r.outcome(), () -> r.measurements().toString());
        assertEquals(3.0, r.measurements().get(0).values().get("v"));
    }

    @Test
    void aCompilerThatDiesAfterMuchOutputIsLoggedWithItsLastWords() throws Exception {
        Path script = dir.resolve("dies.groovy");
        // Compile-time code that prints 20 KB, then its last words, then ends the compiler's JVM. Only
        // in the child: the fallback compile in this JVM runs the same code.
        Files.writeString(script, "@groovy.transform.ASTTest(value = {\n"
                + "  if (System.getProperty('sun.java.command', '').contains('ChildCompiler')) {\n"
                + "    String line = 'x' * 999\n"
                + "    for (int i = 0; i < 20; i++) { System.out.println(line) }\n"
                + "    System.out.println('the last words')\n"
                + "    System.out.flush()\n"
                + "    Runtime.getRuntime().halt(7)\n"
                + "  }\n"
                + "})\n"
                + "def unused = 1\n"
                + "emit('x', [v: 4])\n");
        ListAppender<ILoggingEvent> logged = new ListAppender<>();
        logged.start();
        Logger log = (Logger) LoggerFactory.getLogger(ChildCompiler.class);
        log.addAppender(logged);
        try {
            RunResult r = run(GroovyPlugin.compile(script, inJvm, processes, dir.resolve("cache"), true), script);
            assertEquals(4.0, r.measurements().get(0).values().get("v"), "compiled here instead");
        } finally {
            log.detachAppender(logged);
        }
        String line = logged.list.stream().map(ILoggingEvent::getFormattedMessage).filter(m -> m.contains("exit 7"))
                .findFirst().orElseThrow(() -> new AssertionError("no line about the failed compiler: " + logged.list));
        assertTrue(line.contains("the last words"), line);
        assertTrue(line.contains("bytes not shown"), line);
        assertTrue(line.length() < 3000, "a log line, not the whole output: " + line.length() + " characters");
    }

    @Test
    void aCacheThatCannotBeWrittenFallsBackToCompilingHere() throws Exception {
        Path notADir = Files.writeString(dir.resolve("file"), "x");
        Path script = dir.resolve("fallback.groovy");
        Files.writeString(script, "emit('x', [v: 5])\n");

        RunResult r = run(GroovyPlugin.compile(script, inJvm, processes, notADir.resolve("cache"), true), script);
        assertEquals(Status.OK, r.outcome(), () -> r.measurements().toString());
        assertEquals(5.0, r.measurements().get(0).values().get("v"));
    }
}
