package io.aegisquartz.alert;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Everything alerting keeps across restarts, written as one JSON file ({@link AlertStore}) so that a
 * series' notified state and the notification it caused are saved together or not at all.
 */
public final class AlertState {

    /** Format version of the file. */
    public int version = 1;
    /** Notifications composed so far: with the host identity and the channel, what makes each id. */
    public long seq;
    /** Series by key (job, metric, tags). */
    public Map<String, SeriesState> series = new LinkedHashMap<>();
    /** Channel queues by channel name. */
    public Map<String, ChannelQueue> channels = new LinkedHashMap<>();
    /**
     * Messages given up because their channel left the channels file (at a reload, or found gone at a
     * start): their queues are gone with the channel, so they are counted here.
     */
    public long givenUpRemoved;
    /**
     * The id of the last {@code dropped} sample notified, by output and reason ("NAME/size_cap"): the
     * spool hands a report out again after a restart (same sample id), which is then not told twice.
     */
    public Map<String, String> drops = new LinkedHashMap<>();
    /** Hosts the receiver tracks for silence, by host uuid (only in the receiver's state). */
    public Map<String, HostSeen> hosts = new LinkedHashMap<>();

    /** One host as the receiver last saw it. */
    public static final class HostSeen {
        public String hostname = "";
        /** Epoch ms of its last accepted sample. */
        public long lastSeen;
        /** Whether it has been notified as silent (and not yet as back). */
        public boolean silent;
        /** When it was notified as silent, epoch ms. */
        public long silentSince;
    }
}
