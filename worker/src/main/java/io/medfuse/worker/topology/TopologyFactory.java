package io.medfuse.worker.topology;

import java.util.Map;

import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.StoreBuilder;
import org.apache.kafka.streams.state.Stores;

import io.medfuse.events.FailedRequest;
import io.medfuse.events.ImagingRequest;
import io.medfuse.events.Prediction;
import io.medfuse.worker.pipeline.RequestPipeline;
import io.medfuse.worker.serde.ConfluentAvroCodec;

/**
 * Builds the worker's topology. Pure: it opens no files, sockets or sessions, so {@code TopologyTestDriver} drives
 * exactly the production topology. Every node and the store are named; {@code topology.describe()} is compared with
 * a checked-in snapshot so a rename that would orphan the changelog topic cannot slip in.
 *
 * <pre>
 * requests (bytes) ─▶ infer ─▶ predictions-sink  (Prediction, Avro)
 *                       │  └─▶ dead-letters-sink (FailedRequest, Avro)
 *                       └── pending-requests (in-memory, changelogged)
 * </pre>
 */
public final class TopologyFactory {

    public static final String SOURCE = "requests-source";
    public static final String PROCESSOR = "infer";
    public static final String PREDICTIONS_SINK = "predictions-sink";
    public static final String DEAD_LETTERS_SINK = "dead-letters-sink";
    public static final String PENDING_STORE = "pending-requests";

    private TopologyFactory() {
    }

    /**
     * @param requestCodec decodes request values (Confluent wire format)
     * @param predictionSerializer writes Prediction values
     * @param deadLetterSerializer writes FailedRequest values
     * @param pipeline the instance's shared pipeline (not opened or closed here)
     */
    public static Topology build(TopologySettings settings, ConfluentAvroCodec<ImagingRequest> requestCodec,
                                 Serializer<Prediction> predictionSerializer,
                                 Serializer<FailedRequest> deadLetterSerializer, RequestPipeline pipeline) {
        StoreBuilder<KeyValueStore<Long, byte[]>> pendingStore = pendingStore(PENDING_STORE);
        Topology topology = new Topology();
        topology.addSource(SOURCE, Serdes.ByteArray().deserializer(), Serdes.ByteArray().deserializer(),
                settings.requestsTopic());
        topology.addProcessor(PROCESSOR, () -> new InferenceProcessor(settings, requestCodec, pipeline), SOURCE);
        topology.addStateStore(pendingStore, PROCESSOR);
        topology.addSink(PREDICTIONS_SINK, settings.predictionsTopic(), Serdes.String().serializer(),
                recordSerializer(predictionSerializer), PROCESSOR);
        topology.addSink(DEAD_LETTERS_SINK, settings.deadLettersTopic(), Serdes.String().serializer(),
                recordSerializer(deadLetterSerializer), PROCESSOR);
        return topology;
    }

    /**
     * The pending-requests store: in memory, changelogged, compacted eagerly. Public so the benchmark can measure
     * what its second write of the image bytes costs (ADR 0001) with exactly this store.
     */
    public static StoreBuilder<KeyValueStore<Long, byte[]>> pendingStore(String name) {
        return Stores
                .keyValueStoreBuilder(Stores.inMemoryKeyValueStore(name), Serdes.Long(), Serdes.ByteArray())
                .withCachingDisabled()
                // pending entries hold image bytes: compact eagerly so restores read little
                .withLoggingEnabled(Map.of(
                        "cleanup.policy", "compact",
                        "segment.bytes", String.valueOf(64 * 1024 * 1024),
                        "min.cleanable.dirty.ratio", "0.1",
                        "delete.retention.ms", "60000",
                        "max.message.bytes", String.valueOf(16 * 1024 * 1024)));
    }

    /** The processor forwards SpecificRecord; each sink only ever receives its own type. */
    @SuppressWarnings("unchecked")
    private static <T extends SpecificRecord> Serializer<SpecificRecord> recordSerializer(Serializer<T> s) {
        return (Serializer<SpecificRecord>) (Serializer<?>) s;
    }
}
