package io.aegisquartz.alert;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A process of its own for {@link SilencesLockTest}: waits for the start file (so that every writer
 * begins at once), then adds {@code COUNT} silences named {@code PREFIX-i}, each with one update.
 * Arguments: silences file, start file, prefix, count.
 */
public final class SilencesWriterChild {

    private SilencesWriterChild() {
    }

    public static void main(String[] args) throws Exception {
        Silences silences = new Silences(Path.of(args[0]));
        Path go = Path.of(args[1]);
        while (!Files.exists(go)) {
            Thread.onSpinWait(); // a start gate, not a wait for time: every writer starts within a millisecond of the others
        }
        add(silences, args[2], Integer.parseInt(args[3]));
    }

    static void add(Silences silences, String prefix, int count) throws java.io.IOException {
        for (int i = 0; i < count; i++) {
            long now = System.currentTimeMillis();
            Silences.Silence s = new Silences.Silence(prefix + "-" + i, now, now + 3_600_000, "", "test");
            silences.update(all -> {
                List<Silences.Silence> next = new ArrayList<>(all);
                next.add(s);
                return next;
            }, now);
        }
    }
}
