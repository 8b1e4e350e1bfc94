package io.aegisquartz.plugin.groovy;

import io.aegisquartz.plugin.JobMemory;
import io.aegisquartz.plugin.PluginException;
import io.aegisquartz.plugin.RunResult;
import io.aegisquartz.sample.Status;
import io.aegisquartz.testing.PluginRunners;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static io.aegisquartz.testing.TestJobs.defaults;
import static io.aegisquartz.testing.TestJobs.job;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A Groovy plugin may be a class instead of a script, as the default jobs' plugins are: the first class
 * in the file runs if it extends AegisScript, and any other first class is refused with a fix.
 */
class ClassPluginsTest extends PluginRunners {

    @TempDir
    Path dir;

    @Test
    void aClassThatExtendsAegisScriptRunsWithItsArgumentsAndState() throws Exception {
        Path file = dir.resolve("counter.groovy");
        Files.writeString(file, """
                @groovy.transform.CompileStatic
                class counter extends io.aegisquartz.plugin.groovy.AegisScript {
                    @Override
                    Object run() {
                        long runs = ((Long) state.getOrDefault('runs', 0L)) + 1
                        state.put('runs', runs)
                        sample('counter').value('runs', runs).tag('arg', ctx.args().join(',')).emit()
                        return null
                    }
                }

                class Helper {
                }
                """);
        GroovyPlugin plugin = GroovyPlugin.compile(file, inJvm, processes);
        JobMemory memory = new JobMemory();
        RunResult first = plugin.run(job(file, defaults(), "a", "b"), memory);
        RunResult second = plugin.run(job(file, defaults(), "a", "b"), memory);
        assertEquals(Status.OK, second.outcome(), second.measurements().toString());
        assertEquals(1.0, first.measurements().get(0).values().get("runs"));
        assertEquals(2.0, second.measurements().get(0).values().get("runs"));
        assertEquals("a,b", second.measurements().get(0).tags().get("arg"));
    }

    @Test
    void aFileWhoseFirstClassIsNoPluginIsRefusedNamingTheClassAndTheFix() throws Exception {
        Path file = dir.resolve("helper_only.groovy");
        Files.writeString(file, """
                class Helper {
                    static int twice(int x) { 2 * x }
                }
                """);
        PluginException e = assertThrows(PluginException.class, () -> GroovyPlugin.compile(file, inJvm, processes));
        assertTrue(e.getMessage().contains("its first class, Helper, is not a plugin"), e.getMessage());
        assertTrue(e.fix().contains("extend io.aegisquartz.plugin.groovy.AegisScript"), e.fix());
    }
}
