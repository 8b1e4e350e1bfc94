package io.aegisquartz.plugin.groovy;

import io.aegisquartz.plugin.JobMemory;
import io.aegisquartz.plugin.RunResult;
import io.aegisquartz.sample.Status;
import io.aegisquartz.testing.PluginRunners;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static io.aegisquartz.testing.TestJobs.defaults;
import static io.aegisquartz.testing.TestJobs.job;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Plugins' dynamic calls are linked to their method early (GroovyPlugin sets Groovy's optimize
 * threshold to 0): a call site that later sees another receiver type must still call that type's
 * method, run after run.
 */
class GroovyCallSitesTest extends PluginRunners {

    @TempDir
    Path dir;

    @Test
    void aCallSiteThatSeesNewReceiverTypesCallsTheRightMethodEveryRun() throws Exception {
        Path file = dir.resolve("sizes.groovy");
        Files.writeString(file, """
                def values = ['abc', [1, 2], [a: 1, b: 2, c: 3, d: 4], new StringBuilder('hello')]
                int i = (state.i ?: 0) as int
                state.i = i + 1
                def v = values[i % values.size()]
                emit('size', [n: v.size(), text: v.toString().length()])
                """);
        GroovyPlugin plugin = GroovyPlugin.compile(file, inJvm, processes);
        JobMemory memory = new JobMemory();

        List<Double> sizes = new ArrayList<>();
        List<Double> texts = new ArrayList<>();
        for (int run = 0; run < 8; run++) {
            RunResult r = plugin.run(job(file, defaults()), memory);
            assertEquals(Status.OK, r.outcome(), "run " + run + ": " + r.measurements());
            sizes.add(r.measurements().get(0).values().get("n"));
            texts.add(r.measurements().get(0).values().get("text"));
        }

        assertEquals(List.of(3.0, 2.0, 4.0, 5.0, 3.0, 2.0, 4.0, 5.0), sizes);
        // abc, [1, 2], [a:1, b:2, c:3, d:4], hello
        assertEquals(List.of(3.0, 6.0, 20.0, 5.0, 3.0, 6.0, 20.0, 5.0), texts);
    }
}
