package io.aegisquartz.config;

import java.time.Duration;

/**
 * Limits and policies of one job: the [limits] defaults, overridden by options on its cron line.
 *
 * @param timeout   wall-time limit of a run
 * @param cpu       CPU-time limit of a run
 * @param killGrace time between SIGTERM/interrupt and SIGKILL/abandonment
 * @param outputMax bytes of standard output kept
 * @param maxSamples samples kept per run
 * @param overlap   what to do when the job fires while it is still running
 * @param misfire   what to do with fire times that were missed
 * @param sampler   for a JAR holding several samplers, which one; null otherwise
 * @param user      for an executable, the local user it runs as; null: the agent's own user
 * @param memoryMax for an executable, memory.max of its run's cgroup in bytes (where the host has the
 *                  memory controller); 0: no limit of its own
 * @param pidsMax   for an executable, pids.max of its run's cgroup (where the host has the pids
 *                  controller); 0: no limit of its own
 * @param mem       bytes a Groovy or JAR run may allocate (its thread's allocation counter, garbage included); 0: no budget
 * @param maxBytes  size of the samples one run may emit (see docs/SAMPLES.md, "Limits")
 * @param splay     the most a job's fire times are shifted by (see schedule.Splay); zero: not shifted
 * @param isolation for a Groovy or JAR plugin, where it runs: in the plugin host or in the agent's JVM
 */
public record JobOptions(Duration timeout, Duration cpu, Duration killGrace, long outputMax, int maxSamples,
                         Overlap overlap, Misfire misfire, String sampler, RunAs user, long memoryMax, int pidsMax,
                         long mem, long maxBytes, Duration splay, Isolation isolation) {

    /** Options that run as the agent's own user, without cgroup limits, with the default allocation and sample-size budgets. */
    public JobOptions(Duration timeout, Duration cpu, Duration killGrace, long outputMax, int maxSamples,
                      Overlap overlap, Misfire misfire, String sampler) {
        this(timeout, cpu, killGrace, outputMax, maxSamples, overlap, misfire, sampler, null, 0, 0);
    }

    /** Options with the default allocation and sample-size budgets, on the exact cron times. */
    public JobOptions(Duration timeout, Duration cpu, Duration killGrace, long outputMax, int maxSamples,
                      Overlap overlap, Misfire misfire, String sampler, RunAs user, long memoryMax, int pidsMax) {
        this(timeout, cpu, killGrace, outputMax, maxSamples, overlap, misfire, sampler, user, memoryMax, pidsMax, defaultBytes("mem"),
                defaultBytes("max_bytes"));
    }

    /** Options with both budgets given, on the exact cron times, in the plugin host (as an empty aegis_config.ini says). */
    public JobOptions(Duration timeout, Duration cpu, Duration killGrace, long outputMax, int maxSamples,
                      Overlap overlap, Misfire misfire, String sampler, RunAs user, long memoryMax, int pidsMax, long mem, long maxBytes) {
        this(timeout, cpu, killGrace, outputMax, maxSamples, overlap, misfire, sampler, user, memoryMax, pidsMax, mem, maxBytes, Duration.ZERO);
    }

    /** Options with both budgets and the splay given, in the plugin host (as an empty aegis_config.ini says). */
    public JobOptions(Duration timeout, Duration cpu, Duration killGrace, long outputMax, int maxSamples,
                      Overlap overlap, Misfire misfire, String sampler, RunAs user, long memoryMax, int pidsMax, long mem, long maxBytes,
                      Duration splay) {
        this(timeout, cpu, killGrace, outputMax, maxSamples, overlap, misfire, sampler, user, memoryMax, pidsMax, mem, maxBytes, splay,
                Isolation.HOST);
    }

    /** The default of {@code max_bytes}, for runs outside a job (run-plugin, tests). */
    public static long defaultMaxBytes() {
        return defaultBytes("max_bytes");
    }

    private static long defaultBytes(String key) {
        Setting s = Settings.byId("limits." + key);
        return (Long) s.convert(s.defaultValue());
    }

    /** Policy for a fire that finds the previous run still going. */
    public enum Overlap { SKIP, QUEUE }

    /** Policy for fire times that passed while the job could not run. */
    public enum Misfire { SKIP, RUN_ONCE }

    /**
     * Where a Groovy or JAR plugin runs. Executables always run as processes of their own.
     */
    public enum Isolation {
        /** In the agent's JVM, as trusted code: what the shipped default plugins do. */
        INPROC,
        /** In the plugin host, a JVM of its own that the agent supervises (docs/PLUGIN-HOST.md). */
        HOST;

        /** The form used on cron lines and in aegis_config.ini. */
        public String wire() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    public JobOptions withTimeout(Duration d) {
        return new JobOptions(d, cpu, killGrace, outputMax, maxSamples, overlap, misfire, sampler, user, memoryMax, pidsMax, mem, maxBytes, splay, isolation);
    }

    public JobOptions withCpu(Duration d) {
        return new JobOptions(timeout, d, killGrace, outputMax, maxSamples, overlap, misfire, sampler, user, memoryMax, pidsMax, mem, maxBytes, splay, isolation);
    }

    public JobOptions withKillGrace(Duration d) {
        return new JobOptions(timeout, cpu, d, outputMax, maxSamples, overlap, misfire, sampler, user, memoryMax, pidsMax, mem, maxBytes, splay, isolation);
    }

    public JobOptions withOutputMax(long bytes) {
        return new JobOptions(timeout, cpu, killGrace, bytes, maxSamples, overlap, misfire, sampler, user, memoryMax, pidsMax, mem, maxBytes, splay, isolation);
    }

    public JobOptions withMaxSamples(int n) {
        return new JobOptions(timeout, cpu, killGrace, outputMax, n, overlap, misfire, sampler, user, memoryMax, pidsMax, mem, maxBytes, splay, isolation);
    }

    public JobOptions withOverlap(Overlap o) {
        return new JobOptions(timeout, cpu, killGrace, outputMax, maxSamples, o, misfire, sampler, user, memoryMax, pidsMax, mem, maxBytes, splay, isolation);
    }

    public JobOptions withMisfire(Misfire m) {
        return new JobOptions(timeout, cpu, killGrace, outputMax, maxSamples, overlap, m, sampler, user, memoryMax, pidsMax, mem, maxBytes, splay, isolation);
    }

    public JobOptions withSampler(String name) {
        return new JobOptions(timeout, cpu, killGrace, outputMax, maxSamples, overlap, misfire, name, user, memoryMax, pidsMax, mem, maxBytes, splay, isolation);
    }

    public JobOptions withUser(RunAs u) {
        return new JobOptions(timeout, cpu, killGrace, outputMax, maxSamples, overlap, misfire, sampler, u, memoryMax, pidsMax, mem, maxBytes, splay, isolation);
    }

    public JobOptions withMemoryMax(long bytes) {
        return new JobOptions(timeout, cpu, killGrace, outputMax, maxSamples, overlap, misfire, sampler, user, bytes, pidsMax, mem, maxBytes, splay, isolation);
    }

    public JobOptions withPidsMax(int n) {
        return new JobOptions(timeout, cpu, killGrace, outputMax, maxSamples, overlap, misfire, sampler, user, memoryMax, n, mem, maxBytes, splay, isolation);
    }

    public JobOptions withMem(long bytes) {
        return new JobOptions(timeout, cpu, killGrace, outputMax, maxSamples, overlap, misfire, sampler, user, memoryMax, pidsMax, bytes, maxBytes, splay, isolation);
    }

    public JobOptions withMaxBytes(long bytes) {
        return new JobOptions(timeout, cpu, killGrace, outputMax, maxSamples, overlap, misfire, sampler, user, memoryMax, pidsMax, mem, bytes, splay, isolation);
    }

    public JobOptions withSplay(Duration d) {
        return new JobOptions(timeout, cpu, killGrace, outputMax, maxSamples, overlap, misfire, sampler, user, memoryMax, pidsMax, mem, maxBytes, d, isolation);
    }

    public JobOptions withIsolation(Isolation i) {
        return new JobOptions(timeout, cpu, killGrace, outputMax, maxSamples, overlap, misfire, sampler, user, memoryMax, pidsMax, mem, maxBytes, splay, i);
    }

    /** The options that differ, as "timeout=5s -> 10s, overlap=skip -> queue". */
    public String diff(JobOptions o) {
        java.util.List<String> d = new java.util.ArrayList<>();
        if (!timeout.equals(o.timeout)) {
            d.add("timeout=" + Units.format(timeout) + " -> " + Units.format(o.timeout));
        }
        if (!cpu.equals(o.cpu)) {
            d.add("cpu=" + Units.format(cpu) + " -> " + Units.format(o.cpu));
        }
        if (!killGrace.equals(o.killGrace)) {
            d.add("kill_grace=" + Units.format(killGrace) + " -> " + Units.format(o.killGrace));
        }
        if (outputMax != o.outputMax) {
            d.add("output_max=" + Units.formatBytes(outputMax) + " -> " + Units.formatBytes(o.outputMax));
        }
        if (memoryMax != o.memoryMax) {
            d.add("memory_max=" + Units.formatBytes(memoryMax) + " -> " + Units.formatBytes(o.memoryMax));
        }
        if (pidsMax != o.pidsMax) {
            d.add("pids_max=" + pidsMax + " -> " + o.pidsMax);
        }
        if (maxSamples != o.maxSamples) {
            d.add("max_samples=" + maxSamples + " -> " + o.maxSamples);
        }
        if (maxBytes != o.maxBytes) {
            d.add("max_bytes=" + Units.formatBytes(maxBytes) + " -> " + Units.formatBytes(o.maxBytes));
        }
        if (mem != o.mem) {
            d.add("mem=" + Units.formatBytes(mem) + " -> " + Units.formatBytes(o.mem));
        }
        if (overlap != o.overlap) {
            d.add("overlap=" + overlap.name().toLowerCase() + " -> " + o.overlap.name().toLowerCase());
        }
        if (misfire != o.misfire) {
            d.add("misfire=" + misfire.name().toLowerCase() + " -> " + o.misfire.name().toLowerCase());
        }
        if (!java.util.Objects.equals(sampler, o.sampler)) {
            d.add("sampler=" + sampler + " -> " + o.sampler);
        }
        if (!splay.equals(o.splay)) {
            d.add("splay=" + Units.format(splay) + " -> " + Units.format(o.splay));
        }
        if (!java.util.Objects.equals(user, o.user)) {
            d.add("user=" + (user == null ? "(agent's)" : user.name()) + " -> " + (o.user == null ? "(agent's)" : o.user.name()));
        }
        if (isolation != o.isolation) {
            d.add("isolation=" + isolation.wire() + " -> " + o.isolation.wire());
        }
        return String.join(", ", d);
    }

    /** "timeout=30s cpu=10s ..." as it would be written on a cron line. */
    public String describe() {
        return "timeout=" + Units.format(timeout) + " cpu=" + Units.format(cpu) + " kill_grace=" + Units.format(killGrace)
                + " output_max=" + Units.formatBytes(outputMax) + " memory_max=" + Units.formatBytes(memoryMax)
                + " pids_max=" + pidsMax + " max_samples=" + maxSamples + " max_bytes=" + Units.formatBytes(maxBytes)
                + " mem=" + Units.formatBytes(mem)
                + " overlap=" + overlap.name().toLowerCase() + " misfire=" + misfire.name().toLowerCase()
                + (splay.isZero() ? "" : " splay=" + Units.format(splay))
                + (sampler != null ? " sampler=" + sampler : "") + (user != null ? " user=" + user.name() : "")
                + " isolation=" + isolation.wire();
    }
}
