package io.aegisquartz.api;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Safe reads of /proc and /sys files.
 *
 * <p>"Safe" means: only paths under /proc or /sys are read (anything else is an
 * {@link IllegalArgumentException}); at most {@link #MAX_BYTES} are read, whatever the file claims;
 * and a file that vanished because its process exited, or that the agent may not read, yields
 * {@code null} rather than an exception, since that is an everyday event when walking /proc.
 */
public final class ProcFiles {

    /** Reads stop here; no /proc file a sampler needs is anywhere near this size. */
    public static final int MAX_BYTES = 4 << 20;

    private ProcFiles() {
    }

    /** The whole file as text, or {@code null} if it does not exist (any more) or cannot be read. */
    public static String read(String path) {
        Path p = checked(path);
        try (InputStream in = Files.newInputStream(p)) {
            // /proc files report size 0, so read until EOF instead of trusting the size.
            byte[] bytes = in.readNBytes(MAX_BYTES);
            return new String(bytes, StandardCharsets.UTF_8);
        } catch (NoSuchFileException | java.nio.file.AccessDeniedException e) {
            return null;
        } catch (IOException e) {
            // ESRCH and friends when a process dies mid-read surface as plain IOExceptions.
            return null;
        }
    }

    /** The file's lines, or an empty list if it cannot be read. */
    public static List<String> lines(String path) {
        String text = read(path);
        if (text == null || text.isEmpty()) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < text.length(); i++) {
            if (text.charAt(i) == '\n') {
                out.add(text.substring(start, i));
                start = i + 1;
            }
        }
        if (start < text.length()) {
            out.add(text.substring(start));
        }
        return out;
    }

    /**
     * Parses "Key: number [unit]" lines, as in /proc/meminfo or /proc/PID/status, into a map.
     * Lines whose first value is not an integer are skipped. Units are dropped (meminfo's are kB), and
     * so are further values ("Uid:\t1000\t1000\t1000\t1000" is 1000, the real uid).
     */
    public static Map<String, Long> keyValues(String path) {
        Map<String, Long> out = new LinkedHashMap<>();
        for (String line : lines(path)) {
            int colon = line.indexOf(':');
            if (colon <= 0) {
                continue;
            }
            String rest = line.substring(colon + 1).trim();
            // /proc/PID/status separates several values with tabs, meminfo a value and its unit with a blank.
            int end = 0;
            while (end < rest.length() && !Character.isWhitespace(rest.charAt(end))) {
                end++;
            }
            String number = rest.substring(0, end);
            try {
                out.put(line.substring(0, colon).trim(), Long.parseLong(number));
            } catch (NumberFormatException ignored) {
                // Not a numeric field (e.g. "Name:" in /proc/PID/status); callers want numbers only.
            }
        }
        return out;
    }

    private static Path checked(String path) {
        Path p = Path.of(path).normalize();
        if (!p.isAbsolute() || !(p.startsWith("/proc") || p.startsWith("/sys"))) {
            throw new IllegalArgumentException("ProcFiles reads only under /proc and /sys, not " + path);
        }
        return p;
    }
}
