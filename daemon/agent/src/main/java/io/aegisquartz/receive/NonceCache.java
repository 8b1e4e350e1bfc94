package io.aegisquartz.receive;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * Nonces of requests whose signature verified, each kept until its request's timestamp falls outside
 * the clock-skew window: after that the timestamp check rejects a replay anyway, so the cache only
 * ever holds the last few minutes of traffic.
 *
 * <p>With a journal directory the nonces also survive a restart of the receiver (docs/PROTOCOL.md,
 * "Nonces"): each recorded nonce is appended to {@code nonces} as a line {@code NONCE EXPIRY} (epoch
 * seconds) with one write before the request goes further, and read back at start. The write is not
 * fsynced per request (that would double the fsyncs of a stored batch): a crash or kill of the
 * receiver keeps every line, since the kernel has it; only an operating-system crash can forget the
 * last seconds of nonces, and a replay of such a request can then only deliver samples the original
 * request delivered, which the store drops by id. The file never needs rewriting: every two windows
 * it is renamed to {@code nonces.old} (whose lines have all expired by the next rename, when it is
 * deleted) and a new one started.
 */
final class NonceCache implements AutoCloseable {

    static final String FILE = "nonces";
    static final String OLD = "nonces.old";
    private static final Pattern LINE = Pattern.compile("([0-9a-f]{32}) ([0-9]{1,12})");

    private final ConcurrentHashMap<String, Long> expiry = new ConcurrentHashMap<>();
    private final long windowSeconds;
    private final Path dir;
    private volatile long lastPrune;
    /** The journal being appended to, or null without a directory (guarded by this). */
    private FileChannel journal;
    private long startedAt;

    private NonceCache(long windowSeconds, Path dir) {
        this.windowSeconds = windowSeconds;
        this.dir = dir;
    }

    /** A cache that forgets everything when the receiver stops (embedded receivers without a state directory). */
    static NonceCache inMemory(long windowSeconds) {
        return new NonceCache(windowSeconds, null);
    }

    /**
     * A cache kept in {@code dir}: loads the nonces still inside the window from an earlier run (a
     * torn last line, from a crash mid-write, is skipped), writes them to a new journal and appends
     * to it from now on.
     */
    static NonceCache open(Path dir, long windowSeconds, long nowSeconds) throws IOException {
        NonceCache c = new NonceCache(windowSeconds, dir);
        Files.createDirectories(dir);
        c.load(dir.resolve(OLD), nowSeconds);
        c.load(dir.resolve(FILE), nowSeconds);
        Path tmp = dir.resolve(FILE + ".tmp");
        StringBuilder sb = new StringBuilder();
        c.expiry.forEach((n, until) -> sb.append(n).append(' ').append(until).append('\n'));
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE)) {
            write(ch, sb.toString());
            ch.force(false);
        }
        Files.move(tmp, dir.resolve(FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        Files.deleteIfExists(dir.resolve(OLD));
        c.journal = FileChannel.open(dir.resolve(FILE), StandardOpenOption.WRITE, StandardOpenOption.APPEND);
        c.startedAt = nowSeconds;
        return c;
    }

    private void load(Path file, long nowSeconds) throws IOException {
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.ISO_8859_1)) {
            String line;
            while ((line = r.readLine()) != null) {
                var m = LINE.matcher(line);
                if (m.matches()) {
                    long until = Long.parseLong(m.group(2));
                    if (until >= nowSeconds) {
                        expiry.merge(m.group(1), until, Math::max);
                    }
                }
            }
        } catch (NoSuchFileException e) {
            // first start, or nothing recorded since the last rename
        }
    }

    /** Whether the nonce was used by a signed request still inside the window. */
    boolean seen(String nonce) {
        return expiry.containsKey(nonce);
    }

    /**
     * Records the nonce of a request whose signature verified, in memory and in the journal; false if
     * another request recorded it first (two copies of one request arriving at once). Unsigned
     * requests are never recorded, so they cannot fill the cache.
     *
     * @throws IOException if the journal cannot be written: the request must not be served, since its
     *                     nonce would be forgotten at the next start
     */
    boolean record(String nonce, long timestamp, long nowSeconds) throws IOException {
        prune(nowSeconds);
        long until = timestamp + windowSeconds;
        if (expiry.putIfAbsent(nonce, until) != null) {
            return false;
        }
        if (dir != null) {
            synchronized (this) {
                if (journal == null) {
                    throw new IOException("nonce journal in " + dir + " is closed");
                }
                if (nowSeconds - startedAt >= 2 * windowSeconds) {
                    rotate(nowSeconds);
                }
                write(journal, nonce + " " + until + "\n");
            }
        }
        return true;
    }

    /** The current journal becomes the old one; the old one's lines have all expired by now. */
    private void rotate(long nowSeconds) throws IOException {
        journal.force(false);
        journal.close();
        journal = null;
        Files.move(dir.resolve(FILE), dir.resolve(OLD), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        journal = FileChannel.open(dir.resolve(FILE), StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
        startedAt = nowSeconds;
    }

    private static void write(FileChannel ch, String text) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(text.getBytes(StandardCharsets.ISO_8859_1));
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    int size() {
        return expiry.size();
    }

    /** At most once a second; removal is cheap but need not run for every request. */
    void prune(long nowSeconds) {
        if (nowSeconds != lastPrune) {
            lastPrune = nowSeconds;
            expiry.values().removeIf(until -> until < nowSeconds);
        }
    }

    /** Forces the journal to disk and closes it; nothing is recorded after this. */
    @Override
    public synchronized void close() throws IOException {
        if (journal != null) {
            try {
                journal.force(false);
            } finally {
                journal.close();
                journal = null;
            }
        }
    }

    /** For tests: what is remembered, nonce to expiry. */
    Map<String, Long> snapshot() {
        return Map.copyOf(expiry);
    }
}
