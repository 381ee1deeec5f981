package io.medfuse.worker.topology;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableSet;
import java.util.Objects;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.streams.errors.StreamsException;

/**
 * Where a pending request's record is read again after a restart: the pending store keeps only its coordinates (the
 * offset, in the task's partition of the requests topic), not its bytes, so each image reaches the broker once
 * (issue 13, ADR 0001 amended).
 */
@FunctionalInterface
public interface PendingSource {

    /**
     * The values of the records at {@code offsets} of {@code topic}-{@code partition}, read committed. An offset
     * missing from the answer is no longer in the topic (retention or deleted records).
     *
     * @throws StreamsException when the topic could not be read within the time allowed: the task is not started
     *                          and Kafka Streams tries again, nothing is answered wrongly
     */
    Map<Long, byte[]> read(String topic, int partition, NavigableSet<Long> offsets);

    /** Reads with a consumer of its own (no group, read_committed), opened for each call: restores are rare. */
    static PendingSource kafka(Map<String, Object> clientProps, Duration timeout) {
        Map<String, Object> base = new HashMap<>(clientProps);
        base.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        base.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        base.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, 8 * 1024 * 1024);
        base.remove(ConsumerConfig.GROUP_ID_CONFIG);
        Objects.requireNonNull(timeout, "timeout");
        return (topic, partition, offsets) -> {
            Map<String, Object> props = new HashMap<>(base);
            props.put(ConsumerConfig.CLIENT_ID_CONFIG, "medfuse-pending-" + topic + "-" + partition);
            TopicPartition tp = new TopicPartition(topic, partition);
            Map<Long, byte[]> found = new HashMap<>();
            long deadline = System.nanoTime() + timeout.toNanos();
            try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props, new ByteArrayDeserializer(),
                    new ByteArrayDeserializer())) {
                consumer.assign(List.of(tp));
                long begin = consumer.beginningOffsets(List.of(tp), timeout).get(tp);
                long end = consumer.endOffsets(List.of(tp), timeout).get(tp);
                long last = offsets.last();
                NavigableSet<Long> wanted = offsets.tailSet(begin, true);
                if (wanted.isEmpty() || wanted.first() >= end) {
                    return found;
                }
                consumer.seek(tp, wanted.first());
                while (consumer.position(tp, timeout) <= Math.min(last, end - 1)) {
                    if (System.nanoTime() > deadline) {
                        throw new StreamsException("the pending requests of " + tp + " could not be read again "
                                + "within " + timeout.toSeconds() + " s (" + found.size() + " of " + wanted.size()
                                + " read); the task will be tried again");
                    }
                    for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                        if (wanted.contains(r.offset()) && r.value() != null) {
                            found.put(r.offset(), r.value());
                        }
                    }
                }
                return found;
            } catch (StreamsException e) {
                throw e;
            } catch (org.apache.kafka.common.KafkaException e) {
                throw new StreamsException("the pending requests of " + tp + " could not be read again: " + e, e);
            }
        };
    }
}
