package io.aegisquartz.output.influx;

import io.aegisquartz.output.TestSamples;
import io.aegisquartz.sample.Status;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The exact lines the influx encoder writes (the round trips through real servers are in InfluxRoundTripTest). */
class InfluxEncoderTest {

    private static final long T = 1_795_000_000_123L;

    private static String text(InfluxBody b) throws Exception {
        byte[] bytes = b.gzipped() ? new GZIPInputStream(new ByteArrayInputStream(b.bytes())).readAllBytes() : b.bytes();
        return new String(bytes, StandardCharsets.UTF_8);
    }

    @Test
    void aSampleIsOneLineOfFloatsAndARunStatusLineWhenItHasNoValue() throws Exception {
        InfluxBody b = new InfluxEncoder(InfluxFlavour.INFLUXDB1, InfluxPrecision.MS, false).encode(List.of(
                TestSamples.of("memory").value("used_bytes", 25_325_268_992.0, "B").value("used_pct", 1.5).value("tiny", 1e-7)
                        .tag("mount point", "/my data").at(T).json(),
                TestSamples.of("check_disk").job("disk root").status(Status.TIMEOUT, "stopped \"hard\"\\now").at(T + 1).json()));
        assertEquals("memory,host=web1,host_uuid=" + TestSamples.HOST_UUID + ",job=default/sampler.groovy,status=ok,"
                + "mount\\ point=/my\\ data used_bytes=25325268992,used_pct=1.5,tiny=1.0E-7 " + T + "\n"
                + "aegis,host=web1,host_uuid=" + TestSamples.HOST_UUID + ",job=disk\\ root,metric=check_disk,status=timeout "
                + "run_status=1,message=\"stopped \\\"hard\\\"\\\\now\" " + (T + 1) + "\n", text(b));
        assertEquals(2, b.lines());
    }

    @Test
    void precisionScalesTheTimestampAndVictoriaMetricsGetsNoStringField() throws Exception {
        byte[] s = TestSamples.of("m").value("v", 1).status(Status.ERROR, "why").at(T).json();
        assertTrue(text(new InfluxEncoder(InfluxFlavour.INFLUXDB2, InfluxPrecision.S, false).encode(List.of(s)))
                .endsWith(" " + T / 1000 + "\n"));
        assertTrue(text(new InfluxEncoder(InfluxFlavour.INFLUXDB2, InfluxPrecision.NS, false).encode(List.of(s)))
                .endsWith(" " + T * 1_000_000 + "\n"));
        String vm = text(new InfluxEncoder(InfluxFlavour.VICTORIAMETRICS, InfluxPrecision.MS, true).encode(List.of(s)));
        assertTrue(vm.contains(" run_status=1 " + T + "\n"), vm);
        assertEquals("n", InfluxPrecision.NS.parameter(InfluxFlavour.INFLUXDB1));
        assertEquals("ns", InfluxPrecision.NS.parameter(InfluxFlavour.INFLUXDB2));
    }

    @Test
    void aRefusedSampleLeavesNothingBehindAndTheOthersAreKept() throws Exception {
        InfluxBody b = new InfluxEncoder(InfluxFlavour.INFLUXDB1, InfluxPrecision.MS, false).encode(List.of(
                TestSamples.of("a").value("v", 1).at(T).json(),
                // Refused at its last tag, after its measurement and first tags were written: they go too.
                TestSamples.of("b").value("v", 2).tag("ok", "x").tag("bad", "trailing\\").status(Status.ERROR, "e").at(T).json(),
                TestSamples.of("c").value("time", 3).at(T).json()));
        assertEquals(1, b.report().refused().size());
        assertEquals(1, b.report().refused().get(0).index());
        assertEquals("a,host=web1,host_uuid=" + TestSamples.HOST_UUID + ",job=default/sampler.groovy,status=ok v=1 " + T + "\n"
                + "c,host=web1,host_uuid=" + TestSamples.HOST_UUID + ",job=default/sampler.groovy,status=ok time_=3 " + T + "\n", text(b));
    }
}
