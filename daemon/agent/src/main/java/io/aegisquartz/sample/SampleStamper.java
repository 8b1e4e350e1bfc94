package io.aegisquartz.sample;

import io.aegisquartz.api.ProcFiles;

import java.util.ArrayList;
import java.util.List;

/** Turns measurements into samples: adds the id, the host, the job and the run's cost. */
public final class SampleStamper {

    private final String hostUuid;
    private final String configuredHostname;

    /** @param configuredHostname a fixed host name, or empty to read the kernel's at each run */
    public SampleStamper(String hostUuid, String configuredHostname) {
        this.hostUuid = hostUuid;
        this.configuredHostname = configuredHostname;
    }

    public String hostUuid() {
        return hostUuid;
    }

    /** The host name samples carry now. Read each time: a host can be renamed while we run. */
    public String hostname() {
        if (!configuredHostname.isEmpty()) {
            return configuredHostname;
        }
        String h = ProcFiles.read("/proc/sys/kernel/hostname");
        return h == null || h.isBlank() ? "localhost" : h.strip();
    }

    /** Samples for one run's measurements. */
    public List<Sample> stamp(String job, String plugin, List<Measurement> measurements, long wallNanos, long cpuNanos,
                              boolean truncated) {
        String host = hostname();
        double durationMs = wallNanos / 1e6;
        double cpuMs = cpuNanos < 0 ? -1 : cpuNanos / 1e6;
        List<Sample> out = new ArrayList<>(measurements.size());
        for (Measurement m : measurements) {
            out.add(new Sample(SampleIds.next(m.timeMillis()), hostUuid, host, job, plugin, durationMs, cpuMs, truncated, m));
        }
        return out;
    }

    /**
     * Samples that are not a run's (duration and CPU 0) and whose ids the caller chose, one per
     * measurement: for input that may be delivered more than once and must keep one id (events).
     */
    public List<Sample> stampWithIds(String job, String plugin, List<Measurement> measurements, List<String> ids) {
        if (ids.size() != measurements.size()) {
            throw new IllegalArgumentException(ids.size() + " ids for " + measurements.size() + " measurements");
        }
        String host = hostname();
        List<Sample> out = new ArrayList<>(measurements.size());
        for (int i = 0; i < measurements.size(); i++) {
            out.add(new Sample(ids.get(i), hostUuid, host, job, plugin, 0, 0, false, measurements.get(i)));
        }
        return out;
    }
}
