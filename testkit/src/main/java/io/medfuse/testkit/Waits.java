package io.medfuse.testkit;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;

/**
 * How tests wait: poll a condition with a deadline (Awaitility), or read a topic to its end, never sleep and hope.
 * "No duplicate arrived" is shown by {@link #awaitCommitted} then {@link #committedRecords}: once a consumer group
 * has committed every input record, everything it answered is in the output topics, and counting them to their last
 * stable offset counts every answer committed so far. With medfuse's pending store an offset can commit before its
 * answer (the request waits in a batch, covered by its pending entry), so wait for every answer first and count
 * after: a count above the requests sent is then a duplicate.
 */
public final class Waits {

    private Waits() {
    }

    /** Polls {@code condition} every 100 ms until it holds or {@code timeout} passes; whether it held. */
    public static boolean until(BooleanSupplier condition, Duration timeout) {
        try {
            Awaitility.await().atMost(timeout).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(100))
                    .until(condition::getAsBoolean);
            return true;
        } catch (ConditionTimeoutException e) {
            return condition.getAsBoolean();
        }
    }

    /**
     * Waits until consumer group {@code group} has committed, on every partition of {@code topic}, the topic's end
     * offset as it is now: every record written so far was processed, and (with exactly-once) its answers were
     * committed with it.
     *
     * @return whether it happened within {@code timeout}
     */
    public static boolean awaitCommitted(Properties client, String group, String topic, Duration timeout) {
        try (Admin admin = Admin.create(client)) {
            Map<TopicPartition, Long> ends = endOffsets(admin, topic);
            return until(() -> {
                Map<TopicPartition, OffsetAndMetadata> committed;
                try {
                    committed = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata()
                            .get(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return false;
                } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
                    return false;
                }
                return ends.entrySet().stream().allMatch(e -> e.getValue() == 0 || committed.get(e.getKey()) != null
                        && committed.get(e.getKey()).offset() >= e.getValue());
            }, timeout);
        }
    }

    /**
     * The sum over {@code topic}'s partitions of the offsets consumer group {@code group} has committed: how many
     * records the group has taken in (with exactly-once, a record counts once the transaction that took it commits).
     * 0 when nothing is committed yet.
     */
    public static long committedOffsets(Admin admin, String group, String topic) {
        try {
            return admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get(10, TimeUnit.SECONDS)
                    .entrySet().stream().filter(e -> e.getKey().topic().equals(topic) && e.getValue() != null)
                    .mapToLong(e -> e.getValue().offset()).sum();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("cannot read the committed offsets of " + group + ": " + e, e);
        }
    }

    /**
     * Counts the committed records of {@code topics} by reading them from the start to their last stable offset
     * (read_committed): aborted and open transactions are not counted.
     */
    public static long committedRecords(Properties client, Duration timeout, String... topics) {
        Properties p = new Properties();
        p.putAll(client);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, IsolationLevel.READ_COMMITTED.toString().toLowerCase(
                java.util.Locale.ROOT));
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, 16 * 1024 * 1024);
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = new ArrayList<>();
            for (String topic : topics) {
                consumer.partitionsFor(topic, timeout).forEach(i -> partitions.add(new TopicPartition(topic,
                        i.partition())));
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> ends = consumer.endOffsets(partitions, timeout);
            long count = 0;
            long deadline = System.nanoTime() + timeout.toNanos();
            while (partitions.stream().anyMatch(tp -> consumer.position(tp, timeout) < ends.get(tp))) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("could not read " + List.of(topics) + " to their end offsets "
                            + ends + " within " + timeout);
                }
                count += consumer.poll(Duration.ofMillis(200)).count();
            }
            return count;
        }
    }

    private static Map<TopicPartition, Long> endOffsets(Admin admin, String topic) {
        try {
            var description = admin.describeTopics(List.of(topic)).allTopicNames().get(30, TimeUnit.SECONDS)
                    .get(topic);
            Map<TopicPartition, OffsetSpec> latest = new java.util.HashMap<>();
            description.partitions().forEach(i -> latest.put(new TopicPartition(topic, i.partition()),
                    OffsetSpec.latest()));
            Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> r = admin.listOffsets(latest).all()
                    .get(30, TimeUnit.SECONDS);
            Map<TopicPartition, Long> ends = new java.util.HashMap<>();
            r.forEach((tp, info) -> ends.put(tp, info.offset()));
            return ends;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("cannot read the end offsets of " + topic + ": " + e, e);
        }
    }
}
