package io.aegisquartz.output;

import java.util.Arrays;

/**
 * The labels (InfluxDB tags, Prometheus labels, OTLP attributes) every point of a sample carries,
 * the same for every output (docs/OUTPUTS.md): {@code host} and {@code host_uuid} where the format has
 * no place of its own for the host, {@code job}, {@code status}, {@code metric} on run-status points,
 * then the sample's own tags in their order.
 *
 * <p>A sample tag named like one of ours ({@code host}, {@code host_uuid}, {@code job},
 * {@code status}, {@code metric}) is renamed {@code tag_NAME}, so that neither hides the other; a tag
 * with an empty value is left out, since InfluxDB and Prometheus have no empty label values (an
 * absent label reads back as empty).
 */
public final class PointLabels {

    /** The series (Prometheus name, OTLP metric) of run-status points. */
    public static final String RUN_STATUS = "aegis_run_status";
    /** The prefix of a sample tag that shares a name with one of ours. */
    public static final String RENAMED_PREFIX = "tag_";

    private final String[] keys;
    private final String[] values;
    private final int ours;

    private PointLabels(String[] keys, String[] values, int ours) {
        this.keys = keys;
        this.values = values;
        this.ours = ours;
    }

    /**
     * The labels of {@code s}'s points.
     *
     * @param withHost   whether to include host and host_uuid (OTLP has them as resource attributes)
     * @param withMetric whether to include metric (run-status points, whose series name is not the metric's)
     */
    public static PointLabels of(StoredSample s, boolean withHost, boolean withMetric) {
        int max = 5 + s.tagCount();
        String[] k = new String[max];
        String[] v = new String[max];
        int n = 0;
        if (withHost) {
            k[n] = "host";
            v[n++] = s.hostname();
            k[n] = "host_uuid";
            v[n++] = s.hostUuid();
        }
        k[n] = "job";
        v[n++] = s.job();
        if (withMetric) {
            k[n] = "metric";
            v[n++] = s.metric();
        }
        k[n] = "status";
        v[n++] = s.status();
        int ours = n;
        for (int i = 0; i < s.tagCount(); i++) {
            String value = s.tagValue(i);
            if (value.isEmpty()) {
                continue;
            }
            String key = s.tagKey(i);
            k[n] = isOurs(key) ? RENAMED_PREFIX + key : key;
            v[n++] = value;
        }
        // Ours may be empty too (a host name cannot be, but a job written by hand could).
        int kept = 0;
        int keptOurs = 0;
        for (int i = 0; i < n; i++) {
            if (!v[i].isEmpty()) {
                k[kept] = k[i];
                v[kept++] = v[i];
                if (i < ours) {
                    keptOurs++;
                }
            }
        }
        return new PointLabels(Arrays.copyOf(k, kept), Arrays.copyOf(v, kept), keptOurs);
    }

    private static boolean isOurs(String key) {
        return switch (key) {
            case "host", "host_uuid", "job", "status", "metric" -> true;
            default -> false;
        };
    }

    public int size() {
        return keys.length;
    }

    public String key(int i) {
        return keys[i];
    }

    public String value(int i) {
        return values[i];
    }

    /** Whether label {@code i} is one the agent adds (host, job, status ...) rather than a sample tag. */
    public boolean isAgentLabel(int i) {
        return i < ours;
    }

    /**
     * The first name that two labels share once {@code rename} has been applied to every key (the
     * identity for InfluxDB, Prometheus' sanitising), or null. A sample tag named {@code tag_host} next
     * to a renamed {@code host}, or {@code a.b} next to {@code a_b} in Prometheus, is such a clash.
     */
    public String clash(java.util.function.UnaryOperator<String> rename) {
        int n = keys.length;
        if (n < 2) {
            return null;
        }
        String[] renamed = new String[n];
        for (int i = 0; i < n; i++) {
            renamed[i] = rename.apply(keys[i]);
        }
        if (n <= 16) { // the usual case: pairwise beats hashing
            for (int i = 0; i < n; i++) {
                for (int j = i + 1; j < n; j++) {
                    if (renamed[i].equals(renamed[j])) {
                        return renamed[i];
                    }
                }
            }
            return null;
        }
        java.util.Set<String> seen = new java.util.HashSet<>(n * 2);
        for (String r : renamed) {
            if (!seen.add(r)) {
                return r;
            }
        }
        return null;
    }
}
