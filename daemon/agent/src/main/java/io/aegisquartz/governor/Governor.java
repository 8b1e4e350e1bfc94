package io.aegisquartz.governor;

import io.aegisquartz.config.AgentSettings;
import io.aegisquartz.config.GovernorSettings;
import io.aegisquartz.config.Units;
import io.aegisquartz.schedule.ScheduledJob;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Collection;
import java.util.Locale;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * Keeps the agent within its own CPU and memory budget, so that a plugin cannot make the monitoring
 * agent the heaviest thing on the host.
 *
 * <p>Once per window it reads the agent's CPU time (its own threads plus the plugin processes it has
 * reaped, from /proc/self/stat) and its resident memory (/proc/self/status). Over the CPU budget, it
 * sheds the job whose runs used the most CPU in that window: the job's fires are skipped, each with a
 * sample that says why, for {@code shed_for}; one job per window, so the lightest response that
 * works is the one taken. Over the memory budget it first collects garbage (which also unloads
 * classes of replaced Groovy scripts). Only when the agent stays over budget for {@code exit_after}
 * windows with nothing left to shed does it ask for a restart (exit code 75: the launcher or systemd
 * starts it again, and the spool keeps every sample across it), and not before it has been up for
 * {@code restart_min_uptime}, so an agent that is over budget from its start does not restart in a loop.
 *
 * <p>The uploader's CPU is not counted: it is paced by {@code [upload] rate}, and shedding jobs
 * because a backlog is draining would only make a second gap.
 */
public final class Governor {

    private static final Logger LOG = LoggerFactory.getLogger("governor");

    private final double cpuBudgetPct;
    private final long memoryMax;
    private final long windowMillis;
    private final long shedMillis;
    private final int exitAfter;
    private final Supplier<Collection<ScheduledJob>> jobs;
    private final LongSupplier exemptCpuNanos;
    private final LongSupplier hostCpuNanos;
    private final Consumer<String> restart;

    private long lastCpuNanos = -1;
    private long lastExempt;
    private long lastAt;
    private final long restartMinUptimeMillis;
    private int overWithNothingToShed;
    private boolean overLogged;
    private boolean restartHeldLogged;
    private volatile Reading last;

    /**
     * What the governor saw at its last check, against its budget.
     *
     * @param cpuPct         the agent's CPU over the last window, percent of one core (counted as for the budget)
     * @param cpuBudgetPct   {@code [governor] cpu_max}, 0 = no CPU budget
     * @param rssBytes       resident memory
     * @param memoryMaxBytes {@code [governor] memory_max}, 0 = no memory budget
     * @param atMillis       when it looked (epoch ms)
     * @param windowMillis   how often it looks
     */
    public record Reading(double cpuPct, double cpuBudgetPct, long rssBytes, long memoryMaxBytes, long atMillis, long windowMillis) {

        /** True if the last window was over either budget. */
        public boolean over() {
            return (cpuBudgetPct > 0 && cpuPct > cpuBudgetPct) || (memoryMaxBytes > 0 && rssBytes > memoryMaxBytes);
        }
    }

    /**
     * @param jobs           the scheduled jobs, read once per window
     * @param exemptCpuNanos CPU time not to count (the output workers' threads), cumulative
     * @param hostCpuNanos   CPU time of plugin hosts outside the agent's own figure, cumulative: the running child host's
     *                       (counted once: it moves into the agent's figure when the host is reaped), and the runs in
     *                       hosts systemd started (never in it)
     *                       the host has ended and been reaped
     * @param restart        called with the reason when shedding was not enough
     */
    public Governor(AgentSettings settings, Supplier<Collection<ScheduledJob>> jobs, LongSupplier exemptCpuNanos, LongSupplier hostCpuNanos,
                    Consumer<String> restart) {
        GovernorSettings g = settings.governor();
        this.cpuBudgetPct = g.cpuMaxPercent();
        this.memoryMax = g.memoryMax();
        this.windowMillis = g.window().toMillis();
        this.shedMillis = g.shedFor().toMillis();
        this.exitAfter = g.exitAfter();
        this.restartMinUptimeMillis = g.restartMinUptime().toMillis();
        this.jobs = jobs;
        this.exemptCpuNanos = exemptCpuNanos;
        this.hostCpuNanos = hostCpuNanos;
        this.restart = restart;
    }

    public long windowMillis() {
        return windowMillis;
    }

    /** The last check's figures, or null before the first full window. */
    public Reading lastReading() {
        return last;
    }

    /** A line for the start banner. */
    public String describe() {
        return String.format(Locale.ROOT, "governor: CPU budget %s%% of one core, memory %s, checked every %s",
                cpuBudgetPct == 0 ? "(off) " : Long.toString((long) cpuBudgetPct), memoryMax == 0 ? "(off)" : Units.formatBytes(memoryMax),
                Units.format(Duration.ofMillis(windowMillis)));
    }

    /** One check; called every window on the agent's timer thread. */
    public void check() {
        long now = System.nanoTime();
        SelfUsage usage = SelfUsage.read();
        // Hosts' CPU is added by counting it as negative exemption: when a child host ends, its total moves into the
        // agent's own figure (a reaped child) just as it leaves this one, so it is counted once either way; the runs
        // in a socket-activated host only ever count here.
        long exempt = exemptCpuNanos.getAsLong() - hostCpuNanos.getAsLong();
        Collection<ScheduledJob> all = jobs.get();
        // Taken every window, so a job's share is always that of the last window only.
        ScheduledJob heaviest = null;
        long heaviestCpu = 0;
        long shedCpu = 0;
        long wallMillis = System.currentTimeMillis();
        for (ScheduledJob j : all) {
            long cpu = j.takeRecentCpu();
            if (j.shed(wallMillis)) {
                // The end of a run that was going when its job was shed: already dealt with.
                shedCpu += cpu;
            } else if (cpu > heaviestCpu) {
                heaviest = j;
                heaviestCpu = cpu;
            }
        }
        if (usage == null) {
            return; // no /proc: nothing to govern by
        }
        if (lastCpuNanos < 0) {
            remember(usage, exempt, now);
            return;
        }
        double elapsed = (now - lastAt) / 1e9;
        double cpuPct = elapsed <= 0 ? 0
                : Math.max(0, 100.0 * ((usage.cpuNanos() - lastCpuNanos) - (exempt - lastExempt) - shedCpu) / 1e9 / elapsed);
        remember(usage, exempt, now);

        boolean cpuOver = cpuBudgetPct > 0 && cpuPct > cpuBudgetPct;
        long rss = usage.rssBytes();
        boolean memoryOver = memoryMax > 0 && rss > memoryMax;
        if (memoryOver) {
            // The heap is capped, so growth is mostly garbage, metaspace of replaced scripts, or native.
            System.gc();
            SelfUsage after = SelfUsage.read();
            rss = after == null ? rss : after.rssBytes();
            memoryOver = rss > memoryMax;
        }
        last = new Reading(cpuPct, cpuBudgetPct, rss, memoryMax, wallMillis, windowMillis);
        if (!cpuOver && !memoryOver) {
            if (overLogged) {
                LOG.info("governor: back within budget: {} of a core over the last {}, {} resident", pct(cpuPct),
                        Units.format(Duration.ofMillis(windowMillis)), mib(rss));
                overLogged = false;
            }
            overWithNothingToShed = 0;
            return;
        }
        String state = String.format(Locale.ROOT, "agent used %s of a core over the last %s (budget %s) and has %s resident (budget %s)",
                pct(cpuPct), Units.format(Duration.ofMillis(windowMillis)), cpuBudgetPct == 0 ? "off" : pct(cpuBudgetPct),
                mib(rss), memoryMax == 0 ? "off" : Units.formatBytes(memoryMax));
        overLogged = true;
        double jobPct = elapsed <= 0 ? 0 : 100.0 * heaviestCpu / 1e9 / elapsed;
        // Shedding helps memory only through the CPU-heavy job's allocations, so for memory alone it
        // goes straight to counting windows towards a restart.
        // Only a job that accounts for a fair part of the excess is shed: CPU no job owns (an
        // abandoned thread, a compile, the collector) must not cost one healthy job after another.
        if (cpuOver && heaviest != null && jobPct >= (cpuPct - cpuBudgetPct) / 2) {
            String reason = String.format(Locale.ROOT, "its runs used %s of a core while the agent was over its CPU budget of %s",
                    pct(jobPct), pct(cpuBudgetPct));
            heaviest.shed(wallMillis + shedMillis, reason);
            LOG.warn("governor: {}; shedding job {} (its runs used {}) for {}", state, heaviest.spec().name(), pct(jobPct),
                    Units.format(Duration.ofMillis(shedMillis)));
            overWithNothingToShed = 0;
            return;
        }
        overWithNothingToShed++;
        long uptime = java.lang.management.ManagementFactory.getRuntimeMXBean().getUptime();
        if (overWithNothingToShed >= exitAfter && uptime < restartMinUptimeMillis) {
            // An agent that is over budget from the start would otherwise restart in a loop.
            if (!restartHeldLogged) {
                LOG.warn("governor: {}; not restarting: the agent has been up only {} (restart_min_uptime {})", state,
                        Units.format(Duration.ofMillis(uptime)), Units.format(Duration.ofMillis(restartMinUptimeMillis)));
                restartHeldLogged = true;
            }
        } else if (overWithNothingToShed >= exitAfter) {
            restart.accept("governor: " + state + " for " + overWithNothingToShed + " window(s) with no job left to shed");
            overWithNothingToShed = 0;
        } else {
            LOG.warn("governor: {}; no job to shed; restarting if this lasts {} more window(s)", state, exitAfter - overWithNothingToShed);
        }
    }

    private void remember(SelfUsage usage, long exempt, long now) {
        lastCpuNanos = usage.cpuNanos();
        lastExempt = exempt;
        lastAt = now;
    }

    private static String mib(long bytes) {
        return String.format(Locale.ROOT, "%.1f MiB", bytes / 1048576.0);
    }

    private static String pct(double v) {
        return String.format(Locale.ROOT, "%.1f%%", v);
    }
}
