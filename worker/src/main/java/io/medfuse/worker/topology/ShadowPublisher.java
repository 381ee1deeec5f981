package io.medfuse.worker.topology;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Function;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.medfuse.events.ImagingRequest;
import io.medfuse.events.Prediction;
import io.medfuse.worker.metrics.WorkerMetrics;
import io.medfuse.worker.pipeline.ModelGeneration;
import io.medfuse.worker.pipeline.Outcome;
import io.medfuse.worker.pipeline.RequestPipeline;

/**
 * Sends the shadow model's predictions to their own topic ({@code model.shadow.topic}), keyed by request id, as the
 * same Prediction events the predictions topic carries (their model names the shadow). Outside the worker's
 * transactions on purpose: a shadow must never hold up or abort a real answer. So the topic is at least once: a
 * request taken again after a crash may be shadowed again, with the same predictionId. A send that fails is logged
 * and counted, nothing else.
 */
public final class ShadowPublisher implements RequestPipeline.ShadowSink, AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(ShadowPublisher.class);

    private final KafkaProducer<String, byte[]> producer;
    private final String topic;
    private final Function<Prediction, byte[]> serializer;
    private final WorkerMetrics metrics;
    private final java.util.concurrent.atomic.AtomicLong lastWarning = new java.util.concurrent.atomic.AtomicLong(
            System.nanoTime() - 120_000_000_000L);

    public ShadowPublisher(Map<String, Object> clientProps, String topic, Function<Prediction, byte[]> serializer,
                           WorkerMetrics metrics) {
        Map<String, Object> p = new HashMap<>(clientProps);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.LINGER_MS_CONFIG, 20);
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        this.producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
        this.topic = topic;
        this.serializer = serializer;
        this.metrics = metrics;
    }

    @Override
    public void predicted(ImagingRequest request, Outcome.Predicted shadow) {
        byte[] value;
        try {
            Prediction p = InferenceProcessor.prediction(request.getRequestId(), RequestDigest.of(request),
                    request.getRequestedAt(), shadow);
            value = serializer.apply(p);
        } catch (RuntimeException e) {
            // a registry that refuses the shadow's subject, say: counted, never more than one line per minute
            metrics.shadowFailed();
            long now = System.nanoTime();
            long last = lastWarning.get();
            if (now - last > 60_000_000_000L && lastWarning.compareAndSet(last, now)) {
                LOG.warn("a shadow prediction could not be serialized for {}: {}", topic, e.toString());
            }
            return;
        }
        producer.send(new ProducerRecord<>(topic, request.getRequestId(), value), (m, e) -> {
            if (e != null) {
                metrics.shadowFailed();
                LOG.warn("a shadow prediction could not be sent to {}: {}", topic, e.toString());
            } else {
                metrics.shadowPredicted();
            }
        });
    }

    @Override
    public void failed(ImagingRequest request, ModelGeneration shadow, Throwable error) {
        metrics.shadowFailed();
        LOG.debug("the shadow {} failed on a request: {}", shadow, error.toString());
    }

    @Override
    public void close() {
        producer.close(Duration.ofSeconds(10));
    }
}
