package io.aegisquartz.agent;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * Watches directories (config, plugins, incoming events) and, once changes have settled, tells the
 * action registered for each directory which of its files changed.
 *
 * <p>Uses the kernel's inotify through {@link WatchService}: the thread blocks until something
 * changes, so there are no periodic wake-ups. Several writes in a row (an editor saving, a package
 * upgrade) become one call after {@code settle} of quiet. One watcher serves the whole agent: each
 * WatchService costs the JDK a thread of its own.
 */
final class ConfigWatcher implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger("reload");

    private final WatchService service;
    private final Duration settle;
    private final Map<Path, WatchKey> keys = new HashMap<>();
    private final Map<WatchKey, Target> targets = new HashMap<>();
    /** Device and inode of each watched directory: one deleted and made again is another, to be watched anew. */
    private final Map<WatchKey, Object> inodes = new HashMap<>();

    /** What to do about changes in one directory: one or more parts, each with its files and action. */
    record Target(List<Part> parts) {

        /** Changes of the files {@code filter} accepts call {@code action} (with the changed paths, for a log line). */
        Target(Predicate<String> filter, Consumer<String> action) {
            this(List.of(new Part(filter, action, false)));
        }

        /**
         * Only deletes and moves away of the files {@code filter} accepts: in a directory whose files
         * are written all the time (the log's), a watch for changes would wake up at every write.
         */
        static Target deletes(Predicate<String> filter, Consumer<String> action) {
            return new Target(List.of(new Part(filter, action, true)));
        }

        /** Both on one directory (a samples file kept in the config folder, say), each still called for its own files only. */
        Target merge(Target other) {
            List<Part> all = new java.util.ArrayList<>(parts);
            all.addAll(other.parts);
            return new Target(List.copyOf(all));
        }

        boolean deletesOnly() {
            return parts.stream().allMatch(Part::deletesOnly);
        }
    }

    /** One interest in a directory's files. */
    record Part(Predicate<String> filter, Consumer<String> action, boolean deletesOnly) {
    }

    private final Thread thread;

    ConfigWatcher(Duration settle) throws IOException {
        this.service = FileSystems.getDefault().newWatchService();
        this.settle = settle;
        this.thread = new Thread(null, this::loop, "aegis-watch", 256 * 1024);
        thread.setDaemon(true);
    }

    void start() {
        thread.start();
    }

    /** Watches exactly {@code dirs} from now on, each for its own target. */
    synchronized void watch(Map<Path, Target> dirs) {
        for (var it = keys.entrySet().iterator(); it.hasNext(); ) {
            var e = it.next();
            if (!dirs.containsKey(e.getKey())) {
                e.getValue().cancel();
                targets.remove(e.getValue());
                inodes.remove(e.getValue());
                it.remove();
            }
        }
        for (var e : dirs.entrySet()) {
            Path dir = e.getKey();
            WatchKey existing = keys.get(dir);
            Target previous = existing == null ? null : targets.get(existing);
            // A directory removed while files in it are still open (a log directory, rm -rf) stays alive
            // for the kernel, and so does its watch: only its inode tells that the path is another now.
            if (existing != null && existing.isValid() && previous.deletesOnly() == e.getValue().deletesOnly()
                    && java.util.Objects.equals(inodes.get(existing), inode(dir))) {
                targets.put(existing, e.getValue()); // its filter may have changed (plugin files named by jobs)
                continue;
            }
            if (existing != null) {
                existing.cancel();
                keys.remove(dir);
                targets.remove(existing);
                inodes.remove(existing);
            }
            if (!Files.isDirectory(dir)) {
                continue;
            }
            try {
                WatchKey k = e.getValue().deletesOnly() ? dir.register(service, StandardWatchEventKinds.ENTRY_DELETE)
                        : dir.register(service, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY,
                        StandardWatchEventKinds.ENTRY_DELETE);
                keys.put(dir, k);
                targets.put(k, e.getValue());
                inodes.put(k, inode(dir));
            } catch (IOException ex) {
                LOG.warn("cannot watch {} for changes ({}); edits there take effect on SIGHUP only", dir, ex.getMessage());
            }
        }
    }

    private static Object inode(Path dir) {
        try {
            return Files.readAttributes(dir, java.nio.file.attribute.BasicFileAttributes.class).fileKey();
        } catch (IOException e) {
            return null;
        }
    }

    private void loop() {
        try {
            while (true) {
                Map<Consumer<String>, Set<String>> changed = new java.util.LinkedHashMap<>();
                collect(service.take(), changed);
                WatchKey more;
                while ((more = service.poll(settle.toMillis(), TimeUnit.MILLISECONDS)) != null) {
                    collect(more, changed);
                }
                changed.forEach((action, files) -> {
                    if (!files.isEmpty()) { // only changes to files that matter (not an editor's swap file)
                        action.accept("changed on disk: " + String.join(", ", files));
                    }
                });
            }
        } catch (InterruptedException | ClosedWatchServiceException e) {
            // Shutting down.
        }
    }

    private void collect(WatchKey key, Map<Consumer<String>, Set<String>> byAction) {
        Target target;
        Path dir;
        synchronized (this) {
            target = targets.get(key);
            dir = (Path) key.watchable();
        }
        if (target == null) {
            key.pollEvents();
            key.reset();
            return; // cancelled meanwhile
        }
        for (WatchEvent<?> ev : key.pollEvents()) {
            if (ev.kind() == StandardWatchEventKinds.OVERFLOW) {
                target.parts().forEach(part -> changed(byAction, part).add(dir + " (many changes)"));
                continue;
            }
            String name = ev.context().toString();
            boolean gone = ev.kind() == StandardWatchEventKinds.ENTRY_DELETE;
            for (Part part : target.parts()) {
                if ((gone || !part.deletesOnly()) && part.filter().test(name)) {
                    changed(byAction, part).add(dir.resolve(name).toString());
                }
            }
        }
        if (!key.reset()) {
            // The directory itself went away (deleted, or replaced by a rename): the action this
            // triggers watches the new one.
            target.parts().forEach(part -> changed(byAction, part).add(dir + " (replaced)"));
        }
    }

    private static Set<String> changed(Map<Consumer<String>, Set<String>> byAction, Part part) {
        return byAction.computeIfAbsent(part.action(), a -> new TreeSet<>());
    }

    @Override
    public void close() {
        thread.interrupt();
        try {
            service.close();
        } catch (IOException ignored) {
            // Closing a watch service only releases an inotify descriptor.
        }
    }
}
