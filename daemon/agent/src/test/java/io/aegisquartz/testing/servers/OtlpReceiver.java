package io.aegisquartz.testing.servers;

import com.google.protobuf.util.JsonFormat;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.opentelemetry.proto.collector.metrics.v1.ExportMetricsPartialSuccess;
import io.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest;
import io.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * An OTLP/HTTP metrics receiver for tests, on 127.0.0.1 (no OTLP server is packaged for the test
 * machine: Prometheus 2.42 and VictoriaMetrics 1.79 predate their OTLP receivers). It decodes every
 * request with the official {@code opentelemetry-proto} classes (protobuf, or JSON with protobuf's
 * JsonFormat, as the Content-Type says), keeps what it stored, and answers as told: 200 (with a
 * partial success if set) or any status with a {@code google.rpc.Status}-shaped body and Retry-After.
 */
public final class OtlpReceiver implements AutoCloseable {

    private final HttpServer server;
    private final List<ExportMetricsServiceRequest> stored = new ArrayList<>();
    private int status = 200;
    private String retryAfter;
    private long partialRejected;
    private String partialMessage = "";
    private int requests;
    private String authorization;

    private OtlpReceiver(HttpServer server) {
        this.server = server;
    }

    /** Starts on a free port. */
    public static OtlpReceiver start() throws IOException {
        HttpServer s = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
        OtlpReceiver r = new OtlpReceiver(s);
        s.createContext("/v1/metrics", r::handle);
        s.start();
        return r;
    }

    /** http://127.0.0.1:PORT/v1/metrics */
    public String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/v1/metrics";
    }

    /** From now on, answer {@code status} (200: store), with Retry-After if not null. */
    public synchronized void answer(int status, String retryAfter) {
        this.status = status;
        this.retryAfter = retryAfter;
    }

    /** From now on, a 200 says that {@code rejected} data points were rejected, with {@code message}. */
    public synchronized void partialSuccess(long rejected, String message) {
        this.partialRejected = rejected;
        this.partialMessage = message;
    }

    /** The requests stored so far. */
    public synchronized List<ExportMetricsServiceRequest> stored() {
        return new ArrayList<>(stored);
    }

    /** The Authorization header of the last request, or null. */
    public synchronized String authorization() {
        return authorization;
    }

    public synchronized int requests() {
        return requests;
    }

    private void handle(HttpExchange x) throws IOException {
        try (x) {
            byte[] body;
            try (InputStream in = x.getRequestBody()) {
                body = in.readAllBytes();
            }
            boolean json = String.valueOf(x.getRequestHeaders().getFirst("Content-Type")).startsWith("application/json");
            byte[] answer;
            int code;
            synchronized (this) {
                requests++;
                authorization = x.getRequestHeaders().getFirst("Authorization");
                code = status;
                if (code == 200) {
                    ExportMetricsServiceRequest req;
                    if (json) {
                        ExportMetricsServiceRequest.Builder b = ExportMetricsServiceRequest.newBuilder();
                        JsonFormat.parser().merge(new String(body, StandardCharsets.UTF_8), b);
                        req = b.build();
                    } else {
                        req = ExportMetricsServiceRequest.parseFrom(body);
                    }
                    stored.add(req);
                    ExportMetricsServiceResponse.Builder r = ExportMetricsServiceResponse.newBuilder();
                    if (partialRejected > 0) {
                        r.setPartialSuccess(ExportMetricsPartialSuccess.newBuilder().setRejectedDataPoints(partialRejected)
                                .setErrorMessage(partialMessage));
                    }
                    answer = json ? JsonFormat.printer().print(r.build()).getBytes(StandardCharsets.UTF_8) : r.build().toByteArray();
                } else {
                    // google.rpc.Status: code 1 (varint), message 2 (string): enough to carry a message back.
                    String message = "told to answer " + code;
                    answer = json ? ("{\"code\":3,\"message\":\"" + message + "\"}").getBytes(StandardCharsets.UTF_8)
                            : status(message);
                    if (retryAfter != null) {
                        x.getResponseHeaders().set("Retry-After", retryAfter);
                    }
                }
            }
            x.getResponseHeaders().set("Content-Type", json ? "application/json" : "application/x-protobuf");
            x.sendResponseHeaders(code, answer.length == 0 ? -1 : answer.length);
            if (answer.length > 0) {
                x.getResponseBody().write(answer);
            }
        } catch (RuntimeException e) {
            throw new IOException(e);
        }
    }

    private static byte[] status(String message) {
        byte[] m = message.getBytes(StandardCharsets.UTF_8);
        byte[] out = new byte[4 + m.length];
        out[0] = 0x08;
        out[1] = 0x03;
        out[2] = 0x12;
        out[3] = (byte) m.length;
        System.arraycopy(m, 0, out, 4, m.length);
        return out;
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
