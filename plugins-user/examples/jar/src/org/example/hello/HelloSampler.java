package org.example.hello;

import io.aegisquartz.api.ProcFiles;
import io.aegisquartz.api.SampleBuilder;
import io.aegisquartz.api.SampleContext;
import io.aegisquartz.api.Sampler;
import io.aegisquartz.api.Status;

import java.util.List;

/**
 * Example JAR plugin: counts its runs in a field, and turns the kernel's context-switch counter into
 * a rate using the reading it kept from the previous run.
 *
 * <p>Build: {@code plugins-user/examples/jar/build.sh} (writes hello-sampler.jar next to it).
 * Try it: {@code aegis-quartz run-plugin user/examples/jar/hello-sampler.jar [GREETING]}.
 *
 * <p>Emits:
 * <ul>
 *   <li>{@code hello_jar}: value {@code runs} (runs of this job so far), tag {@code greeting}
 *       (the first argument, default "hello")</li>
 *   <li>{@code context_switches}: {@code total} (the counter from /proc/stat) and, from the second
 *       run on, {@code per_s} (switches per second since the previous run, unit 1/s)</li>
 * </ul>
 * If /proc/stat has no ctxt line, context_switches is a single sample with status unknown.
 */
public class HelloSampler implements Sampler {

    // The agent creates one instance per job and keeps it between runs (a new one when the JAR
    // changes), and never runs it from two threads at once: plain fields are enough for state.
    private long runs;
    private long lastSwitches = -1;
    private long lastNanos;

    // ServiceLoader needs a public class with a public no-argument constructor (here the implicit one).

    @Override
    public void sample(SampleContext ctx) {
        runs++;
        List<String> args = ctx.args();
        String greeting = args.isEmpty() ? "hello" : args.get(0);
        ctx.sample("hello_jar").value("runs", runs).tag("greeting", greeting).emit();

        long now = System.nanoTime();
        long switches = contextSwitches();
        if (switches < 0) {
            ctx.sample("context_switches").status(Status.UNKNOWN).message("no ctxt line in /proc/stat").emit();
            return;
        }
        SampleBuilder b = ctx.sample("context_switches").value("total", switches);
        // A rate needs the previous reading; a counter that went down (reboot) has no valid rate.
        if (lastSwitches >= 0 && switches >= lastSwitches && now > lastNanos) {
            b.value("per_s", (switches - lastSwitches) / ((now - lastNanos) / 1e9), "1/s");
        }
        b.emit();
        lastSwitches = switches;
        lastNanos = now;
    }

    /** The "ctxt N" line of /proc/stat, or -1. */
    private static long contextSwitches() {
        for (String line : ProcFiles.lines("/proc/stat")) {
            if (line.startsWith("ctxt ")) {
                return Long.parseLong(line.substring(5).trim());
            }
        }
        return -1;
    }
}
