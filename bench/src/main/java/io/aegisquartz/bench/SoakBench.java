package io.aegisquartz.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.aegisquartz.spool.EventInbox;
import io.aegisquartz.spool.SpoolInspector;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * bench/soak (docs/RELIABILITY.md): the agent, through its launcher, uploading a numbered workload
 * to the reference receiver for a given time, while the agent is killed with SIGKILL at random
 * moments (its JVM alone, or the launcher and the JVM), the receiver is stopped for random outages
 * (SIGTERM or SIGKILL) and answers with every fault it can inject; then everything is drained and
 * every number produced is accounted for: received once, dead-lettered, reported dropped, reported
 * interrupted, or lost.
 *
 * <p>Plain process control and files: the agent and the receiver are the shipped launcher and JVMs,
 * the workload is a shell plugin that takes numbers under a lock and writes them to a ledger before
 * printing them, events are written into the spool's incoming/ as any process may.
 */
public final class SoakBench {

    static final String USAGE = """
            Usage: bench/soak [--duration 30m] [--kill-every 20s-90s] [--outage-every 2m-6m] [--outage 5s-45s]
                              [--faults all] [--fault-every 5] [--fault-delay 8s] [--seed N] [--work DIR]
                              [--launcher PATH] [--interrupted-pattern TEXT] [--unreported-interrupted fail|ok]
                              [--report FILE]

            Runs the agent (daemon/bin/aegis-quartz run) against the reference receiver (receive) on
            127.0.0.1 with a workload that numbers its samples: job 'fast' (1 sample a second), 'slow'
            (1 sample every 5 s, printed 2 s after the run took its number), 'burst' (50 samples every
            10 s), and a numbered event every 3 s. For --duration it SIGKILLs the agent at random
            intervals (--kill-every), half the time the JVM alone and half the time the launcher and
            the JVM, then starts it again as a service manager would; stops the receiver (SIGTERM or
            SIGKILL) for random outages (--outage, every --outage-every) and starts it again on the
            same port; and the receiver answers one request in --fault-every with the next of --faults
            (see 'aegis-quartz receive --help'). Then it drains: the receiver without faults, the jobs
            removed, until the spool and incoming/ are empty; and reconciles: produced, received,
            duplicates removed by id, stored twice, dead-lettered, reported as dropped, reported as
            interrupted (the numbers of a run matched to the next agent's report of it: a sample whose
            message contains --interrupted-pattern, default 'during this run', and names the job and
            when the run started), lost. Exits 0 if nothing was lost, 1 if something was (with
            --unreported-interrupted ok, for an agent build that does not report interrupted runs, runs
            in progress at a kill that were not reported are listed but not counted as a failure), 3 if
            the run itself failed.
            --work DIR keeps everything there (default: a temporary directory, deleted afterwards).
            Needs a build (mvn -B -q -DskipTests package). Run it niced on a shared machine.""";

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern ACCEPTED = Pattern.compile("(\\d+) accepted, (\\d+) duplicate");
    private static final Pattern FAULT = Pattern.compile("injected fault ([a-z0-9-]+)");
    /** When the agent started an interrupted run, as its report says: "... (job NAME, started TIME)" (docs/JOURNAL.md). */
    private static final Pattern STARTED = Pattern.compile(", started (\\d{4}-\\d{2}-\\d{2}T[0-9:.]+Z)\\)");

    /** A numbered job of the workload: its cron schedule, numbers per run and pause before printing. */
    private record Job(String name, String cron, int perRun, int pauseSeconds) {
    }

    private static final List<Job> JOBS = List.of(
            new Job("fast", "* * * * * ?", 1, 0),
            new Job("slow", "*/5 * * * * ?", 1, 2),
            new Job("burst", "*/10 * * * * ?", 50, 0));
    private static final String EVENT_NAME = "soak.event";

    private final Duration duration;
    private final long[] killEvery;
    private final long[] outageEvery;
    private final long[] outage;
    private final String faults;
    private final int faultEvery;
    private final String faultDelay;
    private final Random random;
    private final Path work;
    private final boolean keep;
    private final Path launcher;
    private final String interruptedPattern;
    private final boolean unreportedInterruptedOk;
    private final Path reportFile;

    private final Path home;
    private final Path ledger;
    private final Path receiverDir;
    private final Path received;
    private final PrintStream out = System.out;

    private Process agent;
    private Process receiver;
    private int port;
    private int receiverStarts;
    private long eventsWritten;
    /** {time of the kill, kind (0 the JVM, 1 the launcher and the JVM), time the next agent was started} in ms. */
    private final List<long[]> kills = new ArrayList<>();
    private int outagesTerm;
    private int outagesKill;
    private int agentStarts;
    private int unexpectedExits;
    private final long startedAt = System.currentTimeMillis();

    private SoakBench(Map<String, String> o) throws IOException {
        duration = duration(o.getOrDefault("duration", "30m"));
        killEvery = range(o.getOrDefault("kill-every", "20s-90s"));
        outageEvery = range(o.getOrDefault("outage-every", "2m-6m"));
        outage = range(o.getOrDefault("outage", "5s-45s"));
        faults = o.getOrDefault("faults", "all");
        faultEvery = Integer.parseInt(o.getOrDefault("fault-every", "5"));
        faultDelay = o.getOrDefault("fault-delay", "8s");
        random = new Random(Long.parseLong(o.getOrDefault("seed", Long.toString(System.nanoTime()))));
        keep = o.containsKey("work");
        work = keep ? Files.createDirectories(Path.of(o.get("work")).toAbsolutePath()) : Files.createTempDirectory("aegis-soak");
        launcher = Path.of(o.getOrDefault("launcher", "daemon/bin/aegis-quartz")).toAbsolutePath();
        interruptedPattern = o.getOrDefault("interrupted-pattern", "during this run");
        unreportedInterruptedOk = switch (o.getOrDefault("unreported-interrupted", "fail")) {
            case "ok" -> true;
            case "fail" -> false;
            default -> throw new IllegalArgumentException("--unreported-interrupted: ok or fail");
        };
        reportFile = o.containsKey("report") ? Path.of(o.get("report")).toAbsolutePath() : null;
        home = work.resolve("agent");
        ledger = work.resolve("ledger");
        receiverDir = work.resolve("receiver");
        received = receiverDir.resolve("received.jsonl");
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> o = Bench.options(args, USAGE, "duration", "kill-every", "outage-every", "outage", "faults",
                "fault-every", "fault-delay", "seed", "work", "launcher", "interrupted-pattern", "unreported-interrupted", "report");
        SoakBench soak;
        try {
            soak = new SoakBench(o);
        } catch (IllegalArgumentException e) {
            System.err.println("bench/soak: " + e.getMessage() + "\n" + USAGE);
            System.exit(2);
            return;
        }
        int code;
        try {
            code = soak.run();
        } catch (SoakFailed e) {
            System.err.println("bench/soak: the run could not be carried out: " + e.getMessage() + " (files kept in " + soak.work + ")");
            soak.stopAll();
            System.exit(3);
            return;
        }
        System.exit(code);
    }

    /** The run itself went wrong (not the agent's reliability): a process did not start, a drain never ended. */
    static final class SoakFailed extends Exception {
        SoakFailed(String message) {
            super(message);
        }
    }

    private int run() throws Exception {
        out.println("bench/soak: " + duration.toMinutes() + " min (" + duration.toSeconds() + " s) in " + work);
        out.println(machine());
        setUp();
        startReceiver(true);
        makeCdsArchive();
        startAgent();
        awaitStarts(1, Duration.ofMinutes(5)); // the first start may make the class-data archive
        long end = System.currentTimeMillis() + duration.toMillis();
        long nextKill = System.currentTimeMillis() + pick(killEvery);
        long nextOutage = System.currentTimeMillis() + pick(outageEvery);
        long outageEnds = Long.MAX_VALUE;
        long nextEvent = System.currentTimeMillis();
        long nextStatus = System.currentTimeMillis() + 60_000;
        while (System.currentTimeMillis() < end) {
            long now = System.currentTimeMillis();
            if (now >= nextEvent) {
                EventInbox.write(home.resolve("spool"), EVENT_NAME, Long.toString(eventsWritten + 1), null, now);
                eventsWritten++;
                nextEvent = now + 3_000;
            }
            if (agent != null && !agent.isAlive()) {
                // Not killed by us: the agent (or its launcher) ended by itself. Say so, and start it
                // again as a service manager would; the reconciliation shows whether it cost anything.
                unexpectedExits++;
                log("the agent exited by itself (launcher exit code " + agent.exitValue() + "); starting it again");
                startAgent();
            }
            if (now >= nextKill) {
                kill();
                nextKill = System.currentTimeMillis() + pick(killEvery);
            }
            if (receiver == null && now >= outageEnds) {
                startReceiver(true);
                outageEnds = Long.MAX_VALUE;
                nextOutage = System.currentTimeMillis() + pick(outageEvery);
            } else if (receiver != null && now >= nextOutage) {
                boolean hard = random.nextBoolean();
                stopReceiver(hard);
                if (hard) {
                    outagesKill++;
                } else {
                    outagesTerm++;
                }
                long down = pick(outage);
                outageEnds = System.currentTimeMillis() + down;
                log("receiver " + (hard ? "killed (SIGKILL)" : "stopped (SIGTERM)") + " for " + down / 1000 + " s");
            }
            if (now >= nextStatus) {
                out.printf("%s: %d kill(s), %d outage(s), %d agent start(s), %d line(s) received%n", elapsed(), kills.size(),
                        outagesTerm + outagesKill, agentStarts, lines(received));
                nextStatus = now + 60_000;
            }
            Thread.sleep(Math.max(50, Math.min(500, Math.min(nextEvent, Math.min(nextKill, Math.min(nextOutage, outageEnds)))
                    - System.currentTimeMillis())));
        }
        drain();
        return reconcile();
    }

    // ---- set-up ------------------------------------------------------------------------------

    private void setUp() throws IOException {
        for (Path d : List.of(home.resolve("conf"), home.resolve("plugins-default"), home.resolve("plugins-user"), home.resolve("log"),
                ledger, receiverDir)) {
            Files.createDirectories(d);
        }
        String secret = java.util.HexFormat.of().formatHex(java.security.SecureRandom.getSeed(32));
        String creds = "[credentials]\naccess_key_id = soak\naccess_key_secret = " + secret + "\n";
        for (Path f : List.of(home.resolve("conf/credentials"), receiverDir.resolve("credentials"))) {
            Files.writeString(f, creds);
            Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
        }
        Path plugin = home.resolve("plugins-user/seq.sh");
        Files.writeString(plugin, """
                #!/bin/sh
                # bench/soak's numbered workload: a run takes the next COUNT numbers of job JOB under a
                # lock, writes "FIRST COUNT START_MS" to the ledger, waits PAUSE seconds, then prints one
                # sample per number. A number is in the ledger before any agent could have seen it.
                set -eu
                dir=$1 job=$2 count=$3 pause=$4
                exec 9>>"$dir/$job.lock"
                flock 9
                last=$(cat "$dir/$job.next" 2>/dev/null || echo 0)
                first=$((last + 1))
                echo $((last + count)) > "$dir/$job.next.tmp"
                mv "$dir/$job.next.tmp" "$dir/$job.next"
                echo "$first $count $(date +%s%3N)" >> "$dir/$job.ledger"
                exec 9>&-
                [ "$pause" = 0 ] || sleep "$pause"
                i=0
                while [ $i -lt "$count" ]; do
                    echo "{\\"metric\\":\\"seq\\",\\"values\\":{\\"n\\":$((first + i))},\\"tags\\":{\\"job\\":\\"$job\\"}}"
                    i=$((i + 1))
                done
                """);
        Files.setPosixFilePermissions(plugin, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.writeString(home.resolve("conf/aegis_quartz.conf.default"), "");
        writeJobs(true);
    }

    private void writeJobs(boolean on) throws IOException {
        StringBuilder sb = new StringBuilder("# bench/soak's numbered workload\n");
        if (on) {
            for (Job j : JOBS) {
                sb.append('[').append(j.cron()).append("] name=").append(j.name()).append(" user/seq.sh ").append(ledger).append(' ')
                        .append(j.name()).append(' ').append(j.perRun()).append(' ').append(j.pauseSeconds()).append('\n');
            }
        }
        Path f = home.resolve("conf/aegis_quartz.conf.user");
        Path tmp = f.resolveSibling(".aegis_quartz.conf.user.tmp");
        Files.writeString(tmp, sb.toString());
        Files.move(tmp, f, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private void writeAgentConfig() throws IOException {
        Files.writeString(home.resolve("conf/aegis_config.ini"), """
                # bench/soak: the defaults, except where a soak needs things to happen sooner.
                [log]
                console = never
                [upload]
                endpoint = https://127.0.0.1:%d/aegis/v1/samples
                ca_file = %s
                # Requests every few seconds rather than every 15 s, so that many meet a fault.
                linger = 2s
                # Shorter than the receiver's slow fault (--fault-delay), so that one times out.
                timeout = 5s
                # Outages of seconds, not hours: come back soon after the receiver does.
                backoff_max = 10s
                """.formatted(port, receiverDir.resolve("state/receiver-cert.pem")));
    }

    // ---- receiver ----------------------------------------------------------------------------

    private void startReceiver(boolean withFaults) throws IOException, InterruptedException, SoakFailed {
        long deadline = System.currentTimeMillis() + 60_000;
        while (true) {
            int n = ++receiverStarts;
            List<String> cmd = new ArrayList<>(List.of(launcher.toString(), "--home", receiverDir.toString(), "receive",
                    "--listen", "127.0.0.1:" + port, "--credentials", receiverDir.resolve("credentials").toString(),
                    "--out", received.toString(), "--state-dir", receiverDir.resolve("state").toString()));
            if (withFaults && !faults.equals("none")) {
                cmd.addAll(List.of("--faults", faults, "--fault-every", Integer.toString(faultEvery), "--fault-delay", faultDelay));
            }
            Path stdout = receiverDir.resolve("stdout-" + n + ".txt");
            Process p = new ProcessBuilder(cmd).redirectOutput(stdout.toFile())
                    .redirectError(receiverDir.resolve("receive-" + n + ".log").toFile()).start();
            while (System.currentTimeMillis() < deadline) {
                String text = Files.exists(stdout) ? Files.readString(stdout) : "";
                Matcher m = Pattern.compile("bound to 127\\.0\\.0\\.1:(\\d+)").matcher(text);
                if (m.find() && text.contains("certificate to trust: ")) {
                    if (port == 0) {
                        port = Integer.parseInt(m.group(1));
                        writeAgentConfig();
                    }
                    receiver = p;
                    log("receiver started" + (withFaults ? "" : " without faults") + " (pid " + p.pid() + ")");
                    return;
                }
                if (!p.isAlive()) {
                    break; // port still taken, most likely: try again
                }
                Thread.sleep(100);
            }
            p.destroyForcibly();
            if (System.currentTimeMillis() >= deadline) {
                throw new SoakFailed("the receiver did not start on port " + port + "; see " + receiverDir + "/receive-" + n + ".log");
            }
            Thread.sleep(1_000);
        }
    }

    private void stopReceiver(boolean hard) throws InterruptedException {
        if (receiver == null) {
            return;
        }
        if (hard) {
            receiver.destroyForcibly();
        } else {
            receiver.destroy();
        }
        if (!receiver.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)) {
            receiver.destroyForcibly();
            receiver.waitFor();
        }
        receiver = null;
    }

    // ---- agent -------------------------------------------------------------------------------

    private void startAgent() throws IOException {
        ProcessBuilder pb = new ProcessBuilder(launcher.toString(), "--home", home.toString(), "run")
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(home.resolve("log/launcher.out").toFile()));
        pb.environment().put("AEGIS_HOME", home.toString());
        pb.environment().put("AEGIS_CDS_ARCHIVE", cdsArchive().toString());
        pb.environment().remove("AEGIS_CONF");
        agent = pb.start();
        agentStarts++;
    }

    private Path cdsArchive() {
        return work.resolve("cds/aegis-quartz.jsa");
    }

    /**
     * Makes the agent's class-data archives once, before the clock starts, as the package does at
     * install: otherwise a launcher that finds none trains one at each start (8-15 s of CPU), and the
     * kills would land in the training rather than in the agent.
     */
    private void makeCdsArchive() throws IOException, InterruptedException {
        Files.createDirectories(cdsArchive().getParent());
        Path upload = work.resolve("cds/aegis-quartz-upload.jsa");
        for (int attempt = 1; attempt <= 2 && !Files.exists(upload); attempt++) {
            // Trained on the checkout's default jobs (the launcher's default home), as an install is.
            ProcessBuilder pb = new ProcessBuilder(launcher.toString(), "cds-archive").redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(home.resolve("log/launcher.out").toFile()));
            pb.environment().put("AEGIS_CDS_ARCHIVE", cdsArchive().toString());
            pb.start().waitFor();
        }
        log(Files.exists(upload) ? "class-data archives made" : "no class-data archive could be made (see log/launcher.out):"
                + " every agent start will try again");
    }

    private int startedLines() throws IOException {
        Path log = home.resolve("log/aegis_quartz.log");
        if (!Files.exists(log)) {
            return 0;
        }
        int n = 0;
        try (BufferedReader r = Files.newBufferedReader(log, StandardCharsets.UTF_8)) {
            for (String line; (line = r.readLine()) != null; ) {
                if (line.contains(" started with ")) {
                    n++;
                }
            }
        }
        return n;
    }

    private void awaitStarts(int count, Duration limit) throws IOException, InterruptedException, SoakFailed {
        long deadline = System.currentTimeMillis() + limit.toMillis();
        while (startedLines() < count) {
            if (System.currentTimeMillis() > deadline || agent == null || !agent.isAlive() && startedLines() < count) {
                throw new SoakFailed("the agent did not start (" + startedLines() + " of " + count + " starts); see " + home
                        + "/log/aegis_quartz.log and launcher.out");
            }
            Thread.sleep(200);
        }
    }

    /** The agent's JVM: the launcher's child running the agent's main class. */
    private Optional<ProcessHandle> agentJvm() {
        if (agent == null) {
            return Optional.empty();
        }
        // Not a class-data archive training JVM (-XX:ArchiveClassesAtExit), which a launcher may start first.
        return agent.toHandle().children()
                .filter(c -> c.info().commandLine().map(l -> l.contains("io.aegisquartz.cli.Main") && l.contains(" run")
                        && !l.contains("ArchiveClassesAtExit")).orElse(false)).findFirst();
    }

    /**
     * SIGKILL, at whatever moment this is: the JVM alone (a crash, the OOM killer) or the launcher and
     * the JVM (the whole service killed). Then the agent is started again as systemd would, after 0-3 s,
     * unless its launcher survived and starts a JVM itself.
     */
    private void kill() throws IOException, InterruptedException, SoakFailed {
        if (agent == null || !agent.isAlive()) {
            startAgent();
            return;
        }
        Optional<ProcessHandle> jvm = agentJvm();
        boolean jvmOnly = jvm.isPresent() && random.nextBoolean();
        long at = System.currentTimeMillis();
        if (jvmOnly) {
            jvm.get().destroyForcibly();
        } else {
            agent.toHandle().destroyForcibly();
            jvm.ifPresent(ProcessHandle::destroyForcibly);
        }
        long[] record = {at, jvmOnly ? 0 : 1, Long.MAX_VALUE};
        kills.add(record);
        log("killed " + (jvmOnly ? "the agent's JVM" : "the launcher and the JVM") + " (SIGKILL)");
        if (jvmOnly) {
            jvm.get().onExit().join();
            // A launcher that supervises its JVM starts a new one; one that does not exits now.
            long until = System.currentTimeMillis() + 3_000;
            while (agent.isAlive() && System.currentTimeMillis() < until) {
                if (agentJvm().filter(h -> h.pid() != jvm.get().pid()).isPresent()) {
                    record[2] = System.currentTimeMillis();
                    return;
                }
                Thread.sleep(100);
            }
            if (agent.isAlive()) {
                agent.toHandle().destroyForcibly();
            }
        }
        agent.waitFor();
        Thread.sleep(random.nextInt(3_000));
        record[2] = System.currentTimeMillis();
        startAgent();
    }

    // ---- drain -------------------------------------------------------------------------------

    private void drain() throws Exception {
        log("chaos over after " + elapsed() + "; draining: receiver without faults, jobs removed");
        if (agent == null || !agent.isAlive()) {
            startAgent();
        }
        stopReceiver(false);
        startReceiver(false);
        int starts = agentStarts;
        writeJobs(false);
        // The agent picks the cron edit up by itself; runs already going finish.
        Map<String, Long> sizes = ledgerSizes();
        long stableSince = System.currentTimeMillis();
        long deadline = System.currentTimeMillis() + 300_000;
        while (System.currentTimeMillis() - stableSince < 10_000) {
            Thread.sleep(1_000);
            Map<String, Long> now = ledgerSizes();
            if (!now.equals(sizes)) {
                sizes = now;
                stableSince = System.currentTimeMillis();
            }
            if (System.currentTimeMillis() > deadline) {
                throw new SoakFailed("the jobs did not stop after their cron lines were removed");
            }
        }
        deadline = System.currentTimeMillis() + 900_000;
        int quiet = 0;
        while (quiet < 3) {
            if (System.currentTimeMillis() > deadline) {
                throw new SoakFailed("the spool did not drain within 15 minutes");
            }
            if (!agent.isAlive()) {
                throw new SoakFailed("the agent exited during the drain (exit code " + agent.exitValue() + ")");
            }
            SpoolInspector.Report r = SpoolInspector.inspect(home.resolve("spool"));
            quiet = r.pendingRecords() == 0 && r.incomingEvents() == 0 ? quiet + 1 : 0;
            Thread.sleep(2_000);
        }
        agent.destroy(); // SIGTERM: the launcher passes it on and the agent stops cleanly
        if (!agent.waitFor(120, java.util.concurrent.TimeUnit.SECONDS)) {
            throw new SoakFailed("the agent did not stop within 2 minutes of SIGTERM");
        }
        stopReceiver(false);
        log("drained (" + (agentStarts - starts) + " agent start(s) during the drain)");
    }

    private Map<String, Long> ledgerSizes() throws IOException {
        Map<String, Long> m = new TreeMap<>();
        for (Job j : JOBS) {
            Path f = ledger.resolve(j.name() + ".ledger");
            m.put(j.name(), Files.exists(f) ? Files.size(f) : 0);
        }
        return m;
    }

    private void stopAll() {
        for (Process p : new Process[] {agent, receiver}) {
            if (p != null && p.isAlive()) {
                p.children().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
            }
        }
    }

    // ---- reconcile ---------------------------------------------------------------------------

    /** One run of a numbered job, from its ledger. */
    private record Run(long first, int count, long startMillis) {
    }

    private int reconcile() throws IOException {
        Map<String, List<Run>> runs = new LinkedHashMap<>();
        for (Job j : JOBS) {
            List<Run> list = new ArrayList<>();
            Path f = ledger.resolve(j.name() + ".ledger");
            if (Files.exists(f)) {
                for (String line : Files.readAllLines(f)) {
                    String[] p = line.strip().split(" ");
                    if (p.length == 3) {
                        list.add(new Run(Long.parseLong(p[0]), Integer.parseInt(p[1]), Long.parseLong(p[2])));
                    }
                }
            }
            runs.put(j.name(), list);
        }

        // What the receiver stored: each id once (it drops repeated ids), so a number stored twice
        // means two ids for one sample.
        Map<String, Map<Long, Integer>> stored = new HashMap<>();
        // Per job, when each run reported as interrupted was started (null if the report does not say).
        Map<String, List<Long>> interruptedRuns = new HashMap<>();
        long droppedReported = 0;
        long other = 0;
        long storedLines = 0;
        try (BufferedReader r = Files.newBufferedReader(received, StandardCharsets.UTF_8)) {
            for (String line; (line = r.readLine()) != null; ) {
                if (line.isBlank()) {
                    continue;
                }
                storedLines++;
                JsonNode s = JSON.readTree(line);
                String job = s.path("job").asText();
                String status = s.path("status").asText();
                String message = s.path("message").asText("");
                if (s.path("metric").asText().equals("seq") && s.path("values").has("n")) {
                    stored.computeIfAbsent(s.path("tags").path("job").asText(), k -> new HashMap<>())
                            .merge(s.path("values").path("n").asLong(), 1, Integer::sum);
                } else if (job.equals("agent/event") && s.path("tags").path("name").asText().equals(EVENT_NAME)) {
                    stored.computeIfAbsent("events", k -> new HashMap<>()).merge(Long.parseLong(message), 1, Integer::sum);
                } else if (status.equals("dropped")) {
                    droppedReported += s.path("values").path("count").asLong();
                } else if ((status.equals("killed") || status.equals("error")) && message.contains(interruptedPattern)) {
                    Matcher sm = STARTED.matcher(message);
                    interruptedRuns.computeIfAbsent(job, k -> new ArrayList<>()).add(sm.find() ? Instant.parse(sm.group(1)).toEpochMilli() : null);
                } else {
                    other++;
                }
            }
        }
        Map<String, Map<Long, Integer>> dead = new HashMap<>();
        // [upload] is the output named aegis, which dead-letters into its own file (docs/OUTPUTS.md).
        Path deadFile = home.resolve("spool").resolve(SpoolInspector.deadLetterFile("aegis"));
        long deadLines = 0;
        if (Files.exists(deadFile)) {
            for (String line : Files.readAllLines(deadFile)) {
                if (line.isBlank()) {
                    continue;
                }
                deadLines++;
                JsonNode s = JSON.readTree(line).path("sample");
                String key = s.path("metric").asText().equals("seq") ? s.path("tags").path("job").asText()
                        : s.path("job").asText().equals("agent/event") ? "events" : "other";
                long n = key.equals("events") ? Long.parseLong(s.path("message").asText("0")) : s.path("values").path("n").asLong();
                dead.computeIfAbsent(key, k -> new HashMap<>()).merge(n, 1, Integer::sum);
            }
        }
        long duplicates = 0;
        Map<String, Integer> faultCounts = new TreeMap<>();
        try (var files = Files.newDirectoryStream(receiverDir, "receive-*.log")) {
            for (Path f : files) {
                for (String line : Files.readAllLines(f)) {
                    Matcher m = ACCEPTED.matcher(line);
                    if (m.find()) {
                        duplicates += Long.parseLong(m.group(2));
                    }
                    Matcher fm = FAULT.matcher(line);
                    if (fm.find()) {
                        faultCounts.merge(fm.group(1), 1, Integer::sum);
                    }
                }
            }
        }
        List<String> problems = SpoolInspector.inspect(home.resolve("spool")).problems().stream()
                .map(SpoolInspector.Problem::format).toList();

        // Per column: produced, stored once, stored twice, dead-lettered, reported interrupted, lost, unreported at a kill.
        List<String> columns = new ArrayList<>();
        JOBS.forEach(j -> columns.add(j.name()));
        columns.add("events");
        Map<String, long[]> rows = new LinkedHashMap<>();
        long totalLost = 0;
        long totalUnreportedAtKill = 0;
        long totalTwice = 0;
        long totalProduced = 0;
        long reportsUnmatched = 0;
        for (String c : columns) {
            Set<Long> produced = new TreeSet<>();
            Map<Long, Long> startOf = new HashMap<>();
            Map<Long, Long> nextStartOf = new HashMap<>();
            if (c.equals("events")) {
                for (long n = 1; n <= eventsWritten; n++) {
                    produced.add(n);
                }
            } else {
                List<Run> list = runs.get(c);
                for (int i = 0; i < list.size(); i++) {
                    Run run = list.get(i);
                    long next = i + 1 < list.size() ? list.get(i + 1).startMillis() : Long.MAX_VALUE;
                    for (long n = run.first(); n < run.first() + run.count(); n++) {
                        produced.add(n);
                        startOf.put(n, run.startMillis());
                        nextStartOf.put(n, next);
                    }
                }
            }
            Map<Long, Integer> got = stored.getOrDefault(c, Map.of());
            Map<Long, Integer> deadHere = dead.getOrDefault(c, Map.of());
            long once = 0;
            long twice = 0;
            long deadLettered = 0;
            List<Long> missing = new ArrayList<>();
            for (long n : produced) {
                int g = got.getOrDefault(n, 0);
                if (g > 0) {
                    once++;
                    twice += g - 1;
                } else if (deadHere.containsKey(n)) {
                    deadLettered++;
                } else {
                    missing.add(n);
                }
            }
            // Reported as interrupted: a run of the ledger whose numbers are missing, matched one to one
            // with a report of its job that says the run started at most a minute before the plugin
            // wrote its ledger line (the agent records the start before it spawns the plugin), by an
            // agent that was then killed; the latest such report wins. The plugin outlives the agent
            // that spawned it and may write its ledger line a little after the next agent started (10 s
            // allowed, for a loaded machine). A report explains only its own run's numbers, so a report
            // of a run that took none cannot hide a loss elsewhere.
            List<Long> reports = new ArrayList<>(interruptedRuns.getOrDefault(c, List.of()));
            long interrupted = 0;
            if (!c.equals("events")) {
                Set<Long> missingSet = new TreeSet<>(missing);
                for (Run run : runs.get(c)) {
                    List<Long> gone = new ArrayList<>();
                    for (long n = run.first(); n < run.first() + run.count(); n++) {
                        if (missingSet.contains(n)) {
                            gone.add(n);
                        }
                    }
                    if (gone.isEmpty()) {
                        continue;
                    }
                    Long best = null;
                    for (Long started : reports) {
                        if (started != null && started <= run.startMillis() && run.startMillis() - started <= 60_000
                                && kills.stream().anyMatch(k -> started < k[0] && run.startMillis() < k[2] + 10_000)
                                && (best == null || started > best)) {
                            best = started;
                        }
                    }
                    if (best != null) {
                        reports.remove(best);
                        interrupted += gone.size();
                        missing.removeAll(gone);
                        missingSet.removeAll(gone);
                    }
                }
            }
            reportsUnmatched += reports.size();
            long lost = missing.size();
            // A missing number whose run was started by an agent that was then killed (its ledger time
            // is before the next agent was started: a plugin writes it a little after it was spawned,
            // so it may come after the kill itself), not long before the kill (the job's pause plus 5 s,
            // far more than a run takes here), and whose job had not run again before the kill was in
            // progress when the agent died: what the agent must report as an interrupted run.
            long longest = c.equals("events") ? 0 : (JOBS.stream().filter(j -> j.name().equals(c)).findFirst().orElseThrow()
                    .pauseSeconds() + 5) * 1000L;
            long atKill = 0;
            for (long n : missing) {
                Long s = startOf.get(n);
                if (s != null && kills.stream().anyMatch(k -> s < k[2] && s > k[0] - longest && k[0] < nextStartOf.get(n))) {
                    atKill++;
                }
            }
            long unreportedAtKill = Math.min(lost, atKill);
            rows.put(c, new long[] {produced.size(), once, twice, deadLettered, interrupted, lost, unreportedAtKill});
            totalProduced += produced.size();
            totalTwice += twice;
            totalLost += lost;
            totalUnreportedAtKill += unreportedAtKill;
        }
        long lostForVerdict = totalLost - (unreportedInterruptedOk ? totalUnreportedAtKill : 0);
        // Dropped samples cannot be told apart by number (the spool counts them); they explain lost ones.
        lostForVerdict = Math.max(0, lostForVerdict - droppedReported);

        StringBuilder t = new StringBuilder();
        t.append("| | ").append(String.join(" | ", columns)).append(" | total |\n");
        t.append("|---|").append("---:|".repeat(columns.size() + 1)).append('\n');
        String[] names = {"produced (numbers taken)", "received (stored once)", "stored twice (under two ids)", "dead-lettered",
            "reported as interrupted", "lost", "of which in progress at a kill, not reported"};
        for (int i = 0; i < names.length; i++) {
            t.append("| ").append(names[i]);
            long sum = 0;
            for (String c : columns) {
                t.append(" | ").append(rows.get(c)[i]);
                sum += rows.get(c)[i];
            }
            t.append(" | ").append(sum).append(" |\n");
        }
        t.append("| duplicates removed by id (receiver) |").append(" |".repeat(columns.size())).append(' ').append(duplicates).append(" |\n");
        t.append("| reported as dropped (spool) |").append(" |".repeat(columns.size())).append(' ').append(droppedReported).append(" |\n");

        StringBuilder rep = new StringBuilder();
        rep.append("bench/soak, ").append(elapsed()).append(" (chaos ").append(duration.toMinutes()).append(" min), ")
                .append(Instant.ofEpochMilli(startedAt)).append('\n');
        rep.append(machine()).append("\n\n");
        rep.append(t).append('\n');
        long jvmKills = kills.stream().filter(k -> k[1] == 0).count();
        rep.append("Kills: ").append(kills.size()).append(" (JVM alone ").append(jvmKills).append(", launcher and JVM ")
                .append(kills.size() - jvmKills).append("); agent starts: ").append(agentStarts).append("; receiver outages: ")
                .append(outagesTerm + outagesKill).append(" (SIGTERM ").append(outagesTerm).append(", SIGKILL ").append(outagesKill)
                .append("); receiver starts: ").append(receiverStarts).append("; agent exits not caused by the soak: ")
                .append(unexpectedExits).append('\n');
        rep.append("Faults injected: ").append(faultCounts.isEmpty() ? "none" : faultCounts.toString()).append('\n');
        rep.append("Receiver file: ").append(storedLines).append(" line(s), ").append(other)
                .append(" of them other samples (skips, failures); dead-letter file: ").append(deadLines).append(" line(s)\n");
        rep.append("spool verify: ").append(problems.isEmpty() ? "no problem" : problems).append('\n');
        boolean ok = lostForVerdict == 0 && totalTwice == 0 && totalProduced > 0;
        rep.append("Verdict: ").append(ok ? "PASS" : "FAIL").append(": ").append(totalLost).append(" lost")
                .append(totalUnreportedAtKill > 0 ? " (" + totalUnreportedAtKill + " in progress at a kill, not reported"
                        + (unreportedInterruptedOk ? ", allowed by --unreported-interrupted ok)" : ")") : "")
                .append(droppedReported > 0 ? ", " + droppedReported + " reported dropped" : "")
                .append(reportsUnmatched > 0 ? ", " + reportsUnmatched + " interrupted run(s) reported that had not taken a number" : "")
                .append(", ").append(totalTwice).append(" stored twice\n");
        out.println();
        out.print(rep);
        Files.writeString(work.resolve("report.md"), rep);
        if (reportFile != null) {
            Files.writeString(reportFile, rep);
        }
        if (!keep && ok) {
            Bench.deleteTree(work);
        } else {
            out.println("files kept in " + work);
        }
        return ok ? 0 : 1;
    }

    // ---- helpers -----------------------------------------------------------------------------

    private static String machine() {
        String cpu = "unknown CPU";
        try {
            cpu = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                    .map(l -> l.substring(l.indexOf(':') + 1).strip()).findFirst().orElse(cpu);
        } catch (IOException ignored) {
            // not Linux, or /proc hidden: the rest of the line still says a lot
        }
        String load = "";
        try {
            load = ", load average " + Files.readString(Path.of("/proc/loadavg")).split(" ", 4)[0] + " "
                    + Files.readString(Path.of("/proc/loadavg")).split(" ", 4)[1];
        } catch (IOException ignored) {
            // as above
        }
        return "machine: " + cpu + ", " + Runtime.getRuntime().availableProcessors() + " CPU(s), " + System.getProperty("os.name")
                + " " + System.getProperty("os.version") + ", Java " + System.getProperty("java.version") + load;
    }

    private long pick(long[] range) {
        return range[0] + (range[1] > range[0] ? (long) (random.nextDouble() * (range[1] - range[0])) : 0);
    }

    private String elapsed() {
        long s = (System.currentTimeMillis() - startedAt) / 1000;
        return String.format("%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
    }

    private void log(String what) {
        String line = elapsed() + " " + what;
        out.println(line);
        try {
            Files.writeString(work.resolve("events.log"), Instant.now() + " " + what + "\n", StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND);
        } catch (IOException e) {
            out.println("(cannot write events.log: " + e + ")");
        }
    }

    private static long lines(Path f) {
        try (var s = Files.lines(f)) {
            return s.count();
        } catch (IOException e) {
            return 0;
        }
    }

    /** "30m", "90s", "1h". */
    static Duration duration(String text) {
        Duration d = io.aegisquartz.config.Units.parseDuration(text);
        if (d == null) {
            throw new IllegalArgumentException("not a duration: " + text + " (e.g. 90s, 30m)");
        }
        return d;
    }

    /** "20s-90s": the bounds of a random wait, in ms. */
    static long[] range(String text) {
        String[] p = text.split("-");
        if (p.length != 2) {
            throw new IllegalArgumentException("not a range: " + text + " (e.g. 20s-90s)");
        }
        long a = duration(p[0]).toMillis();
        long b = duration(p[1]).toMillis();
        if (b < a) {
            throw new IllegalArgumentException("range " + text + " ends before it starts");
        }
        return new long[] {a, b};
    }
}
