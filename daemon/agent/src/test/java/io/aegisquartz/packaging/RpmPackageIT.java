package io.aegisquartz.packaging;

import io.aegisquartz.Version;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The RPM built by the README's command from packaging/: what rpm and rpmlint see in it, its
 * scriptlets, and the installed agent run as the systemd unit runs it.
 *
 * <p>There is no systemd as init here, so "as the unit runs it" means: the package installed with
 * rpm into a scratch root; a private mount namespace in which that root's directories are mounted
 * at their real paths (over overlays of /etc, /opt and /var, so the host is never changed); the
 * user made by the package's own %pre script; and the unit's own lines, parsed from the installed
 * .service file: ExecStartPre, ExecStart and ExecReload, User and Group, Environment,
 * AmbientCapabilities and CapabilityBoundingSet, NoNewPrivileges (via setpriv), UMask and the
 * SystemCallFilter (via seccomp_exec.py). Resource caps and the file system sandbox need systemd;
 * 'systemd-analyze verify' and 'security' check those lines.
 */
class RpmPackageIT {

    static final Path REPO = Path.of(System.getProperty("aegis.repo", "../..")).toAbsolutePath().normalize();
    static final String BUILD_COMMAND = "mvn -B -q -DskipTests package && packaging/build-rpm";
    static final String UNIT = "/usr/lib/systemd/system/aegis-quartz.service";
    static final String HOST_SOCKET_UNIT = "/usr/lib/systemd/system/aegis-quartz-plugins.socket";
    static final String HOST_UNIT = "/usr/lib/systemd/system/aegis-quartz-plugins@.service";
    static final String EXEC_SOCKET_UNIT = "/usr/lib/systemd/system/aegis-quartz-exec.socket";
    static final String EXEC_UNIT = "/usr/lib/systemd/system/aegis-quartz-exec@.service";
    /** Highest 'systemd-analyze security' exposure accepted (README.md reports the current one). */
    static final double EXPOSURE_BOUND = 2.5;
    /** The same for an instance of the plugin host's service (docs/SECURITY.md reports the current one). */
    static final double HOST_EXPOSURE_BOUND = 2.0;
    /** The exec host's: the plugin host's, plus a delegated cgroup and one harmless ambient capability (docs/SECURITY.md). */
    static final double EXEC_EXPOSURE_BOUND = 2.3;
    static final List<String> PACKAGE_DIRS = List.of("/opt/aegis-quartz", "/etc/aegis-quartz", "/var/lib/aegis-quartz", "/var/log/aegis-quartz");

    @TempDir
    static Path built;
    static Path rpm1;
    static Path rpm2;

    @TempDir
    Path dir;

    @org.junit.jupiter.api.extension.RegisterExtension
    final io.aegisquartz.testing.StartedProcesses started = new io.aegisquartz.testing.StartedProcesses();
    private final List<ProcessHandle> extra = new ArrayList<>();

    @BeforeAll
    static void buildTwoReleasesWithTheReadmeCommand() throws Exception {
        requireTools();
        assertTrue(Files.readString(REPO.resolve("README.md")).contains(BUILD_COMMAND), "README shows how to build the RPM");
        // The verify phase has packaged the agent already; what is left of the README command is:
        rpm1 = build("--out", built.resolve("r1").toString());
        rpm2 = build("--release", "2", "--out", built.resolve("r2").toString());
    }

    @AfterEach
    void stopWhatWeStarted() {
        // The processes of 'started' are stopped by the extension; these are the ones found, not started.
        extra.forEach(ProcessHandle::destroyForcibly);
    }

    // ------------------------------------------------------------------ the package as rpm sees it

    @Test
    void filesOwnersModesAndConfigFlags() throws Exception {
        Map<String, String> files = new TreeMap<>();
        for (String line : query(rpm1, "[%{FILEMODES:perms} %{FILEUSERNAME} %{FILEGROUPNAME} flags=%{FILEFLAGS:fflags} %{FILENAMES}\\n]").lines().toList()) {
            String[] f = line.split(" ", 5);
            files.put(f[4], f[0] + " " + f[1] + " " + f[2] + " " + f[3]);
        }
        assertEquals(Version.get().replace('-', '~') + " 1 noarch", query(rpm1, "%{VERSION} %{RELEASE} %{ARCH}"));
        assertEquals("2", query(rpm2, "%{RELEASE}"));
        String requires = run(List.of("rpm", "-qp", "--requires", rpm1.toString())).out();
        assertTrue(requires.contains("jre-headless >= 1:17"), requires);
        assertTrue(requires.lines().anyMatch(l -> l.strip().equals("iproute")) && requires.lines().anyMatch(l -> l.strip().equals("util-linux")),
                "ss and setpriv: " + requires);

        Map<String, String> expected = new LinkedHashMap<>();
        expected.put("/opt/aegis-quartz/bin/aegis-quartz", "-rwxr-xr-x root root flags=");
        expected.put("/opt/aegis-quartz/lib/aegis-quartz.jar", "-rw-r--r-- root root flags=");
        expected.put("/usr/bin/aegis-quartz", "-rwxr-xr-x root root flags=");
        expected.put(UNIT, "-rw-r--r-- root root flags=");
        expected.put(HOST_SOCKET_UNIT, "-rw-r--r-- root root flags=");
        expected.put(HOST_UNIT, "-rw-r--r-- root root flags=");
        expected.put(EXEC_SOCKET_UNIT, "-rw-r--r-- root root flags=");
        expected.put(EXEC_UNIT, "-rw-r--r-- root root flags=");
        expected.put("/usr/lib/sysusers.d/aegis-quartz.conf", "-rw-r--r-- root root flags=");
        expected.put("/usr/share/doc/aegis-quartz/README.md", "-rw-r--r-- root root flags=d");
        // Config: root's to write, the agent's group may read; upgrades keep local edits ...
        expected.put("/etc/aegis-quartz", "drwxr-x--- root aegis-quartz flags=");
        expected.put("/etc/aegis-quartz/aegis_config.ini", "-rw-r----- root aegis-quartz flags=cn");
        expected.put("/etc/aegis-quartz/aegis_quartz.conf.user", "-rw-r----- root aegis-quartz flags=cn");
        expected.put("/etc/aegis-quartz/credentials", "-rw------- aegis-quartz aegis-quartz flags=cn");
        // Drop-in job files: the directory, empty, for configuration management to fill.
        expected.put("/etc/aegis-quartz/aegis_quartz.conf.d", "drwxr-x--- root aegis-quartz flags=");
        expected.put("/etc/logrotate.d/aegis-quartz", "-rw-r--r-- root root flags=cn");
        expected.put("/etc/aegis-quartz/plugins-user/README.md", "-rw-r----- root aegis-quartz flags=cn");
        expected.put("/etc/aegis-quartz/plugins-user/examples/hello.sh", "-rwxr-x--- root aegis-quartz flags=cn");
        // ... except in the default jobs, which upgrades replace (as the file's header says).
        expected.put("/etc/aegis-quartz/aegis_quartz.conf.default", "-rw-r----- root aegis-quartz flags=c");
        expected.put("/var/lib/aegis-quartz", "drwxr-x--- aegis-quartz aegis-quartz flags=");
        expected.put("/var/lib/aegis-quartz/plugin-cache", "drwxr-x--- aegis-quartz aegis-quartz flags=");
        expected.put("/var/log/aegis-quartz", "drwxr-x--- aegis-quartz aegis-quartz flags=");
        for (String jar : list(REPO.resolve("daemon/agent/target/lib"))) {
            expected.put("/opt/aegis-quartz/lib/" + jar, "-rw-r--r-- root root flags=");
        }
        // Every default plugin, whoever added it: the package takes the directory, not a list.
        for (String plugin : list(REPO.resolve("plugins-default"))) {
            String mode = Files.isExecutable(REPO.resolve("plugins-default").resolve(plugin)) ? "-rwxr-xr-x" : "-rw-r--r--";
            expected.put("/opt/aegis-quartz/plugins-default/" + plugin, mode + " root root flags=");
        }
        Map<String, String> actual = new TreeMap<>();
        expected.keySet().forEach(k -> actual.put(k, files.get(k)));
        assertEquals(new TreeMap<>(expected), actual);

        List<String> writableByOthers = files.entrySet().stream()
                .filter(e -> e.getValue().charAt(5) == 'w' || e.getValue().charAt(8) == 'w').map(Map.Entry::getKey).toList();
        assertEquals(List.of(), writableByOthers, "no packaged file is group- or world-writable");
        assertEquals(List.of(), files.keySet().stream().filter(f -> f.startsWith("/etc/aegis-quartz/aegis_quartz.conf.d/")).toList(),
                "the drop-in directory ships empty");
        // The package owns only its directories under /var: rpm -e leaves what the agent wrote there.
        assertEquals(List.of("/var/lib/aegis-quartz", "/var/lib/aegis-quartz/plugin-cache", "/var/log/aegis-quartz"),
                files.keySet().stream().filter(f -> f.startsWith("/var/")).toList());
        String documentation = Unit.read(REPO.resolve("packaging/aegis-quartz.service")).one("Documentation");
        assertTrue(files.containsKey(documentation.substring("file:".length())), "the unit's Documentation= is in the package");
    }

    @Test
    void scriptletsDriveSystemdAsFedorasMacrosDo() throws Exception {
        // A systemctl that records its arguments and fails, as on a host where systemd is not running:
        // the scriptlets must still succeed, or rpm would abort the transaction.
        Path shim = Files.createDirectories(dir.resolve("shim"));
        Path calls = dir.resolve("systemctl.calls");
        script(shim.resolve("systemctl"), "#!/bin/sh\necho \"$*\" >> " + calls + "\nexit 1\n");
        String[][] cases = {
                // scriptlet, rpm's $1 (instances left after the transaction), systemctl calls expected
                {"POSTIN", "1", "--no-reload preset aegis-quartz.service"}, // install
                {"POSTIN", "2", ""},                                         // upgrade
                {"PREUN", "0", "--no-reload disable --now aegis-quartz.service"}, // erase: stop, disable
                {"PREUN", "1", ""},                                          // upgrade, old package leaving
                {"POSTUN", "1", "try-restart aegis-quartz.service"},          // upgrade: restart if running
                {"POSTUN", "0", ""},                                         // erase
        };
        for (String[] c : cases) {
            assertEquals("/bin/sh", query(rpm1, "%{" + c[0] + "PROG}"), c[0]);
            Path body = script(dir.resolve(c[0] + ".sh"), query(rpm1, "%{" + c[0] + "}"));
            Files.deleteIfExists(calls);
            Result r = run(List.of("env", "PATH=" + shim + ":/usr/sbin:/usr/bin:/sbin:/bin", "sh", body.toString(), c[1]));
            assertEquals(0, r.code(), c[0] + " " + c[1] + ": " + r.out());
            assertEquals(c[2], Files.exists(calls) ? Files.readString(calls).strip() : "", c[0] + " with $1=" + c[1]);
        }
    }

    @Test
    void rpmlintFindsNoErrorsAndTheReadmeListsItsWarnings() throws Exception {
        Result r = run(List.of("rpmlint", "-r", REPO.resolve("packaging/aegis-quartz.rpmlintrc").toString(), rpm1.toString()));
        assertEquals(List.of(), r.out().lines().filter(l -> l.contains(": E: ")).toList());
        assertEquals(0, r.code(), r.out());
        String readme = Files.readString(REPO.resolve("README.md"));
        Matcher w = Pattern.compile(": W: (\\S+)").matcher(r.out());
        TreeSet<String> unlisted = new TreeSet<>();
        while (w.find()) {
            if (!readme.contains("`" + w.group(1) + "`")) {
                unlisted.add(w.group(1));
            }
        }
        assertEquals(new TreeSet<>(), unlisted, "rpmlint warnings that README.md does not list and explain");
    }

    @Test
    void buildRpmTakesOnlyWhatGitTracksAtHeadAndRefusesADirtyTree() throws Exception {
        // A clone of this checkout at HEAD, with the agent as Maven built it here, and what a
        // developer's tree collects: an untracked scratch plugin and an edited cron file.
        Path clone = dir.resolve("clone");
        Result cloned = run(List.of("git", "clone", "-q", REPO.toString(), clone.toString()));
        assertEquals(0, cloned.code(), cloned.out());
        Path target = Files.createDirectories(clone.resolve("daemon/agent/target/lib"));
        Files.copy(REPO.resolve("daemon/agent/target/aegis-quartz.jar"), target.resolveSibling("aegis-quartz.jar"));
        for (String jar : list(REPO.resolve("daemon/agent/target/lib"))) {
            Files.createDirectories(target.resolve(jar).getParent()); // lib/kafka/ too
            Files.copy(REPO.resolve("daemon/agent/target/lib").resolve(jar), target.resolve(jar));
        }
        Files.writeString(clone.resolve("plugins-user/scratch.groovy"), "while (true) {}\n");
        Path cron = clone.resolve("conf/aegis_quartz.conf.user");
        Files.writeString(cron, Files.readString(cron) + "[* * * * * ?] user/scratch.groovy\n");
        Path out = dir.resolve("rpms");

        Result refused = run(List.of(clone.resolve("packaging/build-rpm").toString(), "--out", out.toString()));
        assertEquals(1, refused.code(), refused.out());
        assertTrue(refused.out().contains("plugins-user/scratch.groovy") && refused.out().contains("conf/aegis_quartz.conf.user")
                && refused.out().contains("--allow-dirty"), refused.out());
        assertFalse(Files.exists(out), "nothing built");

        Result help = run(List.of(clone.resolve("packaging/build-rpm").toString(), "--help"));
        assertTrue(help.out().contains("--allow-dirty"), help.out());

        Path rpm = build(clone, "--allow-dirty", "--out", out.toString());
        String files = query(rpm, "[%{FILENAMES} %{FILEDIGESTS}\\n]");
        assertFalse(files.contains("scratch"), files);
        Result head = run(List.of("git", "-C", clone.toString(), "show", "HEAD:conf/aegis_quartz.conf.user"));
        String headDigest = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                .digest(head.out().getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        assertTrue(files.contains("/etc/aegis-quartz/aegis_quartz.conf.user " + headDigest), "HEAD's cron file, not the edited one:\n" + files);
    }

    @Test
    void theSysusersFileMakesTheAgentsUserAndThePluginHostsApart() throws Exception {
        // What systemd-sysusers makes from the packaged file (in a scratch root): the same users as %pre.
        Path sr = Files.createDirectories(dir.resolve("sysusers-root/etc"));
        Result r = run(List.of("systemd-sysusers", "--root=" + sr.getParent(), REPO.resolve("packaging/aegis-quartz.sysusers").toString()));
        assertEquals(0, r.code(), r.out());
        List<String> passwd = Files.readAllLines(sr.resolve("passwd"));
        assertTrue(passwd.stream().anyMatch(l -> l.matches("aegis-quartz:x:\\d+:\\d+:[^:]*:/var/lib/aegis-quartz:/usr/sbin/nologin")), passwd.toString());
        assertTrue(passwd.stream().anyMatch(l -> l.matches("aegis-quartz-plugins:x:\\d+:\\d+:[^:]*:/:/usr/sbin/nologin")), passwd.toString());
        // Each in its own group only: the plugins user is no member of the agent's group.
        List<String> group = Files.readAllLines(sr.resolve("group"));
        assertTrue(group.stream().anyMatch(l -> l.matches("aegis-quartz:x:\\d+:")), group.toString());
        assertTrue(group.stream().anyMatch(l -> l.matches("aegis-quartz-plugins:x:\\d+:")), group.toString());
    }

    // ------------------------------------------------------------------ installed

    @Test
    void theUnitVerifiesTheCommandFindsTheConfigAndTheExposureIsWhatTheReadmeSays() throws Exception {
        Install root = install(rpm1);
        // verify checks that ExecStart and friends exist, so it runs where the package's files are.
        Result verify = inNamespace(root, "systemd-analyze verify --man=no " + q(root.path(UNIT)));
        assertEquals(0, verify.code(), verify.out());
        assertEquals("", verify.out().strip(), "systemd-analyze verify has no complaint");

        // The command on PATH is the same agent with the package's config.
        Result command = inNamespace(root, q(root.path("/usr/bin/aegis-quartz")) + " check-config");
        assertEquals(0, command.code(), command.out());
        assertTrue(command.out().contains("(/etc/aegis-quartz/aegis_quartz.conf.default:"), command.out());

        Result security = run(List.of("systemd-analyze", "security", "--offline=true", "--root=" + root.root(), "aegis-quartz.service"));
        Matcher m = Pattern.compile("Overall exposure level for aegis-quartz.service: (\\d+\\.\\d)").matcher(security.out());
        assertTrue(m.find(), security.out());
        double exposure = Double.parseDouble(m.group(1));
        assertTrue(exposure <= EXPOSURE_BOUND, "exposure " + exposure + " above " + EXPOSURE_BOUND + ":\n" + security.out());
        assertTrue(Files.readString(REPO.resolve("README.md")).contains(m.group()), "README.md reports '" + m.group() + "'");

        // Executables' runs get cgroups of their own below the service's (Delegate=yes), so the delegated
        // subtree must stay writable. Whether it is can only be seen in the unit's mount namespace, which
        // needs systemd as PID 1 (not on the CI machine); what decides it are these lines. systemd makes
        // /sys read-only for ProtectKernelTunables= but keeps /sys/fs/cgroup as it is unless
        // ProtectControlGroups= is on (src/core/namespace.c, protect_kernel_tunables_sys_table), and
        // ProtectSystem=strict leaves /sys to those two. ProtectControlGroups=yes made every run's cgroup
        // impossible under the packaged service.
        Unit unit = Unit.read(root.path(UNIT));
        assertEquals("yes", unit.one("Delegate"));
        assertEquals(List.of(), unit.all("ProtectControlGroups"), "ProtectControlGroups would make the delegated cgroup subtree read-only");
        for (String key : List.of("ReadOnlyPaths", "InaccessiblePaths", "TemporaryFileSystem", "BindReadOnlyPaths")) {
            assertTrue(unit.all(key).stream().noneMatch(v -> v.matches("(?s).*(^|\\s|[-+:])/sys(/fs(/cgroup)?)?/?(\\s|:|$).*")),
                    key + "= covers /sys/fs/cgroup: " + unit.all(key));
        }
        // And systemd's own reading of the installed unit says the same.
        assertTrue(security.out().matches("(?s).*✗ Delegate=\\s+Service maintains its own delegated control group subtree.*"), security.out());
        assertTrue(security.out().matches("(?s).*✗ ProtectControlGroups=\\s+Service may modify the control group file system.*"), security.out());

        // The plugin host's socket and an instance of its service, found where the package put them.
        Result hostVerify = inNamespace(root, "SYSTEMD_UNIT_PATH=" + q(root.path(HOST_UNIT).getParent()) + ": systemd-analyze verify --man=no "
                + "aegis-quartz-plugins.socket aegis-quartz-plugins@1.service");
        assertEquals(0, hostVerify.code(), hostVerify.out());
        assertEquals("", hostVerify.out().strip(), "systemd-analyze verify has no complaint about the plugin host's units");
        Result hostSecurity = run(List.of("systemd-analyze", "security", "--offline=true", "--root=" + root.root(), "aegis-quartz-plugins@1.service"));
        Matcher h = Pattern.compile("Overall exposure level for aegis-quartz-plugins@1.service: (\\d+\\.\\d)").matcher(hostSecurity.out());
        assertTrue(h.find(), hostSecurity.out());
        assertTrue(Double.parseDouble(h.group(1)) <= HOST_EXPOSURE_BOUND, hostSecurity.out());
        assertTrue(Files.readString(REPO.resolve("docs/SECURITY.md")).contains(h.group()), "docs/SECURITY.md reports '" + h.group() + "'");

        // The exec host's: its user, its delegated cgroup, its one capability; the agent is set to use it.
        Result execVerify = inNamespace(root, "SYSTEMD_UNIT_PATH=" + q(root.path(EXEC_UNIT).getParent()) + ": systemd-analyze verify --man=no "
                + "aegis-quartz-exec.socket aegis-quartz-exec@1.service");
        assertEquals(0, execVerify.code(), execVerify.out());
        assertEquals("", execVerify.out().strip(), "systemd-analyze verify has no complaint about the exec host's units");
        Unit exec = Unit.read(root.path(EXEC_UNIT));
        assertEquals("aegis-quartz-plugins", exec.one("User"));
        assertEquals("yes", exec.one("Delegate"));
        assertEquals(List.of(), exec.all("ProtectControlGroups"), "the delegated subtree must stay writable");
        assertEquals("CAP_WAKE_ALARM", exec.one("AmbientCapabilities"));
        assertEquals("CAP_WAKE_ALARM", exec.one("CapabilityBoundingSet"));
        assertEquals("yes", exec.one("NoNewPrivileges"));
        assertEquals("/run/aegis-quartz-exec/host.sock", Unit.read(root.path(EXEC_SOCKET_UNIT)).one("ListenStream"));
        assertTrue(Files.readString(root.path("/etc/aegis-quartz/aegis_config.ini")).contains("\nexec_socket = /run/aegis-quartz-exec/host.sock\n"),
                "the installed aegis_config.ini points the agent at the exec host");
        Result execSecurity = run(List.of("systemd-analyze", "security", "--offline=true", "--root=" + root.root(), "aegis-quartz-exec@1.service"));
        Matcher x = Pattern.compile("Overall exposure level for aegis-quartz-exec@1.service: (\\d+\\.\\d)").matcher(execSecurity.out());
        assertTrue(x.find(), execSecurity.out());
        assertTrue(Double.parseDouble(x.group(1)) <= EXEC_EXPOSURE_BOUND, execSecurity.out());
        assertTrue(Files.readString(REPO.resolve("docs/SECURITY.md")).contains(x.group()), "docs/SECURITY.md reports '" + x.group() + "'");
    }

    @Test
    void theInstalledAgentRunsAsTheUnitSaysReloadsAndKeepsLocalEditsThroughUpgradeAndErase() throws Exception {
        Install root = install(rpm1);
        Unit unit = Unit.read(root.path(UNIT));
        Path log = root.path("/var/log/aegis-quartz/aegis_quartz.log");
        Path samples = root.path("/var/log/aegis-quartz/samples.jsonl");
        Path cronUser = root.path("/etc/aegis-quartz/aegis_quartz.conf.user");
        Path ini = root.path("/etc/aegis-quartz/aegis_config.ini");

        // An admin's edit of the settings: only the reload signal reloads (no file watching), so the
        // reload below is the signal's doing.
        Files.writeString(ini, Files.readString(ini).replace("; watch = true", "watch = false"));
        // A root process's /proc/PID/io is mode 0400: the agent reads it (as process_top does) with
        // the unit's capabilities only.
        Process target = new ProcessBuilder("sleep", "600").start();
        started.add(target);
        Path probe = root.path("/etc/aegis-quartz/plugins-user/io_probe.groovy");
        Files.writeString(probe, "// Test plugin: can the agent read another user's /proc/PID/io?\n"
                + "emit('io_probe', [readable: ProcFiles.keyValues(\"/proc/${args[0]}/io\").containsKey('rchar') ? 1 : 0])\n");
        run(List.of("chown", "root:" + root.gid(), probe.toString()));
        Files.setPosixFilePermissions(probe, PosixFilePermissions.fromString("rw-r-----"));

        // A typo in the user cron file (a Unix cron line, five fields) does not stop the service: the
        // unit's ExecStartPre lets the agent start, and the default jobs run.
        Files.writeString(cronUser, "[0 0 * * *] user/io_probe.groovy " + target.pid() + "\n", java.nio.file.StandardOpenOption.APPEND);
        Process agent = start(root, unit);
        awaitAgent("a sample of the default job", log, () -> read(samples).contains("\"job\":\"default/sampler.groovy\""));
        assertTrue(read(dir.resolve("agent.out")).contains("/etc/aegis-quartz/aegis_quartz.conf.user:"),
                "the check printed the skipped line (to the journal): " + read(dir.resolve("agent.out")));
        String banner = read(log);
        assertTrue(banner.contains("home /opt/aegis-quartz, config /etc/aegis-quartz"), banner);
        assertTrue(banner.contains("samples go to /var/log/aegis-quartz/samples.jsonl"), banner);
        String uuid = Files.readString(root.path("/var/lib/aegis-quartz/uuid"));
        assertEquals(root.uid(), (int) Files.getAttribute(root.path("/var/lib/aegis-quartz/uuid"), "unix:uid"));

        // The main process is the launcher, and the JVM runs as the unit's user with its capabilities
        // and system call filter.
        assertEquals("/bin/sh\0/opt/aegis-quartz/bin/aegis-quartz\0run\0", Files.readString(Path.of("/proc/" + agent.pid() + "/cmdline")));
        // Besides the JVM, the launcher's only child is its watchdog's ticker (a subshell).
        List<ProcessHandle> jvm = agent.toHandle().children()
                .filter(h -> cmdline(h).contains("io.aegisquartz.cli.Main")).toList();
        assertEquals(1, jvm.size());
        String status = Files.readString(Path.of("/proc/" + jvm.get(0).pid() + "/status"));
        assertTrue(status.contains("\nUid:\t" + root.uid() + "\t" + root.uid() + "\t"), status);
        assertTrue(status.contains("\nCapAmb:\t0000000000080004\n"), "ambient CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH only: " + status);
        assertTrue(status.contains("\nCapBnd:\t0000000000080004\n"), status);
        assertTrue(status.contains("\nNoNewPrivs:\t1\n") && status.contains("\nSeccomp:\t2\n"), status);

        // systemctl reload: an aegis_config.ini the agent could not start with fails the check, and the
        // signal is not sent ...
        List<List<String>> reload = unit.all("ExecReload").stream().map(line -> commandLine(line, agent.pid())).toList();
        String goodIni = Files.readString(ini);
        Files.writeString(ini, goodIni + "[agent]\nwokers = 2\n");
        Result broken = asUnitInside(agent, unit, reload.get(0));
        assertEquals(1, broken.code(), broken.out());
        assertTrue(broken.out().contains("/etc/aegis-quartz/aegis_config.ini:"), broken.out());
        Files.writeString(ini, goodIni);
        // ... a broken cron line passes it (the agent skips that line), and so does a good one; the
        // signal reaches the JVM through the launcher.
        Result skipping = asUnitInside(agent, unit, reload.get(0));
        assertEquals(0, skipping.code(), skipping.out());
        assertTrue(skipping.out().contains("/etc/aegis-quartz/aegis_quartz.conf.user:"), skipping.out());
        String cronLine = "[* * * * * ?] name=io_probe isolation=inproc user/io_probe.groovy " + target.pid();
        Files.writeString(cronUser, Files.readString(cronUser).replaceFirst("\\[0 0 \\* \\* \\*\\] .*", cronLine));
        Result good = asUnitInside(agent, unit, reload.get(0));
        assertEquals(0, good.code(), good.out());
        assertEquals(0, run(reload.get(1)).code());
        // A fire can be skipped while the new script's first run still goes (Groovy sets itself up for a
        // new script): the first sample of a run is the one that says whether the probe could read.
        java.util.function.Predicate<String> probeRun = l -> l.contains("\"job\":\"io_probe\"") && !l.contains("\"status\":\"skipped\"");
        awaitAgent("a sample of the job added by the reload", log, () -> read(samples).lines().anyMatch(probeRun));
        assertTrue(read(log).contains("reloading (SIGHUP)"), read(log));
        String probed = read(samples).lines().filter(probeRun).findFirst().orElseThrow();
        assertTrue(probed.contains("\"status\":\"ok\"") && probed.contains("\"values\":{\"readable\":1}"), probed);

        // systemctl stop: SIGTERM to the main process.
        run(List.of("kill", "-TERM", Long.toString(agent.pid())));
        assertTrue(agent.waitFor(60, TimeUnit.SECONDS), "stopped on SIGTERM");
        assertEquals(0, agent.exitValue());
        assertFalse(jvm.get(0).isAlive());

        // An upgrade keeps the edited config files; the agent's own files are not the package's.
        Result upgrade = rpm(root, "-U", rpm2.toString());
        assertEquals(0, upgrade.code(), upgrade.out());
        assertEquals("aegis-quartz-" + Version.get().replace('-', '~') + "-2.noarch", rpm(root, "-q", "aegis-quartz").out().strip());
        assertTrue(Files.readString(cronUser).contains(cronLine));
        assertTrue(Files.readString(ini).contains("\nwatch = false "));
        assertEquals(uuid, Files.readString(root.path("/var/lib/aegis-quartz/uuid")));

        // rpm -e removes the code, saves edited config as .rpmsave and leaves state, log and
        // the admin's own plugins alone.
        Result erase = rpm(root, "-e", "aegis-quartz");
        assertEquals(0, erase.code(), erase.out());
        assertFalse(Files.exists(root.path("/opt/aegis-quartz")));
        assertFalse(Files.exists(root.path("/usr/bin/aegis-quartz")));
        assertTrue(Files.readString(root.path("/etc/aegis-quartz/aegis_quartz.conf.user.rpmsave")).contains(cronLine));
        assertTrue(Files.readString(root.path("/etc/aegis-quartz/aegis_config.ini.rpmsave")).contains("\nwatch = false "));
        assertTrue(Files.exists(probe));
        assertEquals(uuid, Files.readString(root.path("/var/lib/aegis-quartz/uuid")));
        assertTrue(Files.isDirectory(root.path("/var/lib/aegis-quartz/spool")));
        assertTrue(read(samples).contains("\"job\":\"io_probe\"") && read(log).contains("stopped"));
    }

    @Test
    void userPluginsRunInAHostOfTheirOwnUserWithoutCapabilitiesAndAFrozenHostIsKilledByItsLauncher() throws Exception {
        Install root = install(rpm1);
        Unit unit = Unit.read(root.path(UNIT));
        Unit socket = Unit.read(root.path(HOST_SOCKET_UNIT));
        Unit host = Unit.read(root.path(HOST_UNIT));
        Path log = root.path("/var/log/aegis-quartz/aegis_quartz.log");
        Path samples = root.path("/var/log/aegis-quartz/samples.jsonl");
        Path cronUser = root.path("/etc/aegis-quartz/aegis_quartz.conf.user");
        int hostUid = Integer.parseInt(Files.readAllLines(root.path("/etc/passwd")).stream().filter(l -> l.startsWith("aegis-quartz-plugins:x:"))
                .findFirst().orElseThrow(() -> new AssertionError("%pre made no user aegis-quartz-plugins")).split(":")[2]);
        assertTrue(hostUid > 0 && hostUid < 1000 && hostUid != root.uid(), "a system user of its own");
        assertTrue(Files.readAllLines(root.path("/etc/group")).stream().filter(l -> l.startsWith("aegis-quartz:"))
                .noneMatch(l -> l.endsWith("aegis-quartz-plugins")), "not in the agent's group");
        assertTrue(Files.readString(root.path("/etc/aegis-quartz/aegis_config.ini")).contains("\nsocket = " + socket.one("ListenStream") + "\n"),
                "the installed agent connects to the unit's socket");

        // What a plugin in the host is and may do, seen from inside.
        plugin(root, "whoami.groovy", """
                def status = new File('/proc/self/status').readLines()
                def field = { String k -> status.find { it.startsWith(k + ':') }.split(/\\s+/)[1] }
                def denied = { Closure c -> try { c(); 0 } catch (Exception e) { 1 } }
                emit('whoami', [uid: field('Uid') as long, cap_eff: Long.parseLong(field('CapEff'), 16), pid: ProcessHandle.current().pid(),
                        write_state_denied: denied { new File('/var/lib/aegis-quartz/planted').text = 'x' },
                        read_config_denied: denied { new File('/etc/aegis-quartz/aegis_config.ini').text },
                        read_spool_denied: denied { new File('/var/lib/aegis-quartz/uuid').text }])
                """);
        plugin(root, "freeze.groovy", """
                // Suspends every other thread of its JVM, its watchdog included, then itself.
                for (Thread t : Thread.getAllStackTraces().keySet()) { if (t != Thread.currentThread()) { t.suspend() } }
                Thread.currentThread().suspend()
                """);
        Files.writeString(cronUser, "[* * * * * ?] name=whoami user/whoami.groovy\n", java.nio.file.StandardOpenOption.APPEND);

        Process agent = startWithHostSocket(root, unit, socket, host);
        java.util.function.Predicate<String> whoami = l -> l.contains("\"job\":\"whoami\"") && l.contains("\"status\":\"ok\"");
        awaitAgent("a sample of the job in the plugin host", log, () -> read(samples).lines().anyMatch(whoami));
        com.fasterxml.jackson.databind.JsonNode values = new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(read(samples).lines().filter(whoami).findFirst().orElseThrow()).get("values");
        assertEquals(hostUid, values.get("uid").asInt(), values.toString());
        assertEquals(0, values.get("cap_eff").asLong(), "no capabilities: " + values);
        assertEquals(1, values.get("write_state_denied").asInt(), "cannot write the agent's state: " + values);
        assertEquals(1, values.get("read_config_denied").asInt(), "cannot read the agent's config: " + values);
        assertEquals(1, values.get("read_spool_denied").asInt(), "cannot read the agent's identity: " + values);
        assertFalse(Files.exists(root.path("/var/lib/aegis-quartz/planted")));
        long hostPid = values.get("pid").asLong();
        String status = Files.readString(Path.of("/proc/" + hostPid + "/status"));
        assertTrue(status.contains("\nUid:\t" + hostUid + "\t" + hostUid + "\t"), status);
        assertTrue(status.contains("\nCapBnd:\t0000000000000000\n") && status.contains("\nCapAmb:\t0000000000000000\n"), status);
        assertTrue(status.contains("\nNoNewPrivs:\t1\n") && status.contains("\nSeccomp:\t2\n"), status);
        assertTrue(read(log).contains("plugin host started: pid " + hostPid + ", connected through " + socket.one("ListenStream")), read(log));
        ProcessHandle.of(hostPid).ifPresent(extra::add);
        agent.descendants().filter(d -> d.info().command().orElse("").endsWith("systemd-socket-activate")).forEach(extra::add);

        // A plugin that freezes its host: the agent gives up on it and gets a new one; its launcher kills it.
        Files.writeString(cronUser, "[* * * * * ?] name=freeze user/freeze.groovy\n", java.nio.file.StandardOpenOption.APPEND);
        awaitAgent("the frozen host's run reported", log, () -> read(samples).contains("\"job\":\"freeze\",\"plugin\":\"user/freeze.groovy\","
                + "\"metric\":\"freeze\",\"status\":\"killed\""));
        awaitAgent("the frozen JVM killed by its launcher", log, () -> ProcessHandle.of(hostPid).map(h -> !h.isAlive()).orElse(true));
        assertTrue(read(dir.resolve("agent.out")).contains("aegis-quartz: the plugin host (pid " + hostPid + ") gave no sign of life for 5 s; killing it"),
                read(dir.resolve("agent.out")));
        awaitAgent("the job in a new host", log, () -> read(samples).lines().filter(whoami).anyMatch(l -> !l.contains("\"pid\":" + hostPid + ",")
                && !l.contains("\"pid\":" + hostPid + "}")));

        run(List.of("kill", "-TERM", Long.toString(agent.pid())));
        assertTrue(agent.waitFor(60, TimeUnit.SECONDS), "stopped on SIGTERM");
    }

    @Test
    void executablesRunInTheExecHostAsThePluginsUserAndCannotTouchTheAgentsFilesOrTheirHost() throws Exception {
        Install root = install(rpm1);
        Unit unit = Unit.read(root.path(UNIT));
        Unit socket = Unit.read(root.path(EXEC_SOCKET_UNIT));
        Unit host = Unit.read(root.path(EXEC_UNIT));
        Path log = root.path("/var/log/aegis-quartz/aegis_quartz.log");
        Path samples = root.path("/var/log/aegis-quartz/samples.jsonl");
        int hostUid = Integer.parseInt(Files.readAllLines(root.path("/etc/passwd")).stream().filter(l -> l.startsWith("aegis-quartz-plugins:x:"))
                .findFirst().orElseThrow().split(":")[2]);
        assertTrue(Files.readString(root.path("/etc/aegis-quartz/aegis_config.ini")).contains("\nexec_socket = " + socket.one("ListenStream") + "\n"),
                "the installed agent connects to the exec host's socket");

        // An admin's executable in plugins-user/ (which the exec host's user cannot read: it runs the copy it is sent).
        Path exe = root.path("/etc/aegis-quartz/plugins-user/whoami.sh");
        Files.writeString(exe, """
                #!/bin/sh
                host=$(ps -o ppid= -p $PPID | tr -d ' ')
                w=$( (echo x > /var/lib/aegis-quartz/planted) 2>/dev/null && echo 0 || echo 1)
                r=$(cat /etc/aegis-quartz/aegis_config.ini >/dev/null 2>&1 && echo 0 || echo 1)
                m=$(dd if=/proc/$host/mem of=/dev/null bs=1 count=1 2>&1 | grep -q 'Permission denied' && echo 1 || echo 0)
                echo "WHOAMI OK | uid=$(id -u) host=$host write_state_denied=$w read_config_denied=$r host_mem_denied=$m"
                """);
        run(List.of("chown", "root:" + root.gid(), exe.toString()));
        Files.setPosixFilePermissions(exe, PosixFilePermissions.fromString("rwxr-x---"));
        Files.writeString(root.path("/etc/aegis-quartz/aegis_quartz.conf.user"), "[* * * * * ?] name=whoami_sh user/whoami.sh\n",
                java.nio.file.StandardOpenOption.APPEND);

        Process agent = startWithHostSocket(root, unit, socket, host);
        java.util.function.Predicate<String> whoami = l -> l.contains("\"job\":\"whoami_sh\"") && l.contains("\"status\":\"ok\"");
        awaitAgent("a sample of the executable run in the exec host", log, () -> read(samples).lines().anyMatch(whoami));
        agent.descendants().filter(d -> d.info().command().orElse("").endsWith("systemd-socket-activate")).forEach(extra::add);
        com.fasterxml.jackson.databind.JsonNode values = new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(read(samples).lines().filter(whoami).findFirst().orElseThrow()).get("values");
        ProcessHandle.of(values.get("host").asLong()).ifPresent(extra::add);
        assertEquals(hostUid, values.get("uid").asInt(), values.toString());
        assertEquals(1, values.get("write_state_denied").asInt(), "cannot write the agent's state: " + values);
        assertEquals(1, values.get("read_config_denied").asInt(), "cannot read the agent's config: " + values);
        assertEquals(1, values.get("host_mem_denied").asInt(), "cannot reach into its host, of the same user: " + values);
        assertFalse(Files.exists(root.path("/var/lib/aegis-quartz/planted")));
        assertTrue(read(log).contains("executables: in the exec host at " + socket.one("ListenStream")), read(log));
        String status = Files.readString(Path.of("/proc/" + values.get("host").asLong() + "/status"));
        assertTrue(status.contains("\nUid:\t" + hostUid + "\t"), status);
        assertTrue(status.contains("\nCapAmb:\t0000000800000000\n"), "the host holds CAP_WAKE_ALARM and nothing else: " + status);

        run(List.of("kill", "-TERM", Long.toString(agent.pid())));
        assertTrue(agent.waitFor(60, TimeUnit.SECONDS), "stopped on SIGTERM");
    }

    /** A plugin in the package's plugins-user/, as an admin installs one (root's, readable by the agent's group). */
    private static void plugin(Install root, String name, String text) throws Exception {
        Path p = root.path("/etc/aegis-quartz/plugins-user/" + name);
        Files.writeString(p, text);
        run(List.of("chown", "root:" + root.gid(), p.toString()));
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-r-----"));
    }

    /**
     * Starts the agent as {@link #start} does, with the plugin host's socket as systemd would provide it:
     * in the same mount namespace, on a fresh /run, systemd-socket-activate listens where the socket unit
     * says, owned and moded as it says, and runs the host unit's ExecStart as that unit says for each
     * connection, on the connection (Accept=yes, standard input and output).
     */
    private Process startWithHostSocket(Install root, Unit unit, Unit socket, Unit host) throws Exception {
        assertEquals("yes", socket.one("Accept"));
        assertEquals("socket", host.one("StandardInput"));
        assertEquals("socket", host.one("StandardOutput"));
        String listen = socket.one("ListenStream");
        String setUp = "mount -t tmpfs -o mode=0755 tmpfs /run\n"
                + "mkdir -p -m " + socket.one("DirectoryMode") + " " + q(Path.of(listen).getParent()) + "\n"
                + "systemd-socket-activate --listen=" + q(listen) + " --accept --inetd " + shell(asUnit(host, commandLine(host.one("ExecStart"), 0)))
                + " &\n"
                + "while [ ! -S " + q(listen) + " ]; do sleep 0.1; done\n"
                + "chown " + socket.one("SocketUser") + ":" + socket.one("SocketGroup") + " " + q(listen) + "\n"
                + "chmod " + socket.one("SocketMode") + " " + q(listen) + "\n";
        return start(root, unit, setUp);
    }

    // ------------------------------------------------------------------ scratch root

    /** A scratch root with the package installed, and overlays that hold what the namespaces change. */
    record Install(Path root, Path overlays, int uid, int gid) {
        Path path(String absolute) {
            return root.resolve(absolute.substring(1));
        }
    }

    /**
     * Creates the service user by running the package's %pre in a namespace (over an overlay of
     * /etc), then installs the package into a scratch root whose passwd and group are that /etc's,
     * so files get the owners a real install gives them.
     */
    private Install install(Path rpm) throws Exception {
        Install blank = new Install(Files.createDirectories(dir.resolve("root/etc")).getParent(), dir.resolve("overlays"), -1, -1);
        Path pre = script(dir.resolve("pre.sh"), query(rpm, "%{PREIN}"));
        String hostPasswd = Files.readString(Path.of("/etc/passwd"));
        // Run twice: on a reinstall the user exists already.
        Result user = inNamespace(blank, "sh " + q(pre) + " && sh " + q(pre) + " && getent passwd aegis-quartz && getent group aegis-quartz"
                + " && getent passwd aegis-quartz-plugins && id -Gn aegis-quartz-plugins");
        assertEquals(0, user.code(), user.out());
        String[] pw = user.out().lines().filter(l -> l.startsWith("aegis-quartz:x:")).findFirst().orElseThrow().split(":");
        int uid = Integer.parseInt(pw[2]);
        assertTrue(uid > 0 && uid < 1000, "a system user: " + user.out());
        assertEquals("/var/lib/aegis-quartz", pw[5]);
        assertEquals("/usr/sbin/nologin", pw[6]);
        // The plugin host's user: a system user in a group of its own only, home /, owning nothing of the agent's.
        String[] plugins = user.out().lines().filter(l -> l.startsWith("aegis-quartz-plugins:x:")).findFirst().orElseThrow().split(":");
        assertTrue(Integer.parseInt(plugins[2]) < 1000 && !plugins[2].equals(pw[2]), user.out());
        assertEquals("/", plugins[5]);
        assertEquals("aegis-quartz-plugins", user.out().strip().lines().reduce((a, b) -> b).orElseThrow(), "its only group");
        assertEquals(hostPasswd, Files.readString(Path.of("/etc/passwd")), "the host's /etc is untouched");
        Path etc = blank.overlays().resolve("etc/up");
        Files.copy(etc.resolve("passwd"), blank.path("/etc/passwd"));
        Files.copy(etc.resolve("group"), blank.path("/etc/group"));

        Install root = new Install(blank.root(), blank.overlays(), uid, Integer.parseInt(pw[3]));
        Result r = rpm(root, "-i", rpm.toString());
        assertEquals(0, r.code(), r.out());
        assertFalse(r.out().contains("does not exist"), r.out());
        return root;
    }

    private static Result rpm(Install root, String... args) throws Exception {
        // No scriptlets: the scratch root has no shell; %pre ran above and the systemd ones are tested on their own.
        List<String> cmd = new ArrayList<>(List.of("rpm", "--root", root.root().toString(), "--nodeps", "--noscripts"));
        if (args[0].equals("-q")) {
            cmd.remove("--nodeps");
            cmd.remove("--noscripts");
        }
        cmd.addAll(List.of(args));
        return run(cmd);
    }

    /** Shell commands that mount the scratch root's package directories at their real paths in this namespace. */
    private static String mounts(Install root) throws IOException {
        StringBuilder sh = new StringBuilder("set -e\n");
        for (String d : List.of("etc", "opt", "var")) {
            Path up = Files.createDirectories(root.overlays().resolve(d + "/up"));
            Path work = Files.createDirectories(root.overlays().resolve(d + "/work"));
            sh.append("mount -t overlay overlay -o lowerdir=/").append(d).append(",upperdir=").append(up)
                    .append(",workdir=").append(work).append(" /").append(d).append('\n');
        }
        for (String d : PACKAGE_DIRS) {
            if (Files.isDirectory(root.path(d))) {
                sh.append("mkdir -p ").append(d).append(" && mount --bind ").append(q(root.path(d))).append(' ').append(d).append('\n');
            }
        }
        return sh.toString();
    }

    private Result inNamespace(Install root, String command) throws Exception {
        return run(List.of("unshare", "--mount", "--propagation", "private", "sh", "-c", mounts(root) + command));
    }

    // ------------------------------------------------------------------ the unit, without systemd

    /** Starts the agent as systemd would: ExecStartPre, then ExecStart as the main process. */
    private Process start(Install root, Unit unit) throws Exception {
        return start(root, unit, "");
    }

    /** As {@link #start(Install, Unit)}, after {@code setUp} (shell commands) in the agent's mount namespace. */
    private Process start(Install root, Unit unit, String setUp) throws Exception {
        String umask = unit.one("UMask");
        StringBuilder sh = new StringBuilder(mounts(root)).append(setUp).append("umask ").append(umask).append("\ncd /\n");
        for (String pre : unit.all("ExecStartPre")) {
            sh.append(shell(asUnit(unit, commandLine(pre, 0)))).append('\n');
        }
        sh.append("exec ").append(shell(asUnit(unit, commandLine(unit.one("ExecStart"), 0)))).append('\n');
        Process p = new ProcessBuilder("unshare", "--mount", "--propagation", "private", "sh", "-c", sh.toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve("agent.out").toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        started.add(p);
        return p;
    }

    /** Runs a command of the unit inside the running agent's mount namespace, as the unit's user. */
    private Result asUnitInside(Process agent, Unit unit, List<String> command) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("nsenter", "--target", Long.toString(agent.pid()), "--mount", "--wd=/"));
        cmd.addAll(asUnit(unit, command));
        return run(cmd);
    }

    /**
     * The command as the unit's process sees the world: its system call filter (applied first here,
     * so it covers setpriv too; systemd applies it last), then user, group, capabilities and
     * no-new-privileges, then the clean environment systemd gives a service.
     */
    private static List<String> asUnit(Unit unit, List<String> command) throws Exception {
        String user = unit.one("User");
        String ambient = caps(unit.one("AmbientCapabilities"));
        assertEquals("yes", unit.one("NoNewPrivileges"));
        List<String> cmd = new ArrayList<>(List.of("/usr/bin/python3", resource("seccomp_exec.py").toString(), unit.file().toString(),
                "setpriv", "--reuid=" + user, "--regid=" + unit.one("Group"), "--init-groups",
                "--inh-caps=-all" + ambient, "--ambient-caps=-all" + ambient,
                "--bounding-set=-all" + caps(unit.one("CapabilityBoundingSet")), "--no-new-privs",
                "env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin", "HOME=/var/lib/" + user,
                "USER=" + user, "LOGNAME=" + user, "SHELL=/usr/sbin/nologin"));
        for (String env : unit.all("Environment")) {
            cmd.addAll(List.of(env.split("\\s+")));
        }
        cmd.addAll(command);
        return cmd;
    }

    /** "CAP_SYS_PTRACE CAP_DAC_READ_SEARCH" as setpriv writes it: ",+sys_ptrace,+dac_read_search"; none: "". */
    private static String caps(String systemd) {
        StringBuilder out = new StringBuilder();
        for (String c : systemd.isBlank() ? new String[0] : systemd.split("\\s+")) {
            out.append(",+").append(c.toLowerCase().replaceFirst("^cap_", ""));
        }
        return out.toString();
    }

    /** An Exec line's words, with $MAINPID filled in. The unit uses no quoting or prefixes. */
    private static List<String> commandLine(String line, long mainPid) {
        assertTrue(line.startsWith("/"), "an absolute command without prefixes: " + line);
        return List.of(line.replace("$MAINPID", Long.toString(mainPid)).split("\\s+"));
    }

    /** A unit file's Key=value lines, in order; comments and section headers dropped. */
    record Unit(Path file, Map<String, List<String>> lines) {
        static Unit read(Path file) throws IOException {
            Map<String, List<String>> lines = new LinkedHashMap<>();
            for (String line : Files.readAllLines(file)) {
                int eq = line.indexOf('=');
                if (!line.startsWith("#") && eq > 0) {
                    lines.computeIfAbsent(line.substring(0, eq), k -> new ArrayList<>()).add(line.substring(eq + 1));
                }
            }
            return new Unit(file, lines);
        }

        List<String> all(String key) {
            return lines.getOrDefault(key, List.of());
        }

        String one(String key) {
            assertEquals(1, all(key).size(), key + "= in " + file);
            return all(key).get(0);
        }
    }

    // ------------------------------------------------------------------ helpers

    /** Waits for what the agent should do; on timeout, fails with what it printed and logged. */
    private void awaitAgent(String what, Path log, Callable<Boolean> condition) throws IOException {
        try {
            await().atMost(Duration.ofSeconds(60)).until(condition);
        } catch (ConditionTimeoutException e) {
            fail("no " + what + " within 60 s; launcher output:\n" + read(dir.resolve("agent.out")) + "\nlog:\n" + read(log));
        }
    }

    record Result(int code, String out) {
    }

    private static Path build(String... args) throws Exception {
        // A developer's tree has uncommitted work; build-rpm packages HEAD's files all the same when
        // told to (CI's clean clone is built exactly as the README says).
        boolean dirty = !run(List.of("git", "-C", REPO.toString(), "status", "--porcelain")).out().isBlank();
        List<String> flags = new ArrayList<>(List.of(args));
        if (dirty && System.getenv("CI") == null) {
            flags.add("--allow-dirty");
        }
        return build(REPO, flags.toArray(String[]::new));
    }

    private static Path build(Path repo, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(repo.resolve("packaging/build-rpm").toString()));
        cmd.addAll(List.of(args));
        Result r = run(cmd);
        assertEquals(0, r.code(), r.out());
        Path rpm = Path.of(r.out().strip().lines().reduce((a, b) -> b).orElseThrow());
        assertTrue(Files.isRegularFile(rpm), r.out());
        return rpm;
    }

    private static String query(Path rpm, String format) throws Exception {
        Result r = run(List.of("rpm", "-qp", "--qf", format, rpm.toString()));
        assertEquals(0, r.code(), r.out());
        return r.out().strip();
    }

    static Result run(List<String> cmd) throws Exception {
        Path out = Files.createTempFile("rpm-it", ".out");
        Process p = new ProcessBuilder(cmd).directory(REPO.toFile()).redirectErrorStream(true).redirectOutput(out.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        try {
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                fail(cmd + " did not finish in 120 s");
            }
            // Debian's rpm warns that it is not Debian's package manager, which we know.
            return new Result(p.exitValue(), Files.readString(out).replaceAll("(?m)^rpm: (RPM should not be used|However assuming).*\\n", ""));
        } finally {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            Files.deleteIfExists(out);
        }
    }

    private static Path script(Path file, String text) throws IOException {
        Files.writeString(file, text.endsWith("\n") ? text : text + "\n");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
        return file;
    }

    private static List<String> list(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(Files::isRegularFile).map(f -> dir.relativize(f).toString())
                    .filter(f -> !f.startsWith(".") && !f.contains("/.")).sorted().toList();
        }
    }

    private static String cmdline(ProcessHandle h) {
        try {
            return Files.readString(Path.of("/proc/" + h.pid() + "/cmdline"));
        } catch (IOException e) {
            return "";
        }
    }

    private static String read(Path file) throws IOException {
        return Files.exists(file) ? Files.readString(file) : "";
    }

    private static Path resource(String name) throws Exception {
        return Path.of(RpmPackageIT.class.getResource(name).toURI());
    }

    static String q(Object word) {
        return "'" + word.toString().replace("'", "'\\''") + "'";
    }

    private static String shell(List<String> words) {
        return String.join(" ", words.stream().map(RpmPackageIT::q).toList());
    }

    /** Fails on CI (which installs all of these), skips elsewhere when something is missing. */
    private static void requireTools() throws Exception {
        List<String> missing = new ArrayList<>();
        for (String tool : List.of("rpmbuild", "rpm", "rpmlint", "systemd-analyze", "unshare", "nsenter", "setpriv", "useradd")) {
            boolean found = Stream.of(System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":"))
                    .anyMatch(d -> Files.isExecutable(Path.of(d, tool)));
            if (!found) {
                missing.add(tool);
            }
        }
        if (!Files.isExecutable(Path.of("/usr/bin/python3")) || run(List.of("/usr/bin/python3", "-c", "import seccomp")).code() != 0) {
            missing.add("python3-seccomp");
        }
        if (!Files.readString(Path.of("/proc/self/status")).contains("\nUid:\t0\t")) {
            missing.add("root (for mount namespaces and setpriv)");
        }
        if (!missing.isEmpty()) {
            String message = "RpmPackageIT needs " + missing + "; .ci/run installs them: apt-get install rpm rpmlint systemd python3-seccomp";
            if (System.getenv("CI") != null) {
                fail(message);
            }
            Assumptions.abort(message);
        }
    }
}
