package io.medfuse.worker.topology;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;

import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.streams.errors.StreamsException;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.medfuse.events.FailedRequest;
import io.medfuse.events.FailureReason;
import io.medfuse.events.ImagingRequest;
import io.medfuse.events.LabelProbability;
import io.medfuse.events.ModelIdentity;
import io.medfuse.events.Prediction;
import io.medfuse.events.Timings;
import io.medfuse.worker.pipeline.Outcome;
import io.medfuse.worker.pipeline.RequestPipeline;
import io.medfuse.worker.pipeline.RequestRejectedException;
import io.medfuse.worker.serde.AvroDecodeException;
import io.medfuse.worker.serde.ConfluentAvroCodec;
import io.medfuse.worker.serde.DecodeFailure;

/**
 * One stream task's view of the worker: decodes and checks each request on the stream thread, hands it to the
 * shared {@link RequestPipeline} (decode on the pool, batch across tasks, infer), and forwards each outcome as a
 * {@link Prediction} or a {@link FailedRequest} from the stream thread (in {@code process} and in a wall-clock
 * punctuator every {@code forward.interval.ms}).
 *
 * <p>No request is lost when an instance dies after a commit: before a request leaves the stream thread it is
 * written to the changelogged {@code pending-requests} store, and it is deleted in the same transaction that
 * forwards its answer. A commit therefore covers, for every consumed request, either its answer or its pending
 * entry; after a crash or a rebalance the new owner restores the store and re-submits every pending entry in
 * {@link #init}. See docs/architecture.md.
 */
final class InferenceProcessor implements Processor<byte[], byte[], String, SpecificRecord> {

    private static final Logger LOG = LoggerFactory.getLogger(InferenceProcessor.class);

    private record Done(long offset, String requestId, Instant requestedAt, Outcome outcome) {
    }

    private final TopologySettings settings;
    private final ConfluentAvroCodec<ImagingRequest> requestCodec;
    private final RequestPipeline pipeline;
    private final Queue<Done> done = new ConcurrentLinkedQueue<>();
    private ProcessorContext<String, SpecificRecord> context;
    private KeyValueStore<Long, byte[]> pending;
    private volatile boolean closed;
    /** Kafka Streams allows no forwarding during init: re-submission then only waits for permits. */
    private boolean initializing;

    InferenceProcessor(TopologySettings settings, ConfluentAvroCodec<ImagingRequest> requestCodec,
                       RequestPipeline pipeline) {
        this.settings = settings;
        this.requestCodec = requestCodec;
        this.pipeline = pipeline;
    }

    @Override
    public void init(ProcessorContext<String, SpecificRecord> context) {
        this.context = context;
        this.pending = context.getStateStore(TopologyFactory.PENDING_STORE);
        context.schedule(Duration.ofMillis(settings.forwardIntervalMs()), PunctuationType.WALL_CLOCK_TIME,
                now -> forwardDone());
        initializing = true;
        try {
            resubmitPending();
        } finally {
            initializing = false;
        }
    }

    /** Requests consumed before a crash or rebalance whose answers were never committed. */
    private void resubmitPending() {
        List<Long> offsets = new ArrayList<>();
        List<PendingRequest> requests = new ArrayList<>();
        try (KeyValueIterator<Long, byte[]> it = pending.all()) {
            it.forEachRemaining(kv -> {
                offsets.add(kv.key);
                requests.add(PendingRequest.fromBytes(kv.value));
            });
        }
        if (offsets.isEmpty()) {
            return;
        }
        LOG.info("task {}: re-submitting {} request(s) consumed before the last commit but not yet answered",
                context.taskId(), offsets.size());
        for (int i = 0; i < offsets.size(); i++) {
            long offset = offsets.get(i);
            PendingRequest p = requests.get(i);
            ImagingRequest request = requestCodec.decode(p.value());
            RequestPipeline.Validated validated = pipeline.validate(request);
            acquire();
            submit(offset, request, validated, System.nanoTime());
        }
    }

    @Override
    public void process(Record<byte[], byte[]> record) {
        long arrival = System.nanoTime();
        forwardDone();
        RecordMetadata meta = context.recordMetadata().orElseThrow();
        long offset = meta.offset();
        ImagingRequest request;
        try {
            request = requestCodec.decode(record.value());
        } catch (AvroDecodeException e) {
            if (e.failure() == DecodeFailure.REGISTRY_UNAVAILABLE) {
                // not the record's fault: fail the thread, Kafka Streams replaces it and the record is read again
                throw new StreamsException("schema registry unavailable while reading " + meta.topic() + "-"
                        + meta.partition() + "@" + offset + ": " + e.getMessage(), e);
            }
            FailureReason reason = e.failure() == DecodeFailure.UNKNOWN_SCHEMA_ID
                    || e.failure() == DecodeFailure.INCOMPATIBLE_SCHEMA
                    ? FailureReason.UNKNOWN_SCHEMA : FailureReason.UNDESERIALIZABLE;
            forwardFailure(null, meta, offset, reason, e.getMessage(), record.value());
            return;
        }
        RequestPipeline.Validated validated;
        try {
            validated = pipeline.validate(request);
        } catch (RequestRejectedException e) {
            forwardFailure(request.getRequestId(), meta, offset, e.reason(), e.getMessage(), record.value());
            return;
        }
        acquire();
        pending.put(offset, new PendingRequest(record.timestamp(), record.key(), record.value()).toBytes());
        submit(offset, request, validated, arrival);
    }

    /** Waits for room in the in-flight bound, forwarding this task's finished work meanwhile. */
    private void acquire() {
        try {
            while (!pipeline.tryAcquire(20)) {
                if (!initializing) {
                    forwardDone();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StreamsException("interrupted while waiting for room in max.in.flight", e);
        }
    }

    private void submit(long offset, ImagingRequest request, RequestPipeline.Validated validated, long arrival) {
        String requestId = request.getRequestId();
        Instant requestedAt = request.getRequestedAt();
        pipeline.submit(request, validated, arrival, outcome -> {
            if (!closed) {
                done.add(new Done(offset, requestId, requestedAt, outcome));
            }
        });
    }

    /** Forwards every finished outcome of this task; on the stream thread only. */
    private void forwardDone() {
        Done d;
        while ((d = done.poll()) != null) {
            RecordMetadata meta = null;
            if (d.outcome() instanceof Outcome.Predicted p) {
                context.forward(new Record<String, SpecificRecord>(d.requestId(), prediction(d, p),
                        System.currentTimeMillis()), TopologyFactory.PREDICTIONS_SINK);
            } else if (d.outcome() instanceof Outcome.Failed f) {
                byte[] original = null;
                byte[] stored = pending.get(d.offset());
                if (stored != null) {
                    original = PendingRequest.fromBytes(stored).value();
                }
                forwardFailure(d.requestId(), meta, d.offset(), f.reason(), f.detail(), original);
            }
            pending.delete(d.offset());
        }
    }

    private Prediction prediction(Done d, Outcome.Predicted p) {
        ModelIdentity model = pipeline.identity();
        List<String> labels = pipeline.contract().labelNames();
        float[] probs = p.probabilities();
        List<LabelProbability> list = new ArrayList<>(labels.size());
        int best = 0;
        for (int i = 0; i < labels.size(); i++) {
            list.add(new LabelProbability(labels.get(i), (double) probs[i]));
            if (probs[i] > probs[best]) {
                best = i;
            }
        }
        Timings timings = Timings.newBuilder()
                .setQueueWaitMs(millis(p.stats().inferenceStartNanos() - p.arrivalNanos()))
                .setPreprocessMs(millis(p.preprocessNanos()))
                .setInferenceMs(millis(p.stats().inferenceNanos()))
                .setBatchSize(p.stats().batchSize())
                .setPaddedBatchSize(p.stats().paddedSize())
                .build();
        return Prediction.newBuilder()
                .setPredictionId(predictionId(d.requestId(), model))
                .setRequestId(d.requestId())
                .setModel(model)
                .setLabel(labels.get(best))
                .setProbability(probs[best])
                .setProbabilities(list)
                .setRequestedAt(d.requestedAt())
                .setPredictedAt(Instant.ofEpochMilli(System.currentTimeMillis()))
                .setTimings(timings)
                .setFlags(p.flags())
                .build();
    }

    /** Same request, same model version: same id, so a replay is recognisable downstream. */
    static String predictionId(String requestId, ModelIdentity model) {
        String name = requestId + "\u0000" + model.getName() + "\u0000" + model.getVersion();
        return UUID.nameUUIDFromBytes(name.getBytes(java.nio.charset.StandardCharsets.UTF_8)).toString();
    }

    private void forwardFailure(String requestId, RecordMetadata meta, long offset, FailureReason reason,
                                String detail, byte[] original) {
        String topic = meta != null ? meta.topic() : settings.requestsTopic();
        int partition = meta != null ? meta.partition() : context.taskId().partition();
        FailedRequest dead = FailedRequest.newBuilder()
                .setRequestId(requestId)
                .setReason(reason)
                .setDetail(detail == null ? reason.name() : detail)
                .setSourceTopic(topic)
                .setSourcePartition(partition)
                .setSourceOffset(offset)
                .setFailedAt(Instant.ofEpochMilli(System.currentTimeMillis()))
                .setModel(pipeline.identity())
                .setOriginalBytes(original != null && original.length <= settings.deadLetterMaxOriginalBytes()
                        ? ByteBuffer.wrap(original) : null)
                .build();
        LOG.debug("dead letter {} for request {} at {}-{}@{}", reason, requestId, topic, partition, offset);
        context.forward(new Record<String, SpecificRecord>(requestId, dead, System.currentTimeMillis()),
                TopologyFactory.DEAD_LETTERS_SINK);
    }

    private static double millis(long nanos) {
        return nanos / (double) TimeUnit.MILLISECONDS.toNanos(1);
    }

    @Override
    public void close() {
        closed = true;
        done.clear();
    }
}
