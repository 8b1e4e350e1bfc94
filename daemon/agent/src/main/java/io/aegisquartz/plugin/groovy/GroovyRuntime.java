package io.aegisquartz.plugin.groovy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Groovy's runtime in the agent: the setting it needs before any script runs, and its set-up on a
 * thread of its own while the agent's start does other work.
 *
 * <p>No logger here: the warm-up starts before the agent's log is set up.
 */
public final class GroovyRuntime {

    private static final String INDY_THRESHOLD = "groovy.indy.optimize.threshold";

    private GroovyRuntime() {
    }

    /**
     * Groovy 4 sends every dynamic call, and every cast even in @CompileStatic code, through its
     * call-site cache (a lookup and a few allocations per call) until that site has been hit 10,000
     * times; only then does it link the site to the method. A plugin that runs a few times a minute
     * never gets there. Linked on the first repeat, the default sampler's run costs 10-20 % less CPU
     * (docs/BENCHMARKS.md). A site that sees another receiver type relinks, as before. Must run before
     * Groovy's call-site code is loaded: Groovy reads the property once. An operator's -D value wins.
     */
    static void configure() {
        if (System.getProperty(INDY_THRESHOLD) == null) {
            System.setProperty(INDY_THRESHOLD, "0");
        }
    }

    /**
     * Starts setting up Groovy's runtime on a thread of its own, if a cron file names a Groovy plugin.
     *
     * <p>The first Groovy class a JVM touches builds the metaclass registry (every extension method
     * of the JDK's classes, found by reflection): about 0.2 s of a warm start on a 2-core host. The
     * start spends as long on the settings, the log and the scheduler, which need no Groovy, so the
     * two overlap. An agent without Groovy jobs is left without the registry (a few MB).
     *
     * @param cronFiles the cron files; a line that mentions ".groovy" (even in a comment) is enough
     */
    public static Warmup warmUp(List<Path> cronFiles) {
        return start(() -> {
            if (mentionGroovy(cronFiles)) {
                setUp();
            }
        });
    }

    /** Starts setting up Groovy's runtime on a thread of its own: for the plugin host, when it is sent its first script. */
    public static Warmup warmUp() {
        return start(GroovyRuntime::setUp);
    }

    private static Warmup start(Runnable r) {
        Thread t = new Thread(r, "aegis-groovy-warmup");
        t.setDaemon(true);
        t.start();
        return new Warmup(t);
    }

    private static void setUp() {
        configure();
        try {
            groovy.lang.GroovySystem.getMetaClassRegistry();
            // The base class of every script: its metaclass is part of each script's.
            org.codehaus.groovy.runtime.InvokerHelper.getMetaClass(AegisScript.class);
        } catch (RuntimeException | LinkageError e) {
            // Nothing lost: the first plugin load meets the same problem and reports it with the plugin's name.
        }
    }

    private static boolean mentionGroovy(List<Path> cronFiles) {
        for (Path f : cronFiles) {
            try {
                if (Files.readString(f, StandardCharsets.UTF_8).contains(".groovy")) {
                    return true;
                }
            } catch (IOException | RuntimeException e) {
                // Unreadable or not UTF-8: the cron file parser says so in the log; the warm-up is only an optimisation.
            }
        }
        return false;
    }

    /** A warm-up in progress, or none. */
    public static final class Warmup {
        /** No warm-up: {@link #await()} returns at once. */
        public static final Warmup NONE = new Warmup(null);

        private final Thread thread;

        private Warmup(Thread thread) {
            this.thread = thread;
        }

        /**
         * Waits until the warm-up has ended. Call it before the first Groovy class is used: class
         * initialisers that refer to each other, run by two threads at once, can deadlock.
         */
        public void await() {
            if (thread == null) {
                return;
            }
            boolean interrupted = false;
            while (true) {
                try {
                    thread.join();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true; // the start goes on; whoever interrupted us sees the flag
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
