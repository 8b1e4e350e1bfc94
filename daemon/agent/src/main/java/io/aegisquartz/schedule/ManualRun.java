package io.aegisquartz.schedule;

/**
 * How a run asked for with {@code aegis-quartz run-now} ended: it ran ({@link #run} is set), or it
 * did not, and {@link #notRun} says why (running already, held, removed).
 */
public record ManualRun(RunRecord run, String notRun) {

    static ManualRun ran(RunRecord r) {
        return new ManualRun(r, null);
    }

    public static ManualRun refused(String why) {
        return new ManualRun(null, why);
    }
}
