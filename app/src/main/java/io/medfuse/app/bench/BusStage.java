package io.medfuse.app.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;

import io.medfuse.worker.MedfuseWorker;
import io.medfuse.worker.config.WorkerConfig;

/** Stage: bus limit: a pass-through Kafka Streams app with the worker's guarantee, with and without the pending store. */
final class BusStage extends Stage {

    BusStage(Context context) {
        super(context);
    }

    double bus(BenchModel model, String requestsTopic, int n, boolean pendingStore) throws Exception {
        return bus(model, requestsTopic, n, pendingStore, pendingStore ? "bus-store" : "bus-plain");
    }

    /** As {@link #bus(BenchModel, String, int, boolean)}, its topic and group named after {@code variant}. */
    double bus(BenchModel model, String requestsTopic, int n, boolean pendingStore, String variant) throws Exception {
        String out = cluster.topic(model.name() + "-" + variant + "-out", 3);
        WorkerConfig config = config(model, cluster.applicationId(model.name() + "-" + variant), Map.of());
        Properties props = MedfuseWorker.imageRecordStreamsDefaults(config);
        props.putAll(config.streamsProperties());
        Path stateDir = Files.createTempDirectory("medfuse-bench-streams-");
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        Arrivals arrivals = new Arrivals();
        progress.stage(model.name() + " / bus " + (pendingStore ? "with pending store" : "pass-through")
                + " (" + config.streamsProperties().get("processing.guarantee") + ")", arrivals::count);
        Properties cp = new Properties();
        cp.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, cluster.bootstrap());
        cp.put(ConsumerConfig.GROUP_ID_CONFIG, cluster.applicationId(model.name() + "-" + variant + "-reader"));
        cp.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        cp.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        cp.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, 8 * 1024 * 1024);
        cp.putAll(cluster.clientOverrides());
        KafkaStreams streams = new KafkaStreams(PassThroughTopology.build(requestsTopic, out, pendingStore), props);
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(cp, new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            consumer.subscribe(List.of(out));
            streams.start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120) + 20 * durationNanos();
            while (arrivals.count() < n && System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> ignored : consumer.poll(Duration.ofMillis(50))) {
                    arrivals.add(System.nanoTime());
                }
            }
        } finally {
            streams.close(Duration.ofSeconds(30));
            streams.cleanUp();
            Bench.deleteQuietly(stateDir);
        }
        if (arrivals.count() < n) {
            progress.note(variant + ": only " + arrivals.count() + " of " + n + " records came through in time");
        }
        return arrivals.steadyRate(n);
    }
}
