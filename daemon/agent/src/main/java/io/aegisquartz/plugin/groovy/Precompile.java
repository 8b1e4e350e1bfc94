package io.aegisquartz.plugin.groovy;

import io.aegisquartz.plugin.PluginException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Compiles the shipped default plugins at build time ({@code mvn package}, after the agent's jar is
 * made) into {@link CompiledScripts#SEED_DIR} next to that jar, so that an agent's first start after
 * a build loads them instead of running the Groovy compiler in front of its first samples. The
 * entries carry the same key as at run time (the jar's build stamp included), so an edited plugin or
 * a rebuilt jar simply misses and is compiled as before. Entries are found for the plugins at the
 * paths the build saw (the checkout's own plugins-default, as the README's quick start runs them).
 *
 * <p>Usage: {@code java -cp aegis-quartz.jar:lib/* io.aegisquartz.plugin.groovy.Precompile DIR FILE...}
 */
public final class Precompile {

    private Precompile() {
    }

    public static void main(String[] args) throws IOException {
        CompiledScripts cache = new CompiledScripts(Path.of(args[0]));
        int failed = 0;
        for (int i = 1; i < args.length; i++) {
            Path file = Path.of(args[i]).toAbsolutePath().normalize();
            long t0 = System.nanoTime();
            String text = Files.readString(file, StandardCharsets.UTF_8);
            try {
                cache.write(file, CompiledScripts.key(file, text), GroovyPlugin.compileToBytes(file, text));
                System.out.printf("precompiled %s in %d ms%n", file.getFileName(), (System.nanoTime() - t0) / 1_000_000);
            } catch (PluginException e) {
                System.err.println("precompile: " + e.getMessage());
                failed++;
            }
        }
        System.exit(failed == 0 ? 0 : 1);
    }
}
