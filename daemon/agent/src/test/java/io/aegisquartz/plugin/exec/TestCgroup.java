package io.aegisquartz.plugin.exec;

import io.aegisquartz.api.ProcFiles;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A cgroup v2 subtree of a test's own, made where the hierarchy is mounted and removed after the test
 * with everything in it. Tests that need one are skipped, saying why, where not root or without cgroup2.
 */
final class TestCgroup implements AutoCloseable {

    private final Path dir;

    private TestCgroup(Path dir) {
        this.dir = dir;
    }

    /** A fresh subtree; skips the calling test if this machine cannot give one. */
    static TestCgroup create() {
        assumeTrue(io.aegisquartz.config.StrictModes.ownUid() == 0, "not root: cannot make a cgroup for the test");
        Path mount = cgroup2Mount();
        assumeTrue(mount != null, "no cgroup2 hierarchy mounted (/proc/self/mountinfo)");
        Path dir = mount.resolve("aegis-test-" + UUID.randomUUID());
        try {
            Files.createDirectory(dir);
        } catch (IOException e) {
            assumeTrue(false, "cannot make a cgroup under " + mount + ": " + e);
        }
        TestCgroup cg = new TestCgroup(dir);
        if (!Files.exists(dir.resolve("cgroup.kill"))) {
            cg.close();
            assumeTrue(false, "this kernel's cgroup2 has no cgroup.kill");
        }
        return cg;
    }

    /** The mount point of cgroup2 (/sys/fs/cgroup on a pure v2 host, /sys/fs/cgroup/unified on a hybrid one). */
    static Path cgroup2Mount() {
        for (String line : ProcFiles.lines("/proc/self/mountinfo")) {
            int dash = line.indexOf(" - ");
            if (dash > 0 && line.substring(dash + 3).startsWith("cgroup2 ")) {
                return Path.of(line.substring(0, dash).split(" ")[4]);
            }
        }
        return null;
    }

    Path dir() {
        return dir;
    }

    CgroupRuns runs() {
        return CgroupRuns.under(dir);
    }

    /** Number of cgroups left under the test's subtree. */
    int children() throws IOException {
        int n = 0;
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir, Files::isDirectory)) {
            for (Path ignored : s) {
                n++;
            }
        }
        return n;
    }

    @Override
    public void close() {
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir, Files::isDirectory)) {
            for (Path child : s) {
                new RunCgroup(child, 0, 0).close();
            }
        } catch (IOException e) {
            // Removed below or reported by the assertion that uses it.
        }
        new RunCgroup(dir, 0, 0).close();
    }
}
