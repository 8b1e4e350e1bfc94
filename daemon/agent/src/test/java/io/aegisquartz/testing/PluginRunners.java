package io.aegisquartz.testing;

import io.aegisquartz.plugin.AbandonedThreads;
import io.aegisquartz.plugin.InJvmRunner;
import io.aegisquartz.plugin.RunnerThreads;
import io.aegisquartz.plugin.exec.ProcessRunner;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** Base of tests that run plugins directly: the runners a job would use, shared by a test class. */
public abstract class PluginRunners {

    protected static RunnerThreads threads;
    protected static ProcessRunner processes;
    protected static AbandonedThreads abandoned;
    protected static InJvmRunner inJvm;

    @BeforeAll
    static void startPluginRunners() {
        threads = new RunnerThreads(16);
        processes = new ProcessRunner(threads);
        abandoned = new AbandonedThreads();
        inJvm = new InJvmRunner(abandoned);
    }

    @AfterAll
    static void stopPluginRunners() {
        threads.close();
    }
}
