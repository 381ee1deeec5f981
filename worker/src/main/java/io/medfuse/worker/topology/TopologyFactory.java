package io.medfuse.worker.topology;

import java.time.Duration;
import java.util.Map;

import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.StoreBuilder;
import org.apache.kafka.streams.state.Stores;
import org.apache.kafka.streams.state.WindowStore;

import io.medfuse.events.ImagingRequest;
import io.medfuse.worker.pipeline.InFlightLimit;
import io.medfuse.worker.pipeline.RequestPipeline;
import io.medfuse.worker.registry.RegistryOutage;
import io.medfuse.events.serde.ConfluentAvroCodec;

/**
 * Builds the worker's topology. Pure: it opens no files, sockets or sessions, so {@code TopologyTestDriver} drives
 * exactly the production topology. Every node and store is named; {@code topology.describe()} is compared with a
 * checked-in snapshot so a rename that would orphan a changelog topic cannot slip in.
 *
 * <pre>
 * requests (bytes) ─▶ infer ─▶ predictions-sink  (Prediction, serialized by the processor)
 *                       │  └─▶ dead-letters-sink (FailedRequest, serialized by the processor)
 *                       ├── pending-requests (in memory, changelogged)
 *                       └── request-ids      (RocksDB window store, changelogged)
 * </pre>
 */
public final class TopologyFactory {

    public static final String SOURCE = "requests-source";
    public static final String PROCESSOR = "infer";
    public static final String PREDICTIONS_SINK = "predictions-sink";
    public static final String DEAD_LETTERS_SINK = "dead-letters-sink";
    public static final String FHIR_SINK = "fhir-sink";
    public static final String PENDING_STORE = "pending-requests";
    public static final String REQUEST_IDS_STORE = "request-ids";

    private TopologyFactory() {
    }

    /**
     * What the processors share with the rest of the instance; none of it is opened or closed here.
     *
     * @param requestCodec decodes request values (Confluent wire format)
     * @param answers serializes predictions and dead letters
     * @param pipeline the instance's shared pipeline
     * @param limit the instance's in-flight bound
     * @param outage pauses consumption while the registry is unreachable
     * @param backlog outcomes not yet forwarded (for the stall detector)
     * @param source where a restarted task reads its pending requests again
     */
    public record Parts(ConfluentAvroCodec<ImagingRequest> requestCodec, Answers answers, RequestPipeline pipeline,
                        InFlightLimit limit, RegistryOutage outage, AnswerBacklog backlog, PendingSource source) {
    }

    public static Topology build(TopologySettings settings, Parts parts) {
        Topology topology = new Topology();
        topology.addSource(SOURCE, Serdes.ByteArray().deserializer(), Serdes.ByteArray().deserializer(),
                settings.requestsTopic());
        topology.addProcessor(PROCESSOR, () -> new InferenceProcessor(settings, parts.requestCodec(),
                parts.pipeline(), parts.limit(), parts.answers(), parts.outage(), parts.backlog(), parts.source()), SOURCE);
        topology.addStateStore(pendingStore(PENDING_STORE), PROCESSOR);
        topology.addStateStore(requestIdStore(settings.requestIdWindowMs()), PROCESSOR);
        topology.addSink(PREDICTIONS_SINK, settings.predictionsTopic(), Serdes.String().serializer(),
                Serdes.ByteArray().serializer(), PROCESSOR);
        topology.addSink(DEAD_LETTERS_SINK, settings.deadLettersTopic(), Serdes.String().serializer(),
                Serdes.ByteArray().serializer(), PROCESSOR);
        if (settings.fhirTopic() != null) {
            topology.addSink(FHIR_SINK, settings.fhirTopic(), Serdes.String().serializer(),
                    Serdes.ByteArray().serializer(), PROCESSOR);
        }
        return topology;
    }

    /**
     * The pending-requests store: in memory, changelogged, compacted eagerly; an entry is a request's offset and
     * timestamp, not its bytes ({@link PendingRequest}). Public so the benchmark measures what it costs (ADR 0001)
     * with exactly this store.
     */
    public static StoreBuilder<KeyValueStore<Long, byte[]>> pendingStore(String name) {
        return Stores
                .keyValueStoreBuilder(Stores.inMemoryKeyValueStore(name), Serdes.Long(), Serdes.ByteArray())
                .withCachingDisabled()
                // compact eagerly so restores read little (entries written before issue 13 held image bytes)
                .withLoggingEnabled(Map.of(
                        "cleanup.policy", "compact",
                        "segment.bytes", String.valueOf(64 * 1024 * 1024),
                        "min.cleanable.dirty.ratio", "0.1",
                        "delete.retention.ms", "60000",
                        "max.message.bytes", String.valueOf(PENDING_MAX_MESSAGE_BYTES)));
    }

    /** What the worker writes to the pending store for a request consumed at {@code timestamp} (for the bench). */
    public static byte[] pendingEntry(long timestamp) {
        return PendingRequest.coordinates(timestamp);
    }

    /** Largest pending entry the changelog takes (an inline image plus the record around it). */
    public static final int PENDING_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

    /**
     * The request-ids store: request id → digest, partition and offset of its first request, kept for the window
     * on disk (RocksDB), so memory stays bounded whatever the window; its changelog keeps one window plus a minute
     * (not Kafka Streams' default extra day), which bounds what a restore reads.
     */
    static StoreBuilder<WindowStore<String, byte[]>> requestIdStore(long windowMs) {
        Duration window = Duration.ofMillis(windowMs);
        return Stores.windowStoreBuilder(
                        Stores.persistentWindowStore(REQUEST_IDS_STORE, window, Duration.ofMillis(1), false),
                        Serdes.String(), Serdes.ByteArray())
                .withCachingDisabled()
                .withLoggingEnabled(Map.of("retention.ms", String.valueOf(windowMs + 60_000)));
    }
}
