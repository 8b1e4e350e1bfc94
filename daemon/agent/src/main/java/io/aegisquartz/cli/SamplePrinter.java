package io.aegisquartz.cli;

import io.aegisquartz.plugin.RunResult;
import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Sample;
import io.aegisquartz.sample.SampleJson;
import io.aegisquartz.sample.Status;

import java.io.PrintStream;
import java.util.List;
import java.util.Map;

/**
 * How {@code run-plugin} and {@code test} print a run: one line per sample
 * ({@code status=... metric=... values={...} tags={...} message="..."}) and a summary line, or the
 * samples as JSON lines (the samples file format).
 */
final class SamplePrinter {

    private SamplePrinter() {
    }

    /** Prints a run's samples (and, unless {@code json}, its summary line); returns the worst status, Nagios style. */
    static Status print(PrintStream out, List<Sample> samples, RunResult r, boolean json) {
        Status worst = Status.OK;
        for (Sample s : samples) {
            out.println(json ? SampleJson.toJson(s) : human(s.measurement()));
            if (s.status().exitCode() > worst.exitCode()) {
                worst = s.status();
            }
        }
        if (!json) {
            // What an in-JVM run allocated, to compare with [limits] mem (garbage counts).
            out.printf("run: status=%s samples=%d duration=%s cpu=%s%s%s%n", r.outcome().wire(), samples.size(),
                    millis(r.wallNanos()), r.cpuNanos() < 0 ? "unknown" : millis(r.cpuNanos()),
                    r.allocatedBytes() < 0 ? "" : " allocated=" + io.aegisquartz.config.Units.formatBytesRounded(r.allocatedBytes()).replace(" ", ""),
                    r.truncated() ? " truncated" : "");
        }
        return worst;
    }

    /** The line for a plugin that could not be loaded. */
    static String notLoaded(String metric, String message) {
        return "status=error metric=" + metric + " message=\"plugin cannot be loaded: " + message.replace("\"", "\\\"") + "\"";
    }

    static String human(Measurement m) {
        StringBuilder sb = new StringBuilder();
        sb.append("status=").append(m.status().wire()).append(" metric=").append(m.metric());
        if (!m.values().isEmpty()) {
            sb.append(" values={");
            boolean first = true;
            for (Map.Entry<String, Double> e : m.values().entrySet()) {
                sb.append(first ? "" : ", ").append(e.getKey()).append('=').append(number(e.getValue()));
                String unit = m.units().get(e.getKey());
                if (unit != null) {
                    sb.append(unit);
                }
                first = false;
            }
            sb.append('}');
        }
        if (!m.tags().isEmpty()) {
            sb.append(" tags=").append(m.tags());
        }
        if (m.message() != null) {
            sb.append(" message=\"").append(m.message().replace("\"", "\\\"")).append('"');
        }
        return sb.toString();
    }

    private static String number(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
    }

    static String millis(long nanos) {
        return String.format("%.1fms", nanos / 1e6);
    }
}
