package io.aegisquartz.plugin.jar;

import io.aegisquartz.plugin.AbandonedThreads;
import io.aegisquartz.plugin.InJvmRunner;
import io.aegisquartz.plugin.JobMemory;
import io.aegisquartz.plugin.PluginException;
import io.aegisquartz.plugin.RunResult;
import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Status;
import io.aegisquartz.testing.JarBuilder;
import io.aegisquartz.testing.PluginRunners;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import static io.aegisquartz.testing.TestJobs.job;
import static io.aegisquartz.testing.TestJobs.limits;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** JAR plugins: each in its own class loader, seeing only the API and the JDK. */
class JarIsolationTest extends PluginRunners {


    @TempDir
    Path dir;



    /** A library class, in two incompatible versions: v2 renamed the method v1 had. */
    private static String library(int version) {
        String method = version == 1 ? "label" : "describe";
        return "package org.example.shared;\npublic final class Lib {\n"
                + "  public static String " + method + "() { return \"lib-v" + version + "\"; }\n}\n";
    }

    /** A sampler built against one version of the library, bundling it in its JAR. */
    private Path pluginJar(String name, int libVersion) throws Exception {
        Path lib = Files.createDirectories(dir.resolve(name + "-lib"));
        JarBuilder.compile(Map.of("org/example/shared/Lib.java", library(libVersion)), lib);
        String call = libVersion == 1 ? "Lib.label()" : "Lib.describe()";
        String cls = Character.toUpperCase(name.charAt(0)) + name.substring(1) + "Sampler";
        String sampler = """
                package org.example.%1$s;
                import io.aegisquartz.api.*;
                import org.example.shared.Lib;
                public class %2$s implements Sampler {
                    private int runs;
                    public void sample(SampleContext ctx) {
                        String jackson;
                        try { Class.forName("com.fasterxml.jackson.databind.ObjectMapper"); jackson = "visible"; }
                        catch (ClassNotFoundException e) { jackson = "hidden"; }
                        runs++;
                        ctx.sample("%1$s").value("runs", runs).tag("lib", %3$s).tag("jackson", jackson).emit();
                    }
                }
                """.formatted(name, cls, call);
        Path classes = Files.createDirectories(dir.resolve(name + "-classes"));
        JarBuilder.compile(Map.of("org/example/" + name + "/" + cls + ".java", sampler), classes, lib);
        JarBuilder.services(classes, "org.example." + name + "." + cls);
        return JarBuilder.jar(dir.resolve(name + ".jar"), classes, lib);
    }

    @Test
    void twoPluginsBundlingDifferentVersionsOfOneLibraryBothWork() throws Exception {
        JarPlugin alpha = JarPlugin.open(pluginJar("alpha", 1), inJvm, processes);
        JarPlugin beta = JarPlugin.open(pluginJar("beta", 2), inJvm, processes);
        JobMemory memA = new JobMemory();
        JobMemory memB = new JobMemory();

        RunResult a1 = alpha.run(job(dir.resolve("alpha.jar"), limits(Duration.ofSeconds(10), Duration.ofSeconds(10))), memA);
        RunResult b1 = beta.run(job(dir.resolve("beta.jar"), limits(Duration.ofSeconds(10), Duration.ofSeconds(10))), memB);
        RunResult a2 = alpha.run(job(dir.resolve("alpha.jar"), limits(Duration.ofSeconds(10), Duration.ofSeconds(10))), memA);

        assertEquals(Status.OK, a1.outcome(), () -> a1.measurements().toString());
        assertEquals(Status.OK, b1.outcome(), () -> b1.measurements().toString());
        Measurement ma = a1.measurements().get(0);
        Measurement mb = b1.measurements().get(0);
        assertEquals("lib-v1", ma.tags().get("lib"));
        assertEquals("lib-v2", mb.tags().get("lib"));
        assertEquals("hidden", ma.tags().get("jackson"), "the agent's own libraries are invisible to plugins");
        assertEquals(2.0, a2.measurements().get(0).values().get("runs"), "one instance per job, kept between runs");
    }

    @Test
    void aSamplerThatIgnoresInterruptsIsAbandoned() throws Exception {
        Path classes = Files.createDirectories(dir.resolve("stuck-classes"));
        JarBuilder.compile(Map.of("org/example/Stuck.java", """
                package org.example;
                public class Stuck implements io.aegisquartz.api.Sampler {
                    public void sample(io.aegisquartz.api.SampleContext ctx) {
                        long end = System.nanoTime() + 3_000_000_000L;
                        while (System.nanoTime() < end) { Thread.onSpinWait(); }
                    }
                }
                """), classes);
        JarBuilder.services(classes, "org.example.Stuck");
        AbandonedThreads abandoned = new AbandonedThreads();
        JarPlugin stuck = JarPlugin.open(JarBuilder.jar(dir.resolve("stuck.jar"), classes), new InJvmRunner(abandoned), processes);

        RunResult r = stuck.run(job(dir.resolve("stuck.jar"), limits(Duration.ofMillis(300), Duration.ofSeconds(30))), new JobMemory());

        assertEquals(Status.TIMEOUT, r.outcome());
        assertTrue(r.abandoned());
        assertEquals(1, abandoned.alive());
    }

    @Test
    void aJarWithoutSamplersIsRefusedWithTheFix() throws Exception {
        Path classes = Files.createDirectories(dir.resolve("empty"));
        Files.writeString(classes.resolve("README"), "nothing");
        Path jar = JarBuilder.jar(dir.resolve("empty.jar"), classes);

        PluginException e = assertThrows(PluginException.class, () -> JarPlugin.open(jar, inJvm, processes));
        assertTrue(e.getMessage().contains("holds no sampler"), e.getMessage());
        assertTrue(e.fix().contains("META-INF/services/io.aegisquartz.api.Sampler"));
    }
}
