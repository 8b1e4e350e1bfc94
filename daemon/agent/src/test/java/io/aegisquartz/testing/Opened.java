package io.aegisquartz.testing;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.util.ArrayList;
import java.util.List;

/**
 * Servers and clients a test opened, closed after each test in the reverse order, whatever its
 * outcome (after the test's own {@code @AfterEach}, so an agent stopped there stops before its
 * backends). Register with {@code @RegisterExtension final Opened opened = new Opened();}.
 */
public final class Opened implements AfterEachCallback {

    private final List<AutoCloseable> open = new ArrayList<>();

    /** Remembers {@code c} for closing after the test; returns it. */
    public <T extends AutoCloseable> T add(T c) {
        open.add(c);
        return c;
    }

    @Override
    public void afterEach(ExtensionContext context) throws Exception {
        Exception first = null;
        for (int i = open.size() - 1; i >= 0; i--) {
            try {
                open.get(i).close();
            } catch (Exception e) {
                first = first == null ? e : first;
            }
        }
        open.clear();
        if (first != null) {
            throw first;
        }
    }
}
