package io.aegisquartz.journal;

import io.aegisquartz.log.LogText;
import io.aegisquartz.sample.Status;

import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * What the runs the previous agent left in its journal mean: how it ended during each, and which run,
 * if any, ended it. The rules (docs/JOURNAL.md):
 *
 * <ul>
 * <li>The agent can be ended by a plugin only from inside its JVM (Groovy and JAR runs), and only in
 *     ways an operator does not: an exit it did not ask for ({@code System.exit}, seen by the
 *     journal's shutdown hook; {@code Runtime.halt}, seen by the launcher as an exit without the
 *     hook), running out of memory, a freeze the watchdog ended, a crash of the JVM. A SIGKILL or a
 *     SIGTERM from outside, or an end nobody can tell (no launcher), blames nobody.</li>
 * <li>The culprit is the run whose code called {@code System.exit} (named by the hook), else the
 *     only in-JVM run in progress. It gets an {@code error} sample and is quarantined.</li>
 * <li>With several in-JVM runs in progress and no way to tell, none is quarantined: each becomes a
 *     suspect, whose runs are then run alone until one completes. A suspect that ends the agent again
 *     does so alone and is quarantined; so a job is quarantined at the latest the second time.</li>
 * <li>Every other interrupted run gets a {@code killed} sample saying how the agent ended.</li>
 * </ul>
 */
public final class CrashReview {

    /**
     * What to report about one interrupted run.
     *
     * @param status      {@code error} for the culprit, {@code killed} for the others
     * @param message     the sample's message
     * @param quarantined true if the run's job is now quarantined
     * @param suspect     true if the run's job is now a suspect
     */
    public record Report(RunJournal.Run run, Status status, String message, boolean quarantined, boolean suspect) {
    }

    /**
     * @param summary one log line about how the previous agent ended, or null if there is nothing to say
     * @param reports one per interrupted run
     */
    public record Result(String summary, List<Report> reports) {
    }

    private CrashReview() {
    }

    /**
     * Reviews {@code previous} and records the quarantines and suspicions it leads to in {@code records}.
     *
     * @throws IOException if a record cannot be written (the start goes on; the caller logs it)
     */
    public static Result review(RunJournal.Previous previous, PreviousExit exit, QuarantineRecords records, long nowMillis)
            throws IOException {
        List<RunJournal.Run> runs = previous.runs();
        String how = how(previous, exit);
        boolean pluginCould = previous.end() == RunJournal.End.EXITED ? previous.culprit() != RunJournal.AGENT_ITSELF
                : previous.end() != RunJournal.End.STOPPED && exit.pluginCouldCause();
        List<RunJournal.Run> inJvm = runs.stream().filter(RunJournal.Run::inJvm).toList();
        RunJournal.Run culprit = null;
        if (pluginCould) {
            for (RunJournal.Run r : runs) {
                if (r.slot() == previous.culprit()) {
                    culprit = r;
                }
            }
            if (culprit == null && inJvm.size() == 1) {
                culprit = inJvm.get(0);
            }
        }
        boolean ambiguous = pluginCould && culprit == null && inJvm.size() > 1;
        String others = inJvm.stream().map(r -> r.job() + " (since " + Instant.ofEpochMilli(r.startMillis()) + ")")
                .collect(Collectors.joining(", "));

        List<Report> reports = new ArrayList<>();
        for (RunJournal.Run r : runs) {
            String where = " (job " + r.job() + ", started " + Instant.ofEpochMilli(r.startMillis()) + ")";
            if (r == culprit) {
                String why = culpritClause(previous, exit, r) + where;
                records.write(QuarantineRecords.Kind.QUARANTINED, r.keyHash(), r.job(), r.plugin(), r.stamp(), nowMillis, why);
                QuarantineRecords.Record s = records.find(r.keyHash(), QuarantineRecords.Kind.SUSPECT);
                if (s != null) {
                    records.delete(s);
                }
                reports.add(new Report(r, Status.ERROR, why + "; the job is quarantined until its plugin file changes or 'aegis-quartz unquarantine "
                        + r.job() + "'", true, false));
            } else if (ambiguous && r.inJvm()) {
                records.write(QuarantineRecords.Kind.SUSPECT, r.keyHash(), r.job(), r.plugin(), r.stamp(), nowMillis,
                        how + " while " + inJvm.size() + " runs inside the agent were in progress: " + others);
                reports.add(new Report(r, Status.KILLED, how + " during this run" + where + "; " + inJvm.size()
                        + " runs inside the agent were in progress (" + others + ") and none can be blamed alone: each of these jobs now "
                        + "runs alone until a run of it completes", false, true));
            } else {
                String blame = culprit == null ? "" : "; job " + culprit.job() + " ended it";
                reports.add(new Report(r, Status.KILLED, how + " during this run" + where + blame
                        + (r.inJvm() ? "" : "; what the plugin printed after that was lost"), false, false));
            }
        }
        String summary = null;
        if (previous.end() != RunJournal.End.NONE && (previous.end() != RunJournal.End.STOPPED || !runs.isEmpty())) {
            summary = "the previous agent" + (previous.pid() > 0 ? " (pid " + previous.pid() + ")" : "") + ": " + how
                    + (runs.isEmpty() ? "; no run was in progress" : "; " + runs.size() + " run(s) were in progress: " + runs.stream()
                    .map(r -> r.job() + " (since " + Instant.ofEpochMilli(r.startMillis()) + ")").collect(Collectors.joining(", ")))
                    + (previous.unreadable() > 0 ? "; " + previous.unreadable() + " slot(s) of the journal could not be read (a crash of the machine?)" : "")
                    + (culprit != null ? "; job " + culprit.job() + " is quarantined" : ambiguous ? "; none can be blamed alone" : "");
        }
        return new Result(summary, reports);
    }

    /** How the agent ended, as a clause that reads before "during this run". */
    static String how(RunJournal.Previous p, PreviousExit exit) {
        return switch (p.end()) {
            case STOPPED -> "the agent was stopped on request";
            case EXITED -> p.culprit() == RunJournal.AGENT_ITSELF ? "the agent exited by itself (from its main thread, without a stop request)"
                    + ("exit".equals(exit.kind()) && !exit.detail().isEmpty() ? " with code " + exit.detail() : "")
                    : "the agent ended: System.exit was called" + (p.note().isEmpty() ? "" : " by " + p.note())
                    + ("exit".equals(exit.kind()) && !exit.detail().isEmpty() ? " (exit code " + exit.detail() + ")" : "");
            default -> exit.describe();
        };
    }

    private static String culpritClause(RunJournal.Previous p, PreviousExit exit, RunJournal.Run r) {
        if (p.end() == RunJournal.End.EXITED && p.culprit() == r.slot()) {
            return "this run called System.exit and ended the agent" + ("exit".equals(exit.kind()) && !exit.detail().isEmpty()
                    ? " (exit code " + exit.detail() + ")" : "") + (p.note().isEmpty() ? "" : ": " + LogText.escape(p.note(), 200));
        }
        return how(p, exit) + " during this run, the only run inside the agent then, so it is held responsible";
    }
}
