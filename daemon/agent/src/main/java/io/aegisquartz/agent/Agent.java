package io.aegisquartz.agent;

import io.aegisquartz.Version;
import io.aegisquartz.alert.Alerting;
import io.aegisquartz.alert.channel.MessageText;
import io.aegisquartz.alert.channel.NotifyConfig;
import io.aegisquartz.config.AlertRule;
import io.aegisquartz.config.AgentSettings;
import io.aegisquartz.config.ConfigProblem;
import io.aegisquartz.governor.Governor;
import io.aegisquartz.log.LogSetup;
import io.aegisquartz.config.CronFile;
import io.aegisquartz.config.CronFileParser;
import io.aegisquartz.config.HostIdentity;
import io.aegisquartz.config.JobSource;
import io.aegisquartz.config.JobSpec;
import io.aegisquartz.config.StrictModes;
import io.aegisquartz.config.Units;
import io.aegisquartz.journal.PreviousExit;
import io.aegisquartz.journal.QuarantineRecords;
import io.aegisquartz.journal.RunJournal;
import io.aegisquartz.log.LogText;
import io.aegisquartz.plugin.FileStamp;
import io.aegisquartz.plugin.catalog.PluginCatalog;
import io.aegisquartz.plugin.PluginException;
import io.aegisquartz.plugin.RunnerThreads;
import io.aegisquartz.plugin.groovy.GroovyRuntime;
import io.aegisquartz.plugin.host.PluginHostClient;
import io.aegisquartz.sample.SampleStamper;
import io.aegisquartz.schedule.JobExecutor;
import io.aegisquartz.schedule.JobScheduler;
import io.aegisquartz.schedule.JobStatus;
import io.aegisquartz.schedule.ManualRun;
import io.aegisquartz.schedule.ReloadPlan;
import io.aegisquartz.schedule.RunCounters;
import io.aegisquartz.schedule.ScheduledJob;
import io.aegisquartz.schedule.Splay;
import io.aegisquartz.output.OutputState;
import io.aegisquartz.pipeline.SampleSink;
import io.aegisquartz.spool.EventInbox;
import org.quartz.SchedulerException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * The running agent: settings, identity, sample sink, plugin runners and the schedule, and the
 * reload that keeps the schedule in step with the cron files.
 */
public final class Agent {

    /** Exit code that asks the launcher (or systemd) to start the agent again. */
    public static final int EXIT_RESTART = 75;

    /** When the garbage of the start is collected: after the first runs of the jobs that fire often. */
    private static final int STARTUP_GC_DELAY_SECONDS = 30;

    /** Problems of one reload kept for status (all are in the log). */
    static final int MAX_RELOAD_PROBLEMS = 20;

    private static final Logger LOG = LoggerFactory.getLogger("agent");
    private static final Logger RELOAD = LoggerFactory.getLogger("reload");
    private static final Logger CONFIG = LoggerFactory.getLogger("config");

    private final AgentSettings settings;
    private volatile int exitCode;
    private final Map<String, ScheduledJob> jobs = new LinkedHashMap<>();
    private final AtomicBoolean stopping = new AtomicBoolean();
    private volatile boolean started;
    private volatile boolean reloadAfterStart;
    private final CountDownLatch stopped = new CountDownLatch(1);

    private RunnerThreads threads;
    private Heartbeat heartbeat;
    /** Start-up jobs whose plugin the Groovy compiler must make first; scheduled by {@link #compileAtStart()} as each is ready. */
    private final List<JobSpec> toCompile = new ArrayList<>();
    private volatile Thread compiler;
    /** Why the first reload asked for during the start-up compiles was asked for. */
    private volatile String deferredReload;
    private PluginCatalog catalog;
    private SampleSink sink;
    private SampleStamper stamper;
    private Delivery delivery;
    /** The jobs after the last reload, for readers that must not wait for a reload (the governor runs on the plugin timer). */
    private volatile List<ScheduledJob> jobSnapshot = List.of();
    private EventInbox inbox;
    private volatile JobScheduler scheduler;
    private ConfigWatcher watcher;
    private HostIdentity.Id identity;
    private Governor governor;
    private final RunCounters counters = new RunCounters();
    private final long startedMillis = System.currentTimeMillis();
    private volatile AgentSnapshot.Reload lastReload;
    /** What the last reload (and the start-up compiles after it) found wrong, one line each, as logged. */
    private final List<String> reloadProblems = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final AtomicLong reloads = new AtomicLong();
    private final AtomicLong failedReloads = new AtomicLong();
    private RunJournal journal;
    private PreviousExit previousExit = PreviousExit.UNKNOWN;
    /** Alerting, or null while the channels file has no channel (it may begin at a reload). */
    private volatile Alerting alerting;
    /** Hands the pipeline's samples and the outputs' events to alerting, once there is alerting. */
    private final AlertingRelay alertingRelay = new AlertingRelay();
    /** The channels file's problems found at start, for the start-up's reload event. */
    private final List<String> startChannelProblems = new ArrayList<>();

    public Agent(AgentSettings settings) {
        this.settings = settings;
    }

    /** How the previous agent process ended, as the launcher says ({@link PreviousExit#VARIABLE}); before {@link #start()}. */
    public void previousExit(PreviousExit e) {
        this.previousExit = e;
    }

    /** Thrown when the agent cannot start at all; the message says what to fix. */
    public static final class StartException extends Exception {
        public StartException(String message) {
            super(message, null, false, false);
        }
    }

    /** Starts everything and schedules the jobs. A bad cron line does not stop the start; bad settings do. */
    public void start() throws StartException {
        start(GroovyRuntime.Warmup.NONE);
    }

    /**
     * Starts everything and schedules the jobs, as {@link #start()}, after {@code groovy} (a set-up
     * of Groovy's runtime started before this, on a thread of its own) has ended.
     */
    public void start(GroovyRuntime.Warmup groovy) throws StartException {
        if (!settings.problems().isEmpty()) {
            throw new StartException(settings.file() + " has " + settings.problems().size() + " problem(s):\n"
                    + settings.problems().stream().map(ConfigProblem::format).collect(Collectors.joining("\n")));
        }
        // The timer first: the heartbeat beats on it from here on, through a start that may open a
        // large spool, so that the launcher's watchdog sees a starting agent as alive.
        threads = new RunnerThreads(4 * settings.workers() + 4);
        try {
            heartbeat = Heartbeat.start(settings.stateDir(), settings.watchdog(), threads.timer(),
                    () -> scheduler == null ? null : scheduler.stall());
        } catch (IOException e) {
            throw new StartException("[agent] state_dir: cannot write the heartbeat in " + settings.stateDir() + ": " + e.getMessage());
        }
        try {
            identity = HostIdentity.loadOrCreate(settings.uuidFile());
        } catch (IOException e) {
            throw new StartException("host identity: " + e.getMessage());
        }
        stamper = new SampleStamper(identity.uuid(), settings.hostname());
        LOG.info("aegis-quartz {} starting: pid {}, Java {}, home {}, config {}", Version.get(), ProcessHandle.current().pid(),
                Runtime.version(), settings.home(), settings.confDir());
        LOG.info("host uuid {} ({}), hostname {}", identity.uuid(), identity.origin(), stamper.hostname());
        LOG.info("limits per run: {}; workers={}; backoff after {} failures, up to {}",
                settings.defaultJobOptions().describe(), settings.workers(), settings.backoffAfter(),
                Units.format(settings.backoffMax()));
        List<String> changed = settings.nonDefaults();
        if (!changed.isEmpty()) {
            LOG.info("settings changed from their defaults in {}: {}", settings.file(), String.join(", ", changed));
        }
        NotifyConfig notify = NotifyConfig.load(settings.alert().channelsFile());
        notify.problems().forEach(p -> CONFIG.error(p.oneLine()));
        notify.problems().forEach(p -> startChannelProblems.add(p.oneLine()));
        Alerting al = alerting(notify, startChannelProblems);
        // Alerting sees each run's samples once they are durable in the spool: a tap of the pipeline,
        // through the relay, as alerting may also begin at a reload.
        delivery = Delivery.start(settings, stamper, List.of(alertingRelay), alertingRelay);
        sink = delivery.sink();
        if (al != null) {
            startAlerting(al);
        }
        QuarantineRecords quarantines = new QuarantineRecords(settings.stateDir());
        journal = PreviousRuns.recover(settings.stateDir(), settings.workers(), previousExit, quarantines, stamper, sink);
        catalog = PluginCatalog.create(threads, settings, true, true);
        String envProblem = catalog.processes().environmentProblem();
        if (envProblem != null) {
            LOG.error("{}; executable plugins will fail", envProblem);
        } else if (catalog.execHost() != null) {
            LOG.info("executables: in the exec host at {} (its user; it says in the journal how it isolates runs); with isolation=inproc "
                    + "or user=: {}", catalog.execHost().config().socket(), catalog.processes().isolation());
        } else {
            LOG.info("executables: {}", catalog.processes().isolation());
        }
        JobExecutor executor = new JobExecutor(catalog, stamper, sink, settings.maxAbandonedThreads(),
                this::restart, counters, journal, quarantines);
        try {
            scheduler = new JobScheduler(settings.workers(), executor, identity.uuid());
        } catch (SchedulerException e) {
            throw new StartException("cannot create the scheduler: " + e.getMessage());
        }
        groovy.await();
        // The watch before the start-up read: an edit after the read is an event (a reload once
        // started), one before it is read. Watched only after the read, an edit in between (a config
        // tool writing while the agent starts) would go unnoticed until the next edit or SIGHUP.
        try {
            watcher = new ConfigWatcher(settings.reloadDelay());
            watcher.watch(watchedDirs());
            watcher.start();
        } catch (IOException e) {
            LOG.warn("cannot watch files for changes ({}); send SIGHUP to reload", e.getMessage());
        }
        reload("start-up");
        try {
            scheduler.start();
        } catch (SchedulerException e) {
            throw new StartException("cannot start the scheduler: " + e.getMessage());
        }
        heartbeat.state(Heartbeat.State.RUNNING);
        // Start-up (settings, cron files, plugin classes read from disk, the first runs) leaves MB of
        // garbage in the old generation, which a quiet agent would otherwise keep resident for hours.
        // The serial collector gives heap back gradually (nothing after the first full collection,
        // then 10%, 40%, all of the excess over -XX:MaxHeapFreeRatio), so four collections, about
        // 100 ms of CPU once, bring it down to what the agent really uses. Not before the first fire:
        // they would delay the first sample.
        threads.timer().schedule(() -> {
            for (int i = 0; i < 4; i++) {
                System.gc();
            }
        }, STARTUP_GC_DELAY_SECONDS, java.util.concurrent.TimeUnit.SECONDS);
        startGovernor();
        startHealth();
        inbox = new EventInbox(settings.spool().dir());
        try {
            Files.createDirectories(inbox.dir());
        } catch (IOException e) {
            LOG.warn("events from 'aegis-quartz event' cannot be picked up: {}: {}", inbox.dir(), e.getMessage());
            inbox = null;
        }
        if (watcher != null) {
            watcher.watch(watchedDirs()); // now with the inbox and the folders of the plugins jobs name
        }
        ingestEvents();
        StrictModes.Sweep refused = StrictModes.of(settings).sweep();
        if (refused != null) {
            LOG.warn(refused.message());
        }
        LOG.info("started with {} job(s){}; reload with SIGHUP{}", jobs.size(),
                toCompile.isEmpty() ? "" : " (" + toCompile.size() + " more as soon as their plugins are compiled)",
                watcher != null && settings.watch() ? " or by editing the cron files and plugins" : "");
        if (!toCompile.isEmpty()) {
            compiler = new Thread(this::compileAtStart, "aegis-compile");
            compiler.setDaemon(true);
            compiler.start();
        }
        started = true;
        if (reloadAfterStart && compiler == null) {
            reload(deferredReload != null ? deferredReload : "SIGHUP received during start-up");
        }
    }

    /**
     * Compiles, one at a time (each in a JVM of its own), the plugins that start-up jobs wait for,
     * the plugin of the job that fires first first, and schedules each plugin's jobs as soon as it
     * is ready. Reloads wait until this is done.
     */
    private void compileAtStart() {
        Date now = new Date();
        Map<Path, List<JobSpec>> byPlugin = new LinkedHashMap<>();
        toCompile.stream().sorted(java.util.Comparator.comparing(j -> firstFire(j, now)))
                .forEach(j -> byPlugin.computeIfAbsent(j.pluginPath(), k -> new ArrayList<>()).add(j));
        Path cache = catalog.compiledDir();
        LOG.info("compiling {} plugin(s), once, in a JVM of their own; cached in {} (later starts skip this)", byPlugin.size(),
                cache == null ? "memory only" : cache + "/");
        int done = 0;
        for (Map.Entry<Path, List<JobSpec>> e : byPlugin.entrySet()) {
            if (stopping.get()) {
                return;
            }
            long t0 = System.nanoTime();
            e.getValue().forEach(this::checkPlugin);
            done++;
            synchronized (this) {
                if (stopping.get()) {
                    return;
                }
                LOG.info("compiled {} in {} ({}/{})", e.getKey(), Units.format(java.time.Duration.ofNanos(System.nanoTime() - t0)
                        .truncatedTo(java.time.temporal.ChronoUnit.MILLIS)), done, byPlugin.size());
                for (JobSpec j : e.getValue()) {
                    ScheduledJob sj = schedule(j, null);
                    if (sj != null) {
                        LOG.info("job {} [{}] from {}; next run {}", j.name(), j.cron(), j.where(), next(sj));
                    }
                }
                jobSnapshot = List.copyOf(jobs.values());
            }
        }
        synchronized (this) {
            toCompile.clear();
            compiler = null;
            if (watcher != null) {
                watcher.watch(watchedDirs());
            }
        }
        if (reloadAfterStart) {
            reload(deferredReload != null ? deferredReload : "SIGHUP received during start-up");
        }
    }

    private static Date firstFire(JobSpec j, Date now) {
        try {
            Date d = new org.quartz.CronExpression(j.cron()).getNextValidTimeAfter(now);
            return d == null ? new Date(Long.MAX_VALUE) : d;
        } catch (java.text.ParseException e) {
            return new Date(Long.MAX_VALUE);
        }
    }

    /** Checks the agent's own CPU and memory every window, on the timer thread the plugin runners already have. */
    private void startGovernor() {
        governor = new Governor(settings, () -> jobSnapshot, () -> delivery == null ? 0 : delivery.cpuNanos(),
                () -> hostCpuNanos(catalog.host()) + hostCpuNanos(catalog.execHost()), this::restart);
        LOG.info(governor.describe());
        every(governor.windowMillis(), "governor check", governor::check);
    }

    /**
     * CPU of a plugin host the agent's own figure does not hold (yet): a child host's while it lives,
     * and the runs in a host systemd started, as reported, for good.
     */
    private static long hostCpuNanos(PluginHostClient host) {
        return host == null ? 0 : host.cpuNanos() + host.externalRunCpuNanos();
    }

        /** Runs {@code task} every {@code millis} on the plugin runners' timer thread, going on after a failure of it. */
    private void every(long millis, String what, Runnable task) {
        threads.timer().scheduleAtFixedRate(() -> {
            try {
                task.run();
            } catch (RuntimeException e) {
                // A periodic task that throws is never run again: keep it going, but say it once per failure.
                LOG.error("{} failed", what, e);
            }
        }, millis, millis, java.util.concurrent.TimeUnit.MILLISECONDS);
    }

    /**
     * Writes the agent's own health samples every {@code [agent] health_interval}, through the sink like
     * every job's, on the timer the plugin runners already have (no thread of its own).
     */
    private void startHealth() {
        long every = settings.healthInterval().toMillis();
        if (every <= 0) {
            LOG.info("health samples off ([agent] health_interval = 0)");
            return;
        }
        HealthSampler health = new HealthSampler(counters, this::outputs, this::spoolState, reloads::get, failedReloads::get,
                () -> jobSnapshot.size(), sink, stamper);
        every(every, "health samples", health::sample);
    }

    /** A reload asked for from outside (SIGHUP): now, or once start-up has finished. */
    public void requestReload(String why) {
        if (!started) {
            if (deferredReload == null) {
                deferredReload = why + " during start-up";
            }
            // Set before looking at started again, as start() sets started before looking at this:
            // one of the two sees the other, so the reload is not lost (at worst it happens twice).
            reloadAfterStart = true;
            if (!started) {
                return;
            }
        }
        reload(why);
    }

    /**
     * Stores events written by 'aegis-quartz event' into SPOOL/incoming/ like any sample: at start and
     * whenever the watcher sees new ones there (inotify, no polling).
     */
    private synchronized void ingestEvents() {
        if (inbox == null) {
            return;
        }
        try {
            List<EventInbox.Event> events;
            while (!(events = inbox.pending(100)).isEmpty()) {
                List<io.aegisquartz.sample.Measurement> ms = new ArrayList<>(events.size());
                List<String> ids = new ArrayList<>(events.size());
                for (EventInbox.Event e : events) {
                    ms.add(EventInbox.toMeasurement(e));
                    // The id comes from the file, so a file delivered again (a crash before done(), a
                    // file that cannot be deleted) carries the same id and the receiver drops the copy.
                    ids.add(EventInbox.sampleId(e, stamper.hostUuid()));
                }
                if (!sink.write(stamper.stampWithIds("agent/event", "aegis-quartz event", ms, ids))) {
                    return; // kept in incoming/ for the next try; the sink logged why
                }
                inbox.done(events);
                LOG.info("{} event(s) from {} stored", events.size(), inbox.dir());
            }
        } catch (IOException e) {
            LOG.warn("cannot read events from {}: {}", inbox.dir(), e.getMessage());
        }
    }

    /**
     * Alerting, if {@code channels} (the file [alert] channels_file names) has a channel; else null, and
     * alerting costs nothing. Not started ({@link #startAlerting}): its thread starts once the pipeline
     * it writes its samples to exists. Channels that cannot be made go into {@code problems}.
     */
    private Alerting alerting(NotifyConfig channels, List<String> problems) {
        if (channels.channels().isEmpty()) {
            return null;
        }
        io.aegisquartz.config.AlertSettings a = settings.alert();
        NotifyConfig.Context context = new NotifyConfig.Context(java.time.Clock.systemUTC(), MessageText.local(),
                () -> catalog.processes(), settings.defaultJobOptions(), settings.stateDir().resolve("alerts").resolve("exec"));
        // The alert.notification samples go where every sample goes; alerting ignores them as checks (job agent/alert).
        Alerting al = new Alerting(a, settings.stateDir(), identity.uuid(), stamper::hostname, context, samples -> sink.write(samples),
                m -> stamper.stamp("agent/alert", "alerting", List.of(m), 0, 0, false), java.time.Clock.systemUTC());
        problems.addAll(al.channels(channels));
        LOG.info("alerting: channels from {}, state in {}; group_wait {}, max_per_hour {}, give_up_after {}", channels.file(),
                al.store().file(), Units.format(a.groupWait()), a.maxPerHour(), Units.format(a.giveUpAfter()));
        return al;
    }

    /** Starts {@code al} with the outputs and the pipeline's samples, now that its own samples have somewhere to go. */
    private void startAlerting(Alerting al) {
        al.outputs(delivery.names());
        alerting = al;
        alertingRelay.to(al);
        al.start();
    }

    /**
     * Reads the channels file again (at a reload) and applies it (docs/ALERTS.md, "Channels at a
     * reload"): a file with problems changes nothing, its problems (logged here, file:line and fix)
     * are returned for the reload's; one without applies what was added, changed and removed, and
     * starts alerting if it was off and the file now has a channel.
     */
    private List<String> reloadChannels() {
        Path file = settings.alert().channelsFile();
        NotifyConfig notify = NotifyConfig.load(file);
        List<String> problems = new ArrayList<>();
        notify.problems().forEach(p -> problems.add(p.oneLine()));
        Alerting al = alerting;
        if (problems.isEmpty() && !Files.exists(file) && al != null && al.hasChannels()) {
            // A file that vanished is more likely a tool's slip than a wish to drop every channel and what waits for them.
            problems.add(new ConfigProblem(file, 0, 0, "the channels file is gone; the channels in use are kept",
                    "restore it; to remove every channel, leave the file with no [channel.NAME] section").oneLine());
        }
        if (!problems.isEmpty()) {
            problems.forEach(CONFIG::error);
            if (al != null && al.hasChannels()) {
                RELOAD.warn("{} has {} problem(s): the channels in use are kept until a reload finds it without problems", file, problems.size());
            }
            return problems;
        }
        if (al != null) {
            return al.channels(notify);
        }
        al = alerting(notify, problems);
        if (al != null) {
            startAlerting(al);
            RELOAD.info("alerting started: {} now has channels", file);
        }
        return problems;
    }

    /** Gives alerting the rules of the jobs scheduled now; says once if jobs notify but no channel is configured. */
    private void alertRules(boolean complete) {
        Map<String, AlertRule> rules = new LinkedHashMap<>();
        for (ScheduledJob j : jobs.values()) {
            rules.put(j.spec().name(), j.spec().alert());
        }
        for (JobSpec j : toCompile) {
            rules.put(j.name(), j.alert());
        }
        if (alerting != null) {
            // After a reload with problems a job may be missing only because its line or file is broken: not removed then.
            alerting.rules(rules, complete);
        } else if (rules.values().stream().anyMatch(AlertRule::notifies)) {
            CONFIG.error("jobs have notify= (or [alert] notify is set) but {} defines no channel: nobody is notified "
                    + "(fix: add a [channel.NAME] section, see docs/ALERTS.md)", settings.alert().channelsFile());
        }
    }

    /** Re-reads the cron files and plugins and applies what changed; logs what it did. */
    public synchronized void reload(String why) {
        if (stopping.get()) {
            return;
        }
        if (compiler != null) {
            // Start-up jobs are still waiting for their plugins: a reload now could add or change
            // one of them twice. It runs when the compiles are done.
            if (!reloadAfterStart) {
                RELOAD.info("reload ({}) deferred until the start-up compiles are done", why);
                deferredReload = why;
            }
            reloadAfterStart = true;
            return;
        }
        boolean startup = jobs.isEmpty() && "start-up".equals(why);
        String settingsPending = null;
        List<String> settingsProblems = new ArrayList<>();
        if (!startup) {
            RELOAD.info("reloading ({})", why);
            settingsPending = noteSettingsChange(settingsProblems);
        }
        reloadProblems.clear();
        List<CronFile> cronFiles = new CronFileParser(settings, new Date()).parseAll();
        Map<String, JobSpec> current = new LinkedHashMap<>();
        jobs.forEach((k, j) -> current.put(k, j.spec()));
        ReloadPlan plan = ReloadPlan.compute(current, cronFiles);

        for (ConfigProblem p : plan.problems()) {
            CONFIG.error(p.oneLine());
            reloadProblems.add(p.oneLine());
        }
        plan.warnings().forEach(p -> CONFIG.warn(p.oneLine()));
        plan.kept().forEach(RELOAD::warn);
        List<String> lines = new ArrayList<>();
        for (JobSpec j : plan.removed()) {
            ScheduledJob sj = jobs.remove(j.key());
            unschedule(sj);
            lines.add("- job " + j.name() + " removed");
        }
        for (JobSpec[] c : plan.changed()) {
            ScheduledJob old = jobs.remove(c[0].key());
            unschedule(old);
            ScheduledJob sj = schedule(c[1], old);
            if (sj != null) {
                lines.add("~ job " + c[1].name() + ": " + ReloadPlan.describeChange(c[0], c[1]) + "; next run " + next(sj));
            }
        }
        // Load (compile) the plugins of new and edited jobs before scheduling them: a compile takes
        // seconds in its JVM, and fires that fell due meanwhile would be missed at start-up, or
        // skipped as "previous run still going" later. checkPlugins then finds them loaded.
        // At start-up, jobs whose plugin needs the compiler wait for it in the background instead
        // (compileAtStart), so that the others fire from the first second.
        List<JobSpec> added = new ArrayList<>(plan.added());
        if (startup) {
            for (JobSpec j : plan.added()) {
                if (catalog.needsCompile(j.pluginPath())) {
                    added.remove(j);
                    toCompile.add(j);
                }
            }
        }
        added.forEach(this::checkPlugin);
        for (JobSpec[] c : plan.changed()) {
            checkPlugin(c[1]);
        }
        for (JobSpec j : added) {
            ScheduledJob sj = schedule(j, null);
            if (sj != null) {
                lines.add((startup ? "" : "+ ") + "job " + j.name() + " [" + j.cron() + "] from " + j.where() + "; next run " + next(sj));
            }
        }
        checkPlugins(plan, startup, toCompile);
        if (startup) {
            lines.forEach(LOG::info);
        } else {
            RELOAD.info("reload done: {} added, {} changed, {} removed, {} unchanged{}", plan.added().size(), plan.changed().size(),
                    plan.removed().size(), plan.unchanged().size(),
                    plan.problems().isEmpty() ? "" : "; " + plan.problems().size() + " problem(s) in the cron files, see above");
            lines.forEach(RELOAD::info);
        }
        jobSnapshot = List.copyOf(jobs.values());
        // A job may be missing only because its cron line or file is broken: alerting removes none then. The channels file's
        // problems do not hide jobs.
        boolean jobsComplete = reloadProblems.isEmpty();
        reloadProblems.addAll(startup ? startChannelProblems : reloadChannels());
        // Its problems are read from reloadProblems when a snapshot is taken: start-up compiles in the background add theirs later.
        lastReload = new AgentSnapshot.Reload(System.currentTimeMillis(), why, cronFiles.stream().map(CronFile::file).toList(), List.of(), 0,
                plan.added().size(), plan.changed().size(), plan.removed().size(), settingsPending);
        if (!startup) {
            reloads.incrementAndGet();
            if (!reloadProblems.isEmpty() || settingsPending != null) {
                failedReloads.incrementAndGet();
            }
        }
        alertRules(jobsComplete);
        if (alerting != null) {
            // Start-up's too: a restart with the problems fixed resolves a failed reload notified before it.
            List<String> problems = new ArrayList<>(settingsProblems);
            problems.addAll(reloadProblems);
            alerting.reloaded(why, problems);
        }
        if (watcher != null) {
            watcher.watch(watchedDirs());
        }
    }

    /** Compiles or opens the plugins of new and changed jobs, and of jobs whose plugin file changed. */
    private void checkPlugins(ReloadPlan plan, boolean startup, List<JobSpec> pending) {
        Map<Path, List<ScheduledJob>> byPlugin = new LinkedHashMap<>();
        java.util.Set<Path> pendingPlugins = new java.util.HashSet<>();
        pending.forEach(j -> pendingPlugins.add(j.pluginPath()));
        for (ScheduledJob j : jobs.values()) {
            if (pendingPlugins.contains(j.spec().pluginPath())) {
                continue; // its plugin is compiled in the background, for all the jobs that name it
            }
            byPlugin.computeIfAbsent(j.spec().pluginPath(), k -> new ArrayList<>()).add(j);
        }
        for (Map.Entry<Path, List<ScheduledJob>> e : byPlugin.entrySet()) {
            Path file = e.getKey();
            FileStamp loaded = catalog.loadedStamp(file);
            boolean changed = loaded != null && !loaded.equals(FileStamp.of(file));
            boolean fresh = loaded == null;
            if (!changed && !fresh) {
                continue;
            }
            for (ScheduledJob j : e.getValue()) {
                checkPlugin(j.spec());
            }
            if (changed && !startup) {
                RELOAD.info("plugin {} changed; reloaded for job(s) {}", file,
                        e.getValue().stream().map(j -> j.spec().name()).collect(Collectors.joining(", ")));
            }
        }
        if (!plan.removed().isEmpty() || !plan.changed().isEmpty()) {
            catalog.retain(jobs.values().stream().map(ScheduledJob::spec).toList());
        }
    }

    /** Loads {@code spec}'s plugin if needed and logs why it cannot be (a problem of the last reload), with the cron line it is for. */
    private void checkPlugin(JobSpec spec) {
        try {
            catalog.check(spec);
        } catch (PluginException ex) {
            if (stopping.get()) {
                return; // a compile cut short by the stop: nothing wrong with the plugin
            }
            String line = spec.where() + ": job " + spec.name() + ": " + LogText.escape(ex.getMessage()) + (ex.fix() == null ? "" : " (fix: " + ex.fix() + ")");
            CONFIG.error(line);
            reloadProblems.add(line);
        }
    }

    private ScheduledJob schedule(JobSpec spec, ScheduledJob previous) {
        try {
            ScheduledJob sj = scheduler.add(spec, previous, settings.backoffAfter(), settings.backoffMax(),
                    settings.log().failureSummary());
            jobs.put(spec.key(), sj);
            return sj;
        } catch (SchedulerException | RuntimeException e) {
            String line = spec.where() + ": job " + spec.name() + " cannot be scheduled: " + e.getMessage();
            CONFIG.error(line);
            reloadProblems.add(line);
            return null;
        }
    }

    private void unschedule(ScheduledJob sj) {
        try {
            scheduler.remove(sj);
        } catch (SchedulerException e) {
            RELOAD.warn("job {} could not be unscheduled: {}", sj.spec().name(), e.getMessage());
        }
    }

    /** Says if aegis_config.ini changed since the start (its problems, one line each, into {@code problems}); returns what to do about it, or null. */
    private String noteSettingsChange(List<String> problems) {
        AgentSettings now = AgentSettings.load(settings.home(), settings.confDir());
        if (!now.nonDefaults().equals(settings.nonDefaults()) || !now.problems().isEmpty()) {
            now.problems().forEach(p -> CONFIG.error(p.oneLine()));
            now.problems().forEach(p -> problems.add(p.oneLine()));
            RELOAD.warn("{} changed; its settings take effect at the next restart (the cron files and plugins reload now)",
                    settings.file());
            return settings.file() + " changed" + (now.problems().isEmpty() ? "" : " and has " + now.problems().size() + " problem(s)")
                    + "; its settings take effect at the next restart";
        }
        return null;
    }

    /**
     * What the watcher watches: the events inbox and the log and samples files (for being moved or
     * deleted) always, the cron files and plugins if [plugins] watch.
     */
    private Map<Path, ConfigWatcher.Target> watchedDirs() {
        Map<Path, ConfigWatcher.Target> targets = new LinkedHashMap<>();
        if (inbox != null) {
            targets.put(inbox.dir(), new ConfigWatcher.Target(EventInbox::isEventFile, why -> ingestEvents()));
        }
        Map<Path, java.util.Set<String>> reopened = new LinkedHashMap<>();
        List<Path> files = new ArrayList<>();
        files.add(settings.log().file());
        if (delivery != null) {
            files.addAll(delivery.files());
        }
        for (Path f : files) {
            reopened.computeIfAbsent(f.getParent(), d -> new java.util.HashSet<>()).add(f.getFileName().toString());
        }
        reopened.forEach((dir, names) -> targets.merge(dir, ConfigWatcher.Target.deletes(names::contains, why -> reopenFiles(false, why)),
                ConfigWatcher.Target::merge));
        if (!settings.watch()) {
            return targets;
        }
        Map<Path, Predicate<String>> dirs = new LinkedHashMap<>();
        dirs.put(settings.confDir(), name -> name.equals(JobSource.DEFAULT.fileName()) || name.equals(JobSource.USER.fileName())
                || name.equals(JobSource.DROPIN.fileName()) || name.equals(AgentSettings.FILE_NAME));
        // The channels file (conf/aegis_notify.ini, or wherever [alert] channels_file puts it): its changes apply at a reload.
        Path channelsFile = settings.alert().channelsFile();
        String channelsName = channelsFile.getFileName().toString();
        dirs.merge(channelsFile.getParent(), channelsName::equals, Predicate::or);
        dirs.put(settings.confDir().resolve(JobSource.DROPIN.fileName()), JobSource::isDropInName);
        Predicate<String> pluginFiles = name -> !name.startsWith(".") && !name.endsWith("~") && !name.endsWith(".swp")
                && !name.endsWith(".tmp");
        dirs.putIfAbsent(settings.defaultPluginDir(), pluginFiles);
        dirs.putIfAbsent(settings.userPluginDir(), pluginFiles);
        // Elsewhere (absolute plugin paths such as /usr/lib/nagios/plugins) only the files jobs name:
        // unrelated changes in a shared directory must not cause reloads.
        Map<Path, java.util.Set<String>> named = new LinkedHashMap<>();
        for (ScheduledJob j : jobs.values()) {
            Path p = j.spec().pluginPath();
            if (!dirs.containsKey(p.getParent())) {
                named.computeIfAbsent(p.getParent(), k -> new java.util.HashSet<>()).add(p.getFileName().toString());
            }
        }
        named.forEach((dir, names) -> dirs.put(dir, names::contains));
        dirs.forEach((dir, filter) -> targets.merge(dir, new ConfigWatcher.Target(filter, this::requestReload), ConfigWatcher.Target::merge));
        return targets;
    }

    /**
     * Reopens the log and the samples file where they were moved or deleted (logrotate without
     * copytruncate, an operator's rm), creating them again at their paths; with {@code force}, both
     * anyway, as SIGHUP asks. Says so in the new log, where tail -F picks it up.
     */
    public void reopenFiles(boolean force, String why) {
        List<String> reopened = new ArrayList<>();
        try {
            if (LogSetup.reopen(force)) {
                reopened.add("log");
            }
        } catch (IOException e) {
            LOG.error("cannot reopen the log {}: {}", settings.log().file(), e.getMessage());
        }
        Delivery d = delivery;
        if (d != null) {
            d.reopenFiles(force).forEach(f -> reopened.add("samples file " + f));
        }
        if (!reopened.isEmpty()) {
            LOG.info("reopened the {} ({})", String.join(" and the ", reopened), why);
        }
        synchronized (this) {
            if (watcher != null && !force) {
                watcher.watch(watchedDirs()); // a directory deleted with its file is watched again once recreated
            }
        }
    }

    private String next(ScheduledJob sj) {
        return Splay.describe(scheduler.nextFire(sj), scheduler.splayMillis(sj));
    }

    /** A snapshot of every output (pending, oldest age, last success, failing since, last error, counts); empty before start. */
    public List<OutputState> outputStates() {
        Delivery d = delivery;
        return d == null ? List.of() : d.states();
    }

    /** The jobs scheduled now, by key. */
    public synchronized Map<String, ScheduledJob> jobs() {
        return new LinkedHashMap<>(jobs);
    }

    /** The agent now, read-only (see {@link AgentSnapshot}); never waits for a reload. */
    public AgentSnapshot snapshot() {
        long now = System.currentTimeMillis();
        List<JobStatus> js = new ArrayList<>();
        for (ScheduledJob j : jobSnapshot) {
            Date next = scheduler == null ? null : scheduler.nextFire(j);
            js.add(j.status(now, next == null ? 0 : next.getTime()));
        }
        return new AgentSnapshot(Version.get(), ProcessHandle.current().pid(), startedMillis, now, started, stopping.get(), settings.home(),
                settings.file(), lastReload == null ? null : lastReload.withProblems(reloadProblems), reloads.get(), failedReloads.get(),
                governor == null ? null : governor.lastReading(), js, outputs(), spoolState());
    }

    /** Where samples go now: each output's state. */
    private List<OutputState> outputs() {
        Delivery d = delivery;
        return d == null ? List.of() : d.states();
    }

    /** The spool every output reads from; null before it is open. */
    private AgentSnapshot.Spool spoolState() {
        Delivery d = delivery;
        return d == null ? null : d.spoolState(settings.spool().maxBytes());
    }

    /**
     * Fires the job named {@code name} once now, as an operator asked (run-now): through the scheduler
     * and a worker, under the job's limits. {@code done} gets how it ended, on the worker.
     *
     * @return the job's definition, or null if no job has that name ({@code done} is then not called)
     */
    public JobSpec runNow(String name, Consumer<ManualRun> done) {
        for (ScheduledJob j : jobSnapshot) {
            if (j.spec().name().equals(name)) {
                String refusal = stopping.get() ? "the agent is stopping" : j.refusal(System.currentTimeMillis());
                if (refusal != null) {
                    done.accept(ManualRun.refused(refusal)); // at once; the worker checks again when it fires
                    return j.spec();
                }
                try {
                    scheduler.runNow(j, done);
                } catch (SchedulerException e) {
                    done.accept(ManualRun.refused("the scheduler refused it: " + e.getMessage()));
                }
                return j.spec();
            }
        }
        return null;
    }

    /** Asks for a restart: stops cleanly with exit code {@link #EXIT_RESTART} for the launcher to act on. */
    private void restart(String reason) {
        if (stopping.get()) {
            return;
        }
        LOG.error("restarting: {}", reason);
        exitCode = EXIT_RESTART;
        if (heartbeat != null) {
            heartbeat.state(Heartbeat.State.RESTART); // tells the launcher that exit code 75 is the agent's own
        }
        // Not on the calling worker: stop() waits for all workers to finish.
        new Thread(this::stop, "aegis-restart").start();
    }

    /** 0, or {@link #EXIT_RESTART} if the agent stopped to be restarted. */
    public int exitCode() {
        return exitCode;
    }

    /** Stops firing, lets running jobs end within their limits, and closes the sink. Idempotent. */
    public void stop() {
        if (!stopping.compareAndSet(false, true)) {
            awaitStop();
            return;
        }
        LOG.info("stopping: waiting for running jobs to end (each within its own limits)");
        if (heartbeat != null) {
            heartbeat.state(Heartbeat.State.STOPPING);
        }
        Thread c = compiler;
        if (c != null) {
            c.interrupt(); // ends the compiler process it waits for
        }
        if (watcher != null) {
            watcher.close();
        }
        if (scheduler != null) {
            scheduler.shutdown(true);
        }
        if (c != null) {
            try {
                c.join(10_000); // it kills the compiler process it was waiting for
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (journal != null) {
            journal.close(); // every run has ended: what the journal still holds was not waited for
        }
        if (alerting != null) {
            alerting.close(); // after the last run; what waits stays in its state file for the next start
        }
        if (catalog != null) {
            catalog.close();
        }
        if (sink != null) {
            sink.close();
        }
        if (delivery != null) {
            delivery.close();
        }
        // The timer last: the heartbeat beats on it until the stop is done.
        if (heartbeat != null) {
            heartbeat.close();
        }
        if (threads != null) {
            threads.close();
        }
        LOG.info("stopped");
        stopped.countDown();
    }

    /** Blocks until {@link #stop()} has finished. */
    public void awaitStop() {
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
