package io.aegisquartz.alert;

/**
 * What the engine remembers of one series (a job's run, or one metric and tag set of a job) while it
 * is worth remembering: from its first non-ok run until it has been ok for 21 runs with nothing left
 * to notify. Fields are public for the state file's JSON (docs/ALERTS.md, "State file").
 */
public final class SeriesState {

    /** Job name. */
    public String job;
    /** Metric, empty for the run. */
    public String metric = "";
    /** Tags as "k=v,k=v", sorted; empty if none. */
    public String tags = "";
    /** Host name of the last sample. */
    public String host = "";
    /** Status of the last run. */
    public String status = "ok";
    /** The status last notified ("ok": nothing is notified as wrong). */
    public String notified = "ok";
    /** Consecutive non-ok runs (Nagios' current attempt). */
    public int attempts;
    /** When the current problem began (its first non-ok run), epoch ms; 0 while ok. */
    public long since;
    /** When a problem of this series was last notified, epoch ms. */
    public long lastNotified;
    /** When the series was last seen in a sample, epoch ms. */
    public long lastSeen;
    /** Hard states and soft recoveries of the last 21 runs, oldest first ({@link Flapping}). */
    public String history = "";
    /** Whether the series flaps (its notifications are held until it stops). */
    public boolean flapping;
    /** Message of the last non-ok run. */
    public String message = "";
    /** Values of the last non-ok run, as text. */
    public String value = "";
    /** An output's series: whether the spool's dropping its samples during this outage has been told. */
    public boolean dropping;
    /** The channels its notifications went to: where its "removed" goes if its job leaves the configuration. */
    public java.util.List<String> channels = java.util.List.of();
}
