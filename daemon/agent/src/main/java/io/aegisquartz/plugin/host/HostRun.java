package io.aegisquartz.plugin.host;

import io.aegisquartz.config.JobSpec;
import io.aegisquartz.plugin.MeasurementCollector;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * One run sent to a plugin host, from RUN until its RESULT or the host's end. Its fields change
 * under the {@link HostConnection}'s lock; the worker that sent it waits on {@link #await}.
 */
final class HostRun {

    /** What became of the run. */
    enum State { SENT, STARTED, DONE }

    /** Room for the host's one note on invalid samples, past the run's own byte cap. */
    static final long HOST_NOTE_BYTES = 16 * 1024;

    final long id;
    final JobSpec job;
    final long sentNanos = System.nanoTime();
    final long sentMillis = System.currentTimeMillis();
    /** The host's CPU time when the run was sent (child mode), -1 if unknown. */
    final long hostCpuAtSend;
    /** The agent's own check of what the host sends: validity, the sample cap. The host may add one note on invalid samples. */
    final MeasurementCollector collected;
    private final CountDownLatch done = new CountDownLatch(1);

    State state = State.SENT;
    int samples;
    int logs;
    /** The host's report, when one came. */
    HostProtocol.Result result;
    /** Appended to the result's message: what the agent did to the host because of this run. */
    String note = "";
    /** Set when the host ended before the run's result: the death, and whether to run it again (alone, if it is a suspect). */
    HostDeath death;
    boolean retry;
    boolean retryAlone;

    /** True for a run of an executable (EXEC): it gets output chunks and an EXEC_RESULT, never samples or a RESULT. */
    final boolean exec;
    /** An executable's standard output so far, at most its output_max (the agent checks). */
    java.io.ByteArrayOutputStream stdout;
    /** An executable's outcome, when it came. */
    HostProtocol.ExecResult execResult;

    HostRun(long id, JobSpec job, long hostCpuAtSend) {
        this(id, job, hostCpuAtSend, false);
    }

    HostRun(long id, JobSpec job, long hostCpuAtSend, boolean exec) {
        this.exec = exec;
        this.stdout = exec ? new java.io.ByteArrayOutputStream() : null;
        this.id = id;
        this.job = job;
        this.hostCpuAtSend = hostCpuAtSend;
        this.collected = new MeasurementCollector(job.options().maxSamples() + 1, job.options().maxBytes() + HOST_NOTE_BYTES);
    }

    /** True if the host reported how the run ended. */
    boolean answered() {
        return result != null || execResult != null;
    }

    void finish() {
        done.countDown();
    }

    boolean await(long nanos) throws InterruptedException {
        return done.await(nanos, TimeUnit.NANOSECONDS);
    }

    void await() throws InterruptedException {
        done.await();
    }
}
