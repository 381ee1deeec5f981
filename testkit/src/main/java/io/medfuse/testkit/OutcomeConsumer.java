package io.medfuse.testkit;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.function.Consumer;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.medfuse.events.FailedRequest;
import io.medfuse.events.Prediction;
import io.medfuse.events.registry.SchemaRegistryClient;
import io.medfuse.events.serde.ConfluentAvroCodec;

/**
 * Reads the predictions and dead-letter topics as its own consumer group under {@code read_committed} (so only
 * answers of committed transactions are seen) and hands each decoded event to a listener on its own thread. For
 * the demo, monitoring and tests.
 */
public final class OutcomeConsumer implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(OutcomeConsumer.class);

    /** Receives events on the consumer's thread. */
    public interface Listener {
        void prediction(Prediction prediction, long receivedAtMillis);

        void deadLetter(FailedRequest failed, long receivedAtMillis);
    }

    private final KafkaConsumer<String, byte[]> consumer;
    private final ConfluentAvroCodec<Prediction> predictions;
    private final ConfluentAvroCodec<FailedRequest> deadLetters;
    private final String predictionsTopic;
    private final Thread thread;
    private volatile boolean running = true;

    /**
     * Starts consuming from the beginning of both topics, as a consumer group of its own.
     *
     * @param clientOverrides extra consumer settings (security)
     */
    public OutcomeConsumer(String bootstrap, SchemaRegistryClient registry, String predictionsTopic,
                           String deadLettersTopic, Map<String, Object> clientOverrides, Listener listener) {
        this(bootstrap, registry, predictionsTopic, deadLettersTopic, clientOverrides, listener, false);
    }

    /**
     * Reads every partition of both topics from the beginning with assigned partitions, without a consumer group,
     * and hands each record to the listener once by its topic, partition and offset. For readers that must survive
     * a broker restart: a group without committed offsets would be reset to the beginning and see every answer
     * twice.
     */
    public static OutcomeConsumer withoutGroup(String bootstrap, SchemaRegistryClient registry,
                                               String predictionsTopic, String deadLettersTopic, Listener listener) {
        return new OutcomeConsumer(bootstrap, registry, predictionsTopic, deadLettersTopic, Map.of(), listener, true);
    }

    private OutcomeConsumer(String bootstrap, SchemaRegistryClient registry, String predictionsTopic,
                            String deadLettersTopic, Map<String, Object> clientOverrides, Listener listener,
                            boolean assigned) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        if (assigned) {
            p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        } else {
            p.put(ConsumerConfig.GROUP_ID_CONFIG, "medfuse-outcome-reader-" + UUID.randomUUID());
            // committed positions: a broker restart (which resets the group's fetch state) does not replay it all
            p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, true);
            p.put(ConsumerConfig.AUTO_COMMIT_INTERVAL_MS_CONFIG, 1000);
        }
        p.putAll(clientOverrides);
        this.consumer = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer());
        this.predictions = new ConfluentAvroCodec<>(registry, Prediction.class, false);
        this.deadLetters = new ConfluentAvroCodec<>(registry, FailedRequest.class, false);
        this.predictionsTopic = predictionsTopic;
        if (assigned) {
            List<TopicPartition> partitions = new ArrayList<>();
            for (String topic : List.of(predictionsTopic, deadLettersTopic)) {
                for (PartitionInfo info : consumer.partitionsFor(topic, Duration.ofSeconds(30))) {
                    partitions.add(new TopicPartition(topic, info.partition()));
                }
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
        } else {
            consumer.subscribe(List.of(predictionsTopic, deadLettersTopic));
        }
        Set<String> seen = assigned ? new HashSet<>() : null;
        this.thread = new Thread(() -> loop(listener, seen), "medfuse-outcome-reader");
        this.thread.setDaemon(true);
        this.thread.start();
    }

    private void loop(Listener listener, Set<String> seen) {
        try {
            while (running) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(100))) {
                    if (seen != null && !seen.add(r.topic() + "/" + r.partition() + "/" + r.offset())) {
                        continue;
                    }
                    long now = System.currentTimeMillis();
                    try {
                        if (r.topic().equals(predictionsTopic)) {
                            listener.prediction(predictions.decode(r.value()), now);
                        } else {
                            listener.deadLetter(deadLetters.decode(r.value()), now);
                        }
                    } catch (RuntimeException e) {
                        LOG.warn("cannot read {}-{}@{}: {}", r.topic(), r.partition(), r.offset(), e.getMessage());
                    }
                }
            }
        } catch (WakeupException e) {
            // closing
        } finally {
            consumer.close(org.apache.kafka.clients.consumer.CloseOptions.timeout(Duration.ofSeconds(5)));
        }
    }

    /** A listener that only counts, plus a callback per event. */
    public static Listener of(Consumer<Prediction> onPrediction, Consumer<FailedRequest> onDeadLetter) {
        return new Listener() {
            @Override
            public void prediction(Prediction prediction, long receivedAtMillis) {
                onPrediction.accept(prediction);
            }

            @Override
            public void deadLetter(FailedRequest failed, long receivedAtMillis) {
                onDeadLetter.accept(failed);
            }
        };
    }

    @Override
    public void close() {
        running = false;
        consumer.wakeup();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
