package io.medfuse.worker.topology;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.function.Supplier;

import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.Serializer;

import io.medfuse.events.FailedRequest;
import io.medfuse.events.FailureReason;
import io.medfuse.events.ModelIdentity;
import io.medfuse.events.Prediction;

/**
 * Serializes the worker's two kinds of answer, within the output topics' size limits, for the topology and for
 * Kafka Streams' error handlers (which answer with a dead letter too). A Prediction larger than the predictions
 * topic takes becomes an ANSWER_TOO_LARGE dead letter; a dead letter whose original record would make it too large
 * is sent without the original. Every answer carries a {@value #SOURCE_HEADER} header, {@code topic/partition/offset}
 * of its request, so an answer can be traced to its request without reading it. Thread-safe.
 */
public final class Answers {

    /** Header on every answer: where its request was read. */
    public static final String SOURCE_HEADER = "medfuse-source";

    /** The key under which Kafka Streams' error handlers find this object in the Streams configuration. */
    public static final String CONFIG_KEY = "medfuse.answers";

    private final TopologySettings settings;
    private final Serializer<Prediction> predictions;
    private final Serializer<FailedRequest> deadLetters;
    private final Supplier<ModelIdentity> model;

    public Answers(TopologySettings settings, Serializer<Prediction> predictions,
                   Serializer<FailedRequest> deadLetters, Supplier<ModelIdentity> model) {
        this.settings = settings;
        this.predictions = predictions;
        this.deadLetters = deadLetters;
        this.model = model;
    }

    /**
     * The instance Kafka Streams' error handlers find in their configuration.
     *
     * @throws IllegalStateException when the worker did not put one there
     */
    static Answers from(java.util.Map<String, ?> configs) {
        if (configs.get(CONFIG_KEY) instanceof Answers a) {
            return a;
        }
        throw new IllegalStateException(CONFIG_KEY + " is missing from the Kafka Streams settings");
    }

    public TopologySettings settings() {
        return settings;
    }

    /** A serialized answer and the topic it goes to. */
    record Serialized(String topic, byte[] value, FailureReason reason) {
        boolean isPrediction() {
            return reason == null;
        }
    }

    /** The prediction's bytes, or an ANSWER_TOO_LARGE dead letter's when the predictions topic would refuse it. */
    Serialized prediction(Prediction p, String sourceTopic, int partition, long offset) {
        byte[] bytes = predictions.serialize(settings.predictionsTopic(), p);
        if (bytes.length <= settings.predictionsMaxBytes()) {
            return new Serialized(settings.predictionsTopic(), bytes, null);
        }
        return deadLetter(p.getRequestId(), sourceTopic, partition, offset, FailureReason.ANSWER_TOO_LARGE,
                "the prediction has " + bytes.length + " bytes, more than the predictions topic takes ("
                        + settings.predictionsMaxBytes() + "); raise its max.message.bytes", null);
    }

    /**
     * A dead letter's bytes. The original record rides along when configured and when it fits.
     *
     * @param requestId null when the record could not be read far enough to know it
     */
    Serialized deadLetter(String requestId, String sourceTopic, int partition, long offset, FailureReason reason,
                          String detail, byte[] original) {
        boolean keep = original != null && settings.deadLetterMaxOriginalBytes() > 0
                && original.length <= settings.deadLetterMaxOriginalBytes();
        FailedRequest dead = build(requestId, sourceTopic, partition, offset, reason, detail, keep ? original : null);
        byte[] bytes = deadLetters.serialize(settings.deadLettersTopic(), dead);
        if (keep && bytes.length > settings.deadLettersMaxBytes()) {
            dead = build(requestId, sourceTopic, partition, offset, reason, detail + " (the original record, "
                    + original.length + " bytes, is left out: the dead-letter topic would refuse it)", null);
            bytes = deadLetters.serialize(settings.deadLettersTopic(), dead);
        }
        return new Serialized(settings.deadLettersTopic(), bytes, reason);
    }

    private FailedRequest build(String requestId, String topic, int partition, long offset, FailureReason reason,
                                String detail, byte[] original) {
        return FailedRequest.newBuilder()
                .setRequestId(requestId)
                .setReason(reason)
                .setDetail(detail == null ? reason.name() : detail)
                .setSourceTopic(topic)
                .setSourcePartition(partition)
                .setSourceOffset(offset)
                .setFailedAt(Instant.ofEpochMilli(System.currentTimeMillis()))
                .setModel(model.get())
                .setOriginalBytes(original == null ? null : ByteBuffer.wrap(original))
                .build();
    }

    /** The {@value #SOURCE_HEADER} header for a request read at {@code topic/partition/offset}. */
    static Headers sourceHeaders(String topic, int partition, long offset) {
        Headers h = new RecordHeaders();
        h.add(SOURCE_HEADER, (topic + "/" + partition + "/" + offset).getBytes(StandardCharsets.UTF_8));
        return h;
    }
}
