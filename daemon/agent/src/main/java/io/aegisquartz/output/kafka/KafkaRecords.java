package io.aegisquartz.output.kafka;

import io.aegisquartz.output.EncodeReport;
import io.aegisquartz.output.StoredSample;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The Kafka records of a batch (docs/OUTPUTS.md, "kafka"): one per sample, key = the host uuid (so
 * one host's samples go to one partition, in order), value = the sample's JSON exactly as stored
 * (docs/SAMPLES.md), headers {@code status} and {@code metric} (so consumers can route without
 * parsing). Plain data: nothing here touches the Kafka client's classes.
 */
public final class KafkaRecords {

    /** Header names. */
    public static final String STATUS_HEADER = "status";
    public static final String METRIC_HEADER = "metric";

    /** One record: its index in the batch, key, value and header values (UTF-8). */
    public record Record(int index, byte[] key, byte[] value, byte[] status, byte[] metric) {
    }

    /** The records of a batch, and the samples that are not samples (refused). */
    public record Batch(List<Record> records, EncodeReport report) {
    }

    private KafkaRecords() {
    }

    public static Batch of(List<byte[]> samples) {
        List<Record> records = new ArrayList<>(samples.size());
        EncodeReport report = new EncodeReport();
        for (int i = 0; i < samples.size(); i++) {
            byte[] json = samples.get(i);
            StoredSample s;
            try {
                s = StoredSample.parse(json);
            } catch (StoredSample.NotASample e) {
                report.refuse(i, "not a sample: " + e.getMessage());
                continue;
            }
            if (!StoredSample.validUnicode(s.hostUuid()) || !StoredSample.validUnicode(s.status())
                    || !StoredSample.validUnicode(s.metric())) {
                // The value goes as stored (JSON escapes anything), but the key and headers are UTF-8.
                report.refuse(i, "its host uuid, status or metric is not valid Unicode");
                continue;
            }
            records.add(new Record(i, utf8(s.hostUuid()), json, utf8(s.status()), utf8(s.metric())));
        }
        return new Batch(records, report);
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
