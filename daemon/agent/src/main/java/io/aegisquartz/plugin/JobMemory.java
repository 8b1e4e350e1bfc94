package io.aegisquartz.plugin;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What a job keeps between its runs: the plugin's {@code state} map and, for JAR plugins, the sampler
 * instance. Forgotten when the plugin file changes, so new code never sees an old version's state.
 */
public final class JobMemory {

    private final Map<String, Object> state = new ConcurrentHashMap<>();
    private volatile Object instance;
    private volatile Object instanceOwner;

    /** The map plugins see as {@code state}. */
    public Map<String, Object> state() {
        return state;
    }

    /** The instance created by {@code owner} (a loaded plugin), or null if another owner created it. */
    public Object instanceFor(Object owner) {
        return instanceOwner == owner ? instance : null;
    }

    /** Keeps {@code value} as the instance of {@code owner}; a new owner also clears the state map. */
    public void keepInstance(Object owner, Object value) {
        if (instanceOwner != owner) {
            state.clear();
        }
        instanceOwner = owner;
        instance = value;
    }

    /** Forgets everything (the plugin changed). */
    public void clear() {
        state.clear();
        instance = null;
        instanceOwner = null;
    }
}
