package io.aegisquartz.api;

/**
 * A sampler shipped as a JAR plugin.
 *
 * <p>The agent finds implementations with {@link java.util.ServiceLoader}: list the class in
 * {@code META-INF/services/io.aegisquartz.api.Sampler} inside the JAR. Each JAR gets its own class
 * loader that sees only this package and the JDK, so a plugin may bundle any library version it likes.
 *
 * <p>One instance is created per job and kept between runs, so fields may carry state (previous
 * counters for rates, an open connection). A new instance is created when the JAR file changes.
 * Runs of one job never overlap, so an instance is never called from two threads at once. When a JAR
 * holds several samplers, a cron line picks one with {@code sampler=} and the class's simple or fully
 * qualified name.
 */
public interface Sampler {

    /**
     * Takes one set of measurements and emits them through {@code ctx}.
     *
     * <p>Return normally when done. An exception marks the run {@code error} with its message; samples
     * emitted before it are kept. The run is interrupted at its time or CPU limit: blocking calls should
     * let {@link InterruptedException} propagate, and long loops should check
     * {@link SampleContext#stopRequested()}.
     */
    void sample(SampleContext ctx) throws Exception;
}
