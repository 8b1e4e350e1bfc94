package io.aegisquartz.output;

import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Sample;
import io.aegisquartz.sample.SampleIds;
import io.aegisquartz.sample.SampleJson;
import io.aegisquartz.sample.Status;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Samples as the agent stores them (written by {@link SampleJson}, the real format), for encoder and
 * round-trip tests: {@code TestSamples.of("memory").value("used_bytes", 5).tag("k", "v").at(t).json()}.
 */
public final class TestSamples {

    public static final String HOST_UUID = "3d1219c7-c4c5-404a-aa1f-6d2a48adfda4";
    public static final String HOSTNAME = "web1";

    private String metric;
    private String job = "default/sampler.groovy";
    private Status status = Status.OK;
    private String message;
    private long time = 1_795_000_000_123L;
    private String hostname = HOSTNAME;
    private final Map<String, Double> values = new LinkedHashMap<>();
    private final Map<String, String> units = new LinkedHashMap<>();
    private final Map<String, String> tags = new LinkedHashMap<>();

    private TestSamples(String metric) {
        this.metric = metric;
    }

    public static TestSamples of(String metric) {
        return new TestSamples(metric);
    }

    public TestSamples value(String name, double v) {
        values.put(name, v);
        return this;
    }

    public TestSamples value(String name, double v, String unit) {
        values.put(name, v);
        units.put(name, unit);
        return this;
    }

    public TestSamples tag(String k, String v) {
        tags.put(k, v);
        return this;
    }

    public TestSamples status(Status s, String why) {
        status = s;
        message = why;
        return this;
    }

    public TestSamples job(String j) {
        job = j;
        return this;
    }

    public TestSamples at(long epochMillis) {
        time = epochMillis;
        return this;
    }

    public TestSamples host(String name) {
        hostname = name;
        return this;
    }

    public Sample sample() {
        Measurement m = new Measurement(time, metric, status, message, values, units, tags);
        return new Sample(SampleIds.next(time), HOST_UUID, hostname, job, "default/sampler.groovy", 1.5, 1.25, false, m);
    }

    /** The sample's JSON as stored in the spool. */
    public byte[] json() {
        return SampleJson.toJson(sample()).getBytes(StandardCharsets.UTF_8);
    }
}
