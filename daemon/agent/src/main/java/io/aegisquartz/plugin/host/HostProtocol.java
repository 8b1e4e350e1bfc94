package io.aegisquartz.plugin.host;

import io.aegisquartz.sample.Measurement;
import io.aegisquartz.sample.Status;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The messages between the agent and the plugin host, version {@value #VERSION}: their type codes,
 * fields, caps and codecs. docs/PLUGIN-HOST.md describes the same, for implementing either side.
 *
 * <p>Decoding is strict in both directions, but only the agent's side matters for safety: every
 * message from the host may have been written by a plugin (a plugin in the host can write to the
 * channel), so each field is checked against its cap and type here, and the meaning (is this run in
 * flight, may it send this now) by the agent's {@link PluginHostClient}.
 */
final class HostProtocol {

    static final int MAGIC = 0x41515048; // "AQPH"
    static final int VERSION = 2;

    /** Largest message the host accepts (a LOAD carrying a JAR). */
    static final int MAX_TO_HOST = 48 << 20;
    /** Largest message the agent accepts from the host. */
    static final int MAX_FROM_HOST = 1 << 20;
    /** Largest plugin sent to the host: a JAR's bytes, or a compiled script's classes together. */
    static final int MAX_PLUGIN_BYTES = 32 << 20;

    static final int MAX_NAME = 1024;
    static final int MAX_ARG = 64 * 1024;
    static final int MAX_ARGS = 1000;
    static final int MAX_CLASSES = 10_000;
    static final int MAX_MESSAGE = 16 * 1024;
    static final int MAX_TAG_VALUE = 4096;
    static final int MAX_ITEMS = 100_000;
    static final int MAX_TEXT = 8 * 1024;

    // Agent to host.
    static final int HELLO = 1;
    static final int LOAD = 2;
    static final int UNLOAD = 3;
    static final int RUN = 4;
    static final int PING = 5;
    static final int EXEC = 6;

    // Host to agent.
    static final int READY = 65;
    static final int LOADED = 66;
    static final int STARTED = 67;
    static final int SAMPLE = 68;
    static final int LOG = 69;
    static final int RESULT = 70;
    static final int PONG = 71;
    static final int ENDING = 72;
    static final int EXEC_OUTPUT = 73;
    static final int EXEC_RESULT = 74;

    static final int KIND_GROOVY = 1;
    static final int KIND_JAR = 2;
    static final int KIND_EXEC = 3;

    /** Largest chunk of an executable's standard output in one EXEC_OUTPUT. */
    static final int MAX_OUTPUT_CHUNK = 64 * 1024;
    /** Largest standard error excerpt in an EXEC_RESULT (the runner keeps the first and last few KiB). */
    static final int MAX_STDERR = 64 * 1024;
    static final int MAX_ENV = 256;

    /** How a run ended, as the host's runner saw it (RESULT). */
    enum Ending { COMPLETED, THREW, TIMEOUT, CPU_LIMIT, MEM_LIMIT }

    /** Why the host is about to end by itself (ENDING). */
    enum Why { NONE, EXIT_CALLED, OUT_OF_MEMORY }

    /** Statuses a measurement from the host may carry: what plugins report, and error for the host's own note on invalid samples. */
    private static final Status[] MEASUREMENT_STATUSES = {Status.OK, Status.WARNING, Status.CRITICAL, Status.UNKNOWN, Status.ERROR};

    private HostProtocol() {
    }

    // ---------------------------------------------------------------- agent to host

    /** @param jar a JAR's bytes; for an executable its bytes, or null to run it in place */
    record Load(long pluginId, int kind, String file, String mainClass, Map<String, byte[]> classes, byte[] jar) {
    }

    /** A run of an executable: what {@code ExecSpec} holds, less the user (the host has no privilege to switch). */
    record Exec(long runId, long pluginId, String jobKey, String jobName, List<String> args, Map<String, String> env, long timeoutMillis,
                long cpuMillis, long graceMillis, long outputMax, long memoryMax, long pidsMax) {
    }

    /** How an executable's run ended, as the host's runner saw it: an {@code ExecOutcome} less its standard output (sent before, in chunks). */
    record ExecResult(long runId, int ending, int exitCode, String detail, boolean truncated, String stderr, long wallNanos, long cpuNanos) {
    }

    record Run(long runId, long pluginId, String jobKey, String jobName, String pluginRef, List<String> args, long timeoutMillis,
               long cpuMillis, long graceMillis, long outputMax, int maxSamples, long maxBytes, long mem, String sampler) {
    }

    /** @param livenessMillis how often, at least, the agent pings while runs are in flight, times four */
    static Frame hello(long livenessMillis) {
        return new Frame(HELLO).i32(MAGIC).u16(VERSION).i64(livenessMillis);
    }

    static Frame groovy(long pluginId, String file, String mainClass, Map<String, byte[]> classes) {
        Frame f = new Frame(LOAD).u32(pluginId).u8(KIND_GROOVY).str(file).str(mainClass).u32(classes.size());
        classes.forEach((name, bytes) -> f.str(name).bytes(bytes));
        return f;
    }

    static Frame jar(long pluginId, String file, byte[] jar) {
        return new Frame(LOAD).u32(pluginId).u8(KIND_JAR).str(file).bytes(jar);
    }

    /** An executable: {@code bytes} null to run it at {@code file}, else a copy the host makes of them. */
    static Frame executable(long pluginId, String file, byte[] bytes) {
        Frame f = new Frame(LOAD).u32(pluginId).u8(KIND_EXEC).str(file).bool(bytes != null);
        return bytes == null ? f : f.bytes(bytes);
    }

    static Frame exec(Exec e) {
        Frame f = new Frame(EXEC).u32(e.runId()).u32(e.pluginId()).str(e.jobKey()).str(e.jobName()).u32(e.args().size());
        e.args().forEach(f::str);
        f.u32(e.env().size());
        e.env().forEach((k, v) -> f.str(k).str(v));
        return f.i64(e.timeoutMillis()).i64(e.cpuMillis()).i64(e.graceMillis()).i64(e.outputMax()).i64(e.memoryMax()).i64(e.pidsMax());
    }

    static Exec readExec(Frame f) throws ProtocolException {
        long runId = f.u32();
        long pluginId = f.u32();
        String key = f.str(MAX_ARG * 4, "job key");
        String name = f.str(MAX_ARG * 4, "job name");
        List<String> args = readArgs(f);
        int ne = f.count(MAX_ENV, "environment");
        Map<String, String> env = new LinkedHashMap<>();
        for (int i = 0; i < ne; i++) {
            env.put(f.str(MAX_NAME, "variable name"), f.str(MAX_ARG, "variable value"));
        }
        long timeout = f.nonNegative("timeout");
        long cpu = f.nonNegative("cpu");
        long grace = f.nonNegative("kill grace");
        long outputMax = f.nonNegative("output max");
        long memoryMax = f.nonNegative("memory max");
        long pidsMax = f.nonNegative("pids max");
        f.end();
        return new Exec(runId, pluginId, key, name, args, env, timeout, cpu, grace, outputMax, memoryMax, pidsMax);
    }

    static Frame unload(long pluginId) {
        return new Frame(UNLOAD).u32(pluginId);
    }

    static Frame run(Run r) {
        Frame f = new Frame(RUN).u32(r.runId()).u32(r.pluginId()).str(r.jobKey()).str(r.jobName()).str(r.pluginRef()).u32(r.args().size());
        r.args().forEach(f::str);
        return f.i64(r.timeoutMillis()).i64(r.cpuMillis()).i64(r.graceMillis()).i64(r.outputMax()).u32(r.maxSamples()).i64(r.maxBytes())
                .i64(r.mem()).optStr(r.sampler());
    }

    static Frame ping(long seq) {
        return new Frame(PING).i64(seq);
    }

    /** The liveness the agent will hold the host to, in milliseconds. */
    static long readHello(Frame f) throws ProtocolException {
        expect(f, HELLO);
        checkMagicAndVersion(f);
        long liveness = f.nonNegative("liveness");
        f.end();
        return liveness;
    }

    static Load readLoad(Frame f) throws ProtocolException {
        long id = f.u32();
        int kind = f.u8();
        String file = f.str(MAX_ARG, "plugin path");
        if (kind == KIND_GROOVY) {
            String main = f.str(MAX_NAME, "class name");
            int n = f.count(MAX_CLASSES, "classes");
            Map<String, byte[]> classes = new LinkedHashMap<>();
            for (int i = 0; i < n; i++) {
                classes.put(f.str(MAX_NAME, "class name"), f.bytes(MAX_PLUGIN_BYTES, "class"));
            }
            f.end();
            return new Load(id, kind, file, main, classes, null);
        }
        if (kind == KIND_JAR) {
            byte[] jar = f.bytes(MAX_PLUGIN_BYTES, "JAR");
            f.end();
            return new Load(id, kind, file, null, Map.of(), jar);
        }
        if (kind == KIND_EXEC) {
            byte[] bytes = f.bool() ? f.bytes(MAX_PLUGIN_BYTES, "executable") : null;
            f.end();
            return new Load(id, kind, file, null, Map.of(), bytes);
        }
        throw new ProtocolException("plugin kind " + kind);
    }

    private static List<String> readArgs(Frame f) throws ProtocolException {
        int n = f.count(MAX_ARGS, "arguments");
        List<String> args = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            args.add(f.str(MAX_ARG, "argument"));
        }
        return args;
    }

    static Run readRun(Frame f) throws ProtocolException {
        long runId = f.u32();
        long pluginId = f.u32();
        String key = f.str(MAX_ARG * 4, "job key");
        String name = f.str(MAX_ARG * 4, "job name");
        String ref = f.str(MAX_ARG, "plugin reference");
        List<String> args = readArgs(f);
        long timeout = f.nonNegative("timeout");
        long cpu = f.nonNegative("cpu");
        long grace = f.nonNegative("kill grace");
        long outputMax = f.nonNegative("output max");
        int maxSamples = f.count(Integer.MAX_VALUE, "samples");
        long maxBytes = f.nonNegative("max bytes");
        long mem = f.nonNegative("mem");
        String sampler = f.optStr(MAX_NAME, "sampler");
        f.end();
        return new Run(runId, pluginId, key, name, ref, args, timeout, cpu, grace, outputMax, maxSamples, maxBytes, mem, sampler);
    }

    // ---------------------------------------------------------------- host to agent

    record Loaded(long pluginId, boolean ok, List<String> samplers, String message, String fix) {
    }

    record Result(long runId, Ending ending, String error, boolean abandoned, long wallNanos, long cpuNanos, long allocatedBytes,
                  boolean truncated, int threadsLeft, String threads, boolean outOfMemory) {
    }

    /** What the host says of itself: untrusted, used in messages only (and the pid checked where the agent knows it). */
    record Ready(long pid, long maxHeap) {
    }

    static Frame ready(long pid, long maxHeap) {
        return new Frame(READY).i32(MAGIC).u16(VERSION).i64(pid).i64(maxHeap);
    }

    static Frame loaded(long pluginId, List<String> samplers) {
        Frame f = new Frame(LOADED).u32(pluginId).bool(true).u32(samplers.size());
        samplers.forEach(f::str);
        return f;
    }

    static Frame loadFailed(long pluginId, String message, String fix) {
        return new Frame(LOADED).u32(pluginId).bool(false).str(cut(message, MAX_TEXT)).optStr(fix == null ? null : cut(fix, MAX_TEXT));
    }

    static Frame started(long runId) {
        return new Frame(STARTED).u32(runId);
    }

    /** A SAMPLE frame, or null if the measurement is too big for one (the host then counts it as dropped). */
    static Frame sample(long runId, Measurement m) {
        Frame f = new Frame(SAMPLE).u32(runId).i64(m.timeMillis()).str(m.metric()).u8(statusCode(m.status())).optStr(m.message());
        f.u32(m.values().size());
        m.values().forEach((k, v) -> f.str(k).f64(v));
        f.u32(m.units().size());
        m.units().forEach((k, v) -> f.str(k).str(v));
        f.u32(m.tags().size());
        m.tags().forEach((k, v) -> f.str(k).str(v));
        return f.payloadSize() + 1 > MAX_FROM_HOST ? null : f;
    }

    static Frame log(long runId, boolean warn, String text) {
        return new Frame(LOG).u32(runId).u8(warn ? 2 : 1).str(cut(text, MAX_TEXT));
    }

    static Frame result(Result r) {
        return new Frame(RESULT).u32(r.runId()).u8(r.ending().ordinal()).optStr(r.error() == null ? null : cut(r.error(), MAX_TEXT))
                .bool(r.abandoned()).i64(r.wallNanos()).i64(r.cpuNanos()).i64(r.allocatedBytes()).bool(r.truncated()).u32(r.threadsLeft())
                .optStr(r.threads() == null ? null : cut(r.threads(), MAX_TEXT)).bool(r.outOfMemory());
    }

    static Frame execOutput(long runId, byte[] chunk, int off, int len) {
        return new Frame(EXEC_OUTPUT).u32(runId).bytes(java.util.Arrays.copyOfRange(chunk, off, off + len));
    }

    static Frame execResult(ExecResult r) {
        return new Frame(EXEC_RESULT).u32(r.runId()).u8(r.ending()).i32(r.exitCode()).optStr(r.detail() == null ? null : cut(r.detail(), MAX_TEXT))
                .bool(r.truncated()).str(cut(r.stderr(), MAX_STDERR)).i64(r.wallNanos()).i64(r.cpuNanos());
    }

    /** The run id and the chunk of an EXEC_OUTPUT frame. */
    static Map.Entry<Long, byte[]> readExecOutput(Frame f) throws ProtocolException {
        long runId = f.u32();
        byte[] chunk = f.bytes(MAX_OUTPUT_CHUNK, "output chunk");
        f.end();
        return Map.entry(runId, chunk);
    }

    /** @param endings how many endings there are ({@code ExecOutcome.Ending}); one past them is an error */
    static ExecResult readExecResult(Frame f, int endings) throws ProtocolException {
        long runId = f.u32();
        int e = f.u8();
        if (e >= endings) {
            throw new ProtocolException("exec ending " + e);
        }
        int code = f.i32();
        if (code < -1 || code > 255) {
            throw new ProtocolException("exit code " + code);
        }
        String detail = f.optStr(MAX_TEXT, "detail");
        boolean truncated = f.bool();
        String stderr = f.str(MAX_STDERR, "standard error");
        long wall = f.nonNegative("wall time");
        long cpu = f.i64();
        f.end();
        return new ExecResult(runId, e, code, detail, truncated, stderr, wall, cpu);
    }

    static Frame pong(long seq) {
        return new Frame(PONG).i64(seq);
    }

    static Frame ending(long runId, Why why) {
        return new Frame(ENDING).u32(runId).u8(why.ordinal());
    }

    static Ready readReady(Frame f) throws ProtocolException {
        expect(f, READY);
        checkMagicAndVersion(f);
        long pid = f.i64();
        long heap = f.nonNegative("heap");
        f.end();
        return new Ready(pid, heap);
    }

    static Loaded readLoaded(Frame f) throws ProtocolException {
        long id = f.u32();
        if (f.bool()) {
            int n = f.count(MAX_CLASSES, "samplers");
            List<String> samplers = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                samplers.add(f.str(MAX_NAME, "sampler class"));
            }
            f.end();
            return new Loaded(id, true, samplers, null, null);
        }
        String message = f.str(MAX_TEXT, "load error");
        String fix = f.optStr(MAX_TEXT, "fix");
        f.end();
        return new Loaded(id, false, List.of(), message, fix);
    }

    /** The run id and measurement of a SAMPLE frame; field checks only (the agent's collector validates names and values). */
    static Map.Entry<Long, Measurement> readSample(Frame f) throws ProtocolException {
        long runId = f.u32();
        long time = f.i64();
        String metric = f.str(MAX_NAME, "metric name");
        int code = f.u8();
        if (code >= MEASUREMENT_STATUSES.length) {
            throw new ProtocolException("sample status " + code);
        }
        String message = f.optStr(MAX_MESSAGE, "sample message");
        int nv = f.count(MAX_ITEMS, "values");
        Map<String, Double> values = new LinkedHashMap<>();
        for (int i = 0; i < nv; i++) {
            values.put(f.str(MAX_NAME, "value name"), f.f64());
        }
        int nu = f.count(MAX_ITEMS, "units");
        Map<String, String> units = new LinkedHashMap<>();
        for (int i = 0; i < nu; i++) {
            units.put(f.str(MAX_NAME, "unit's value name"), f.str(MAX_NAME, "unit"));
        }
        int nt = f.count(MAX_ITEMS, "tags");
        Map<String, String> tags = new LinkedHashMap<>();
        for (int i = 0; i < nt; i++) {
            tags.put(f.str(MAX_NAME, "tag name"), f.str(MAX_TAG_VALUE, "tag value"));
        }
        f.end();
        return Map.entry(runId, new Measurement(time, metric, MEASUREMENT_STATUSES[code], message, values, units, tags));
    }

    static Result readResult(Frame f) throws ProtocolException {
        long runId = f.u32();
        int e = f.u8();
        if (e >= Ending.values().length) {
            throw new ProtocolException("run ending " + e);
        }
        String error = f.optStr(MAX_TEXT, "error");
        boolean abandoned = f.bool();
        long wall = f.nonNegative("wall time");
        long cpu = f.i64();
        long allocated = f.i64();
        boolean truncated = f.bool();
        int left = f.count(Integer.MAX_VALUE, "threads left");
        String threads = f.optStr(MAX_TEXT, "threads");
        boolean oom = f.bool();
        f.end();
        return new Result(runId, Ending.values()[e], error, abandoned, wall, cpu, allocated, truncated, left, threads, oom);
    }

    static Why readEndingWhy(Frame f) throws ProtocolException {
        int w = f.u8();
        if (w >= Why.values().length) {
            throw new ProtocolException("ending reason " + w);
        }
        return Why.values()[w];
    }

    // ---------------------------------------------------------------- shared

    static void expect(Frame f, int type) throws ProtocolException {
        if (f == null) {
            throw new ProtocolException("the stream ended before the handshake");
        }
        if (f.type() != type) {
            throw new ProtocolException("message type " + f.type() + " where " + type + " was expected");
        }
    }

    private static void checkMagicAndVersion(Frame f) throws ProtocolException {
        int magic = f.i32();
        if (magic != MAGIC) {
            throw new ProtocolException("not the plugin host protocol (magic " + Integer.toHexString(magic) + ")");
        }
        int version = f.u16();
        if (version != VERSION) {
            throw new ProtocolException("protocol version " + version + "; this side speaks " + VERSION);
        }
    }

    private static int statusCode(Status s) {
        for (int i = 0; i < MEASUREMENT_STATUSES.length; i++) {
            if (MEASUREMENT_STATUSES[i] == s) {
                return i;
            }
        }
        return 4; // error: the host adds it for invalid samples; nothing else reaches here
    }

    /** {@code s} short enough to stay within {@code maxBytes} of UTF-8 (at most 3 bytes per char, plus "..."). */
    static String cut(String s, int maxBytes) {
        int chars = maxBytes / 3 - 1;
        return s.length() <= chars ? s : s.substring(0, chars) + "...";
    }
}
