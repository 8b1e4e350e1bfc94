package io.aegisquartz.output.kafka;

import io.aegisquartz.log.LogText;
import io.aegisquartz.output.Item;
import io.aegisquartz.output.Output;
import io.aegisquartz.output.SendResult;
import io.aegisquartz.output.kafka.bridge.KafkaBridge;

import java.util.ArrayList;
import java.util.List;

/**
 * Samples to a Kafka topic (docs/OUTPUTS.md, "kafka"): one record per sample as {@link KafkaRecords}
 * makes it, produced by the official client (idempotent, acks=all) through a {@link KafkaBridge} in
 * the client's own class loader. A batch is sent only when every record of it is acknowledged; the
 * client's failures become the worker's results: retriable ones a retry, a record over the size
 * limit a split, authentication and authorization a retry of kind auth, an invalid record a
 * rejection of that sample.
 */
public final class KafkaOutput implements Output<KafkaRecords.Batch> {

    public static final String TYPE = "kafka";

    private final String name;
    private final String topic;
    private final KafkaBridge client;

    public KafkaOutput(String name, String topic, KafkaBridge client) {
        this.name = name;
        this.topic = topic;
        this.client = client;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public KafkaRecords.Batch encode(List<Item> items) {
        List<byte[]> samples = new ArrayList<>(items.size());
        for (Item i : items) {
            samples.add(i.json());
        }
        return KafkaRecords.of(samples);
    }

    @Override
    public SendResult send(KafkaRecords.Batch batch) throws InterruptedException {
        SendResult.Rejected refused = batch.report().rejection();
        if (refused != null) {
            return refused; // before anything is sent: the worker dead-letters these and sends the rest again
        }
        List<KafkaBridge.Message> messages = new ArrayList<>(batch.records().size());
        for (KafkaRecords.Record r : batch.records()) {
            messages.add(new KafkaBridge.Message(r.key(), r.value(), r.status(), r.metric()));
        }
        return classify(client.send(topic, messages), messages.size());
    }

    /** The worker's result for the client's failures (docs/OUTPUTS.md, "kafka", "Answers"). */
    static SendResult classify(List<KafkaBridge.Failure> failures, int records) {
        if (failures.isEmpty()) {
            return new SendResult.Accepted(0);
        }
        KafkaBridge.Failure first = failures.get(0);
        for (KafkaBridge.Failure f : failures) {
            if (f.kind() == KafkaBridge.Kind.AUTH) {
                return new SendResult.Retry(null, "Kafka refuses our credentials or permissions: " + what(f)
                        + "; check sasl_mechanism, the credentials file and the topic's ACLs", "auth");
            }
        }
        List<SendResult.Rejection> rejected = new ArrayList<>();
        boolean tooLarge = false;
        boolean retry = false;
        for (KafkaBridge.Failure f : failures) {
            switch (f.kind()) {
                case REJECTED -> rejected.add(new SendResult.Rejection(f.index(), "Kafka refuses the record: " + what(f)));
                case TOO_LARGE -> tooLarge = true;
                default -> retry = true;
            }
        }
        String counted = failures.size() + " of " + records + " record(s) not acknowledged, the first: " + what(first);
        if (retry) {
            return new SendResult.Retry(null, counted, first.kind() == KafkaBridge.Kind.RETRIABLE ? "network" : "kafka");
        }
        if (tooLarge) {
            return new SendResult.TooLarge(0, counted);
        }
        return new SendResult.Rejected(rejected, 0, counted);
    }

    private static String what(KafkaBridge.Failure f) {
        return f.exception() + ": " + LogText.escape(f.message(), 300);
    }

    @Override
    public void close() {
        client.close();
    }
}
