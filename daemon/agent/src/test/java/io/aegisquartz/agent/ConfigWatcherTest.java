package io.aegisquartz.agent;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The one inotify watcher: each part of a directory's target hears of its own files only. */
class ConfigWatcherTest {

    @TempDir
    Path dir;

    @Test
    void aDeletesOnlyPartIgnoresWritesAndAnotherPartsFilesAndADirectoryMadeAgainIsWatchedAnew() throws Exception {
        List<String> reloads = new CopyOnWriteArrayList<>();
        List<String> reopens = new CopyOnWriteArrayList<>();
        Path watched = Files.createDirectories(dir.resolve("conf"));
        Path log = Files.writeString(watched.resolve("agent.log"), "");
        ConfigWatcher.Target conf = new ConfigWatcher.Target(n -> n.endsWith(".conf"), reloads::add);
        ConfigWatcher.Target logs = ConfigWatcher.Target.deletes("agent.log"::equals, reopens::add);
        try (ConfigWatcher w = new ConfigWatcher(Duration.ofMillis(100))) {
            w.watch(Map.of(watched, conf.merge(logs)));
            w.start();

            // Writes to the log wake neither part's action; a cron file edit reloads, and only reloads.
            for (int i = 0; i < 20; i++) {
                Files.writeString(log, "line " + i + "\n", java.nio.file.StandardOpenOption.APPEND);
            }
            Files.writeString(watched.resolve("a.conf"), "x");
            await().atMost(Duration.ofSeconds(10)).until(() -> !reloads.isEmpty());
            assertEquals(List.of("changed on disk: " + watched.resolve("a.conf")), reloads);
            assertEquals(List.of(), reopens);

            // The log moved away: only its part hears of it.
            Files.move(log, watched.resolve("agent.log.1"));
            await().atMost(Duration.ofSeconds(10)).until(() -> !reopens.isEmpty());
            assertEquals(List.of("changed on disk: " + log), reopens);
            assertEquals(1, reloads.size());

            // The directory removed and made again (another inode at the same path): watched again.
            try (var all = Files.walk(watched)) {
                all.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
            await().atMost(Duration.ofSeconds(10)).until(() -> reopens.size() >= 2);
            Files.createDirectories(watched);
            w.watch(Map.of(watched, conf.merge(logs)));
            Files.writeString(watched.resolve("b.conf"), "y");
            await().atMost(Duration.ofSeconds(10)).until(() -> reloads.stream().anyMatch(r -> r.contains("b.conf")));
        }
    }
}
