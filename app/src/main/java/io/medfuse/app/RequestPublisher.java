package io.medfuse.app;

import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Future;
import java.util.concurrent.locks.LockSupport;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

import io.medfuse.events.ImagingRequest;
import io.medfuse.events.registry.SchemaRegistryClient;
import io.medfuse.events.serde.ConfluentAvroCodec;

/**
 * Publishes ImagingRequest events the way an imaging system would: Confluent wire format, key = request id,
 * idempotent producer, optionally paced at a fixed rate that does not slow down when the consumer does.
 */
final class RequestPublisher implements AutoCloseable {

    private final KafkaProducer<String, byte[]> producer;
    private final ConfluentAvroCodec<ImagingRequest> codec;
    private final String topic;
    private final double ratePerSecond;
    private long started = -1;
    private long sent;

    /**
     * @param ratePerSecond 0 or less: as fast as possible
     * @param clientOverrides extra producer settings (security)
     */
    RequestPublisher(String bootstrap, SchemaRegistryClient registry, String topic, double ratePerSecond,
                     Map<String, Object> clientOverrides) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, 16 * 1024 * 1024);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        p.putAll(clientOverrides);
        this.producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
        this.codec = new ConfluentAvroCodec<>(registry, ImagingRequest.class, true);
        this.topic = topic;
        this.ratePerSecond = ratePerSecond;
    }

    /** Sends one request (waiting for its slot when a rate is set). */
    Future<RecordMetadata> publish(ImagingRequest request) {
        return publishRaw(request.getRequestId(), codec.encode(topic, request));
    }

    /** Sends raw bytes as a request value (the demo's deliberately malformed records). */
    Future<RecordMetadata> publishRaw(String key, byte[] value) {
        pace();
        return producer.send(new ProducerRecord<>(topic, key, value));
    }

    private void pace() {
        long now = System.nanoTime();
        if (started < 0) {
            started = now;
        }
        if (ratePerSecond > 0) {
            long due = started + (long) (sent * 1e9 / ratePerSecond);
            while (due - System.nanoTime() > 0) {
                LockSupport.parkNanos(due - System.nanoTime());
            }
        }
        sent++;
    }

    void flush() {
        producer.flush();
    }

    @Override
    public void close() {
        producer.close();
    }
}
