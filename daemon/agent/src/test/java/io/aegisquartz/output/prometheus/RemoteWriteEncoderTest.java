package io.aegisquartz.output.prometheus;

import io.aegisquartz.output.TestSamples;
import io.aegisquartz.sample.Status;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The remote-write request, decoded with snappy-java and protobuf-java. */
class RemoteWriteEncoderTest {

    private static WriteRequests.Series find(List<WriteRequests.Series> all, String name) {
        return all.stream().filter(s -> name.equals(s.labels().get("__name__"))).findFirst()
                .orElseThrow(() -> new AssertionError("no series " + name + " in " + all));
    }

    @Test
    void valuesBecomeSeriesWithSortedSanitisedLabelsAndTheStatus() throws Exception {
        byte[] sample = TestSamples.of("net.io").value("rx-bytes/s", 10.5, "B/s").value("packets", 3, "c")
                .tag("Interface", "eth0").tag("a.b", "x\"y\nz").tag("9lives", "ünï").tag("__meta", "m").tag("job", "theirs")
                .status(Status.WARNING, "slow").at(1_795_000_000_123L).json();
        RemoteWriteBody body = new RemoteWriteEncoder().encode(List.of(sample));
        assertTrue(body.report().isClean(), body.report().refused().toString());
        List<WriteRequests.Series> series = WriteRequests.decode(body.bytes());
        assertEquals(2, series.size());
        WriteRequests.Series rx = find(series, "net_io_rx_bytes_s");
        assertEquals(List.of("Interface", "_9lives", "__name__", "a_b", "host", "host_uuid", "job", "status", "tag__meta", "tag_job"),
                new ArrayList<>(rx.labels().keySet()), "sorted by name, upper case before '_'");
        assertEquals("x\"y\nz", rx.labels().get("a_b"), "label values as they are");
        assertEquals("warning", rx.labels().get("status"));
        assertEquals("default/sampler.groovy", rx.labels().get("job"));
        assertEquals("theirs", rx.labels().get("tag_job"));
        assertEquals(List.of(1_795_000_000_123L), rx.times());
        assertEquals(List.of(10.5), rx.values());
        // A counter (unit c) is a _total.
        assertEquals(List.of(3.0), find(series, "net_io_packets_total").values());
    }

    @Test
    void runsWithoutValuesAreRunStatusPoints() throws Exception {
        RemoteWriteBody body = new RemoteWriteEncoder().encode(List.of(
                TestSamples.of("check_disk").job("disk").status(Status.TIMEOUT, "slow").at(5000).json(),
                TestSamples.of("spool").value("count", 7).tag("reason", "size_cap").status(Status.DROPPED, "x").at(6000).json()));
        List<WriteRequests.Series> series = WriteRequests.decode(body.bytes());
        List<Map<String, String>> runs = series.stream().filter(s -> s.labels().get("__name__").equals("aegis_run_status"))
                .map(WriteRequests.Series::labels).toList();
        assertEquals(2, runs.size());
        assertEquals("timeout", runs.get(0).get("status"));
        assertEquals("check_disk", runs.get(0).get("metric"));
        assertEquals("dropped", runs.get(1).get("status"));
        assertEquals("size_cap", runs.get(1).get("reason"));
        assertEquals(List.of(7.0), find(series, "spool_count").values());
    }

    @Test
    void pointsOfASeriesAreInTimeOrderAndRepeatsAtOneMillisecondAreSentOnce() throws Exception {
        List<byte[]> samples = List.of(
                TestSamples.of("m").value("v", 3).at(3000).json(),
                TestSamples.of("m").value("v", 1).at(1000).json(),
                TestSamples.of("m").value("v", 2).at(2000).json(),
                TestSamples.of("m").value("v", 2).at(2000).json(), // the same point again: sent once, not counted
                TestSamples.of("m").value("v", 9).at(2000).json()); // another value at that time: left out, counted
        RemoteWriteBody body = new RemoteWriteEncoder().encode(samples);
        WriteRequests.Series s = WriteRequests.decode(body.bytes()).get(0);
        assertEquals(List.of(1000L, 2000L, 3000L), s.times());
        assertEquals(List.of(1.0, 2.0, 3.0), s.values());
        assertEquals(1, body.report().skippedTotal(), body.report().skipped().toString());
        assertEquals(3, body.points());
    }

    @Test
    void samplesWhoseNamesCollideOnceSanitisedAreRefusedWhole() throws Exception {
        RemoteWriteBody body = new RemoteWriteEncoder().encode(List.of(
                TestSamples.of("m").value("v", 1).tag("a.b", "1").tag("a-b", "2").json(),
                TestSamples.of("m").value("x.y", 1).value("x_y", 2).json(),
                TestSamples.of("m").value("v", 1).tag("host", "h").tag("tag_host", "h2").json(),
                TestSamples.of("ok").value("v", 1).json()));
        assertEquals(List.of(0, 1, 2), body.report().refused().stream().map(r -> r.index()).toList());
        assertTrue(body.report().refused().get(0).reason().contains("label a_b"), body.report().refused().get(0).reason());
        assertTrue(body.report().refused().get(1).reason().contains("both series m_x_y"), body.report().refused().get(1).reason());
        assertEquals(1, WriteRequests.decode(body.bytes()).size());
    }
}
