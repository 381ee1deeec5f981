package io.medfuse.worker.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.medfuse.testkit.EmbeddedKafka;
import io.medfuse.testkit.SharedBroker;
import io.medfuse.worker.topology.PendingSource;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;

/**
 * The pending store keeps offsets only; a restarted task reads those records again from the requests topic, on a
 * real broker: committed records only, the ones asked for, and none that retention (here: deleted records) took.
 */
class PendingSourceIT {

    static final EmbeddedKafka kafka = SharedBroker.kafka();

    @Test
    void readsTheCommittedRecordsAtTheGivenOffsetsAndReportsTheDeletedOnesAsMissing() throws Exception {
        String topic = "pending-source-it";
        kafka.createTopics(2, topic);
        Map<String, Object> props = new HashMap<>();
        kafka.clientProperties().forEach((k, v) -> props.put((String) k, v));
        Map<String, Object> producerProps = new HashMap<>(props);
        producerProps.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "pending-source-it");
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(producerProps, new ByteArraySerializer(),
                new ByteArraySerializer())) {
            producer.initTransactions();
            // offsets 0..9 committed; then an aborted transaction; then 10 more committed (offsets shift past the
            // aborted records and their markers)
            send(producer, topic, 0, 10, true);
            send(producer, topic, 100, 3, false);
            send(producer, topic, 10, 10, true);
        }
        try (Admin admin = Admin.create(props)) {
            // what retention would do: the first four records are gone
            admin.deleteRecords(Map.of(new TopicPartition(topic, 1), RecordsToDelete.beforeOffset(4))).all().get();
        }
        PendingSource source = PendingSource.kafka(props, Duration.ofSeconds(30));
        // every record of the partition, to learn the offsets the committed values landed at
        Map<Long, byte[]> all = source.read(topic, 1, new TreeSet<>(java.util.stream.LongStream.range(0, 40)
                .boxed().toList()));
        assertThat(all.values()).extracting(v -> new String(v, StandardCharsets.UTF_8))
                .as("read committed: the aborted values never appear; the deleted ones are gone")
                .doesNotContain("v100", "v101", "v102", "v0", "v3")
                .contains("v4", "v9", "v10", "v19").hasSize(16);
        long ofV5 = offsetOf(all, "v5");
        long ofV12 = offsetOf(all, "v12");
        Map<Long, byte[]> some = source.read(topic, 1, new TreeSet<>(List.of(1L, ofV5, ofV12)));
        assertThat(some).containsOnlyKeys(ofV5, ofV12);
        assertThat(new String(some.get(ofV12), StandardCharsets.UTF_8)).isEqualTo("v12");
        assertThat(source.read(topic, 0, new TreeSet<>(List.of(0L, 1L)))).as("an empty partition").isEmpty();
    }

    private static long offsetOf(Map<Long, byte[]> records, String value) {
        return records.entrySet().stream()
                .filter(e -> new String(e.getValue(), StandardCharsets.UTF_8).equals(value))
                .findFirst().orElseThrow().getKey();
    }

    private static void send(KafkaProducer<byte[], byte[]> producer, String topic, int from, int n, boolean commit) {
        producer.beginTransaction();
        for (int i = from; i < from + n; i++) {
            producer.send(new ProducerRecord<>(topic, 1, null, ("v" + i).getBytes(StandardCharsets.UTF_8)));
        }
        if (commit) {
            producer.commitTransaction();
        } else {
            producer.flush();
            producer.abortTransaction();
        }
    }
}
