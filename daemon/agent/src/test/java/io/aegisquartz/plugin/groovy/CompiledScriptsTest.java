package io.aegisquartz.plugin.groovy;

import io.aegisquartz.plugin.JobMemory;
import io.aegisquartz.plugin.RunResult;
import io.aegisquartz.sample.Status;
import io.aegisquartz.testing.PluginRunners;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;

import static io.aegisquartz.testing.TestJobs.job;
import static io.aegisquartz.testing.TestJobs.limits;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Compiled scripts kept on disk: a start loads them instead of compiling, and nothing stale or damaged is ever run. */
class CompiledScriptsTest extends PluginRunners {

    @TempDir
    Path dir;

    private double value(Path script, Path cache) throws Exception {
        RunResult r = GroovyPlugin.compile(script, inJvm, processes, cache)
                .run(job(script, limits(Duration.ofSeconds(20), Duration.ofSeconds(20))), new JobMemory());
        assertEquals(Status.OK, r.outcome(), () -> r.measurements().toString());
        return r.measurements().get(0).values().get("v");
    }

    private List<Path> entries(Path cache) throws Exception {
        try (Stream<Path> s = Files.list(cache)) {
            return s.filter(p -> p.toString().endsWith(".classes")).toList();
        }
    }

    @Test
    void aCachedScriptIsLoadedWithoutCompilingAndAnEditReplacesItsEntry() throws Exception {
        Path cache = dir.resolve("cache");
        Path script = dir.resolve("s.groovy");
        Files.writeString(script, "emit('x', [v: 1])\n");
        assertEquals(1.0, value(script, cache));
        List<Path> first = entries(cache);
        assertEquals(1, first.size(), "one entry per script");

        // Proof that a hit does not compile: put version 1's classes under version 2's key; loading
        // version 2 then runs version 1's code.
        String v2 = "emit('x', [v: 2])\n";
        Path forged = first.get(0).resolveSibling(first.get(0).getFileName().toString()
                .replace(CompiledScripts.key(script, Files.readString(script)), CompiledScripts.key(script, v2)));
        Files.copy(first.get(0), forged);
        Files.writeString(script, v2);
        assertEquals(1.0, value(script, cache), "the entry was used as it is");

        // A real edit: new text, new key, compiled, and older entries of the script are removed.
        Files.writeString(script, "emit('x', [v: 3])\n");
        assertEquals(3.0, value(script, cache));
        assertEquals(1, entries(cache).size(), "older entries of the script are deleted");
    }

    @Test
    void aDamagedEntryIsCompiledAgainAndReplaced() throws Exception {
        Path cache = dir.resolve("cache");
        Path script = dir.resolve("d.groovy");
        Files.writeString(script, "emit('x', [v: 7])\n");
        assertEquals(7.0, value(script, cache));
        Path entry = entries(cache).get(0);
        byte[] whole = Files.readAllBytes(entry);
        Files.write(entry, java.util.Arrays.copyOf(whole, whole.length / 2)); // a torn write, a bad disk

        assertEquals(7.0, value(script, cache));
        assertEquals(whole.length, Files.size(entries(cache).get(0)), "the entry was written again whole");
    }

    @Test
    void anUnwritableCacheOnlyCostsACompile() throws Exception {
        Path notADir = Files.writeString(dir.resolve("file"), "x");
        Path script = dir.resolve("u.groovy");
        Files.writeString(script, "emit('x', [v: 5])\n");
        assertEquals(5.0, value(script, notADir.resolve("cache")));
    }
}
