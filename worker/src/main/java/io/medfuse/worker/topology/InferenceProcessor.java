package io.medfuse.worker.topology;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Queue;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.streams.errors.StreamsException;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.WindowStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.medfuse.events.FailureReason;
import io.medfuse.events.ImagingRequest;
import io.medfuse.events.LabelProbability;
import io.medfuse.events.ModelIdentity;
import io.medfuse.events.Prediction;
import io.medfuse.worker.fhir.FhirDocuments;
import io.medfuse.events.Timings;
import io.medfuse.worker.pipeline.Failures;
import io.medfuse.worker.pipeline.InFlightLimit;
import io.medfuse.worker.pipeline.Outcome;
import io.medfuse.worker.pipeline.PatientIdentifier;
import io.medfuse.worker.pipeline.RequestPipeline;
import io.medfuse.worker.registry.RegistryOutage;
import io.medfuse.events.serde.AvroDecodeException;
import io.medfuse.events.serde.ConfluentAvroCodec;
import io.medfuse.events.serde.DecodeFailure;

/**
 * One stream task's view of the worker. For each record, on the stream thread: decode it, keep its coordinates (the
 * offset; not its bytes) in the changelogged {@code pending-requests} store, check its request id
 * ({@link RequestIds}), validate it, and take a
 * permit of the instance's {@link InFlightLimit} to hand it to the shared {@link RequestPipeline}; the permit is
 * given back here when the request's future completes. Outcomes are forwarded from the stream thread (in
 * {@code process} and in a wall-clock punctuator every {@code forward.interval.ms}) as serialized Prediction or
 * FailedRequest values ({@link Answers}); the pending entry is deleted in the same transaction.
 *
 * <p>No request is lost when an instance dies after a commit: a commit covers, for every consumed request, either
 * its answer or its pending entry; the next owner restores the store, reads the pending records again from the
 * requests topic ({@link PendingSource}) and takes them again in {@link #init}; a record the topic no longer holds
 * (retention) is answered with an INTERNAL_ERROR dead letter naming its offset. Nothing taken can strand: a request
 * that finds no permit waits in this task's queue (the stream
 * thread waits at most {@value #ADMIT_WAIT_MS} ms for room, {@value #ADMIT_WAIT_FULL_MS} ms when its queue is full,
 * then returns so Kafka Streams can commit well within {@code transaction.timeout.ms}), a request
 * whose writer schema cannot be fetched waits until the registry answers ({@link RegistryOutage}; consumption and
 * forwarding pause meanwhile), and one that
 * the current worker rejects when taken again (a narrower model, a tighter reference policy) is answered with a
 * dead letter like any other. See docs/architecture.md.
 */
final class InferenceProcessor implements Processor<byte[], byte[], String, byte[]> {

    private static final Logger LOG = LoggerFactory.getLogger(InferenceProcessor.class);

    /**
     * Longest the stream thread waits inside one {@code process} call for room in {@code max.in.flight}: short
     * enough that the transaction Kafka Streams holds open meanwhile stays far from {@code transaction.timeout.ms}.
     */
    static final long ADMIT_WAIT_MS = 200;

    /**
     * Longest wait when this task's queue already holds {@code max.in.flight} requests. Still bounded, for the same
     * reason: a longer wait would let the broker abort the open transaction. While the pipeline is fully stalled the
     * queue grows by at most one request per this wait, until the stall detector has the instance restarted.
     */
    static final long ADMIT_WAIT_FULL_MS = 1000;

    /** A request taken, waiting for a permit. */
    private record Taken(long offset, ImagingRequest request, byte[] digest, RequestPipeline.Validated validated,
                         long arrivalNanos) {
    }

    /** A request's outcome, waiting to be forwarded by the stream thread. */
    private record Done(long offset, String requestId, byte[] digest, Instant requestedAt, Outcome outcome) {
    }

    private final TopologySettings settings;
    private final ConfluentAvroCodec<ImagingRequest> requestCodec;
    private final RequestPipeline pipeline;
    private final InFlightLimit limit;
    private final Answers answers;
    /** Writes the FHIR document of each prediction; null when the FHIR output is off. */
    private final FhirDocuments fhir;
    private final RegistryOutage outage;
    private final AnswerBacklog backlog;
    private final Queue<Done> done = new ConcurrentLinkedQueue<>();
    /** Stream thread only. */
    private final Deque<Taken> waiting = new ArrayDeque<>();
    /** Offsets of pending records not decoded yet (the registry was unreachable); stream thread only. */
    private final Deque<Long> undecoded = new ArrayDeque<>();
    /**
     * Record values still needed in memory, by offset: until decoded (undecoded records), and until answered when
     * dead letters carry the original record; the store does not hold them. Stream thread only.
     */
    private final Map<Long, byte[]> held = new HashMap<>();
    private final PendingSource source;
    /** Whether dead letters may carry the original record (dead.letter.max.original.bytes &gt; 0). */
    private final boolean keepsOriginals;
    private ProcessorContext<String, byte[]> context;
    private KeyValueStore<Long, byte[]> pending;
    private RequestIds ids;
    private int partition;
    /**
     * Kafka Streams may close a processor and {@link #init} the same object again (a task suspended and resumed, or
     * revived after a corruption): each init starts a new generation, and outcomes of requests submitted in an
     * earlier one are dropped (their pending entries are taken again). Guarded by {@link #lock} with
     * {@link #closed}, so an outcome is never queued after close has emptied the queue.
     */
    private long generation;
    private boolean closed;
    private final Object lock = new Object();
    /** Kafka Streams allows no forwarding during init: taking pending requests then never waits. */
    private boolean initializing;

    InferenceProcessor(TopologySettings settings, ConfluentAvroCodec<ImagingRequest> requestCodec,
                       RequestPipeline pipeline, InFlightLimit limit, Answers answers, RegistryOutage outage,
                       AnswerBacklog backlog, PendingSource source) {
        this.settings = settings;
        this.source = source;
        this.keepsOriginals = settings.deadLetterMaxOriginalBytes() > 0;
        this.fhir = settings.fhirTopic() == null ? null
                : new FhirDocuments(settings.fhirPatientIdentifierSystem());
        this.requestCodec = requestCodec;
        this.pipeline = pipeline;
        this.limit = limit;
        this.answers = answers;
        this.outage = outage;
        this.backlog = backlog;
    }

    @Override
    public void init(ProcessorContext<String, byte[]> context) {
        synchronized (lock) {
            generation++;
            closed = false;
        }
        waiting.clear();
        undecoded.clear();
        held.clear();
        this.context = context;
        this.pending = context.getStateStore(TopologyFactory.PENDING_STORE);
        WindowStore<String, byte[]> idStore = context.getStateStore(TopologyFactory.REQUEST_IDS_STORE);
        this.ids = new RequestIds(idStore, settings.requestIdWindowMs());
        this.partition = context.taskId().partition();
        context.schedule(Duration.ofMillis(settings.forwardIntervalMs()), PunctuationType.WALL_CLOCK_TIME,
                now -> tick());
        initializing = true;
        try {
            takePendingAgain();
        } finally {
            initializing = false;
        }
    }

    /** Requests consumed before a crash or rebalance whose answers were never committed. */
    private void takePendingAgain() {
        java.util.TreeSet<Long> reread = new java.util.TreeSet<>();
        List<Long> offsets = new ArrayList<>();
        try (KeyValueIterator<Long, byte[]> it = pending.all()) {
            it.forEachRemaining(kv -> {
                offsets.add(kv.key);
                PendingRequest p = PendingRequest.fromBytes(kv.value);
                if (p.value() != null) {
                    held.put(kv.key, p.value()); // an entry written before issue 13, with its record
                } else {
                    reread.add(kv.key);
                }
            });
        }
        if (offsets.isEmpty()) {
            return;
        }
        LOG.info("task {}: taking {} request(s) again that were consumed before the last commit but not answered "
                + "({} read again from {})", context.taskId(), offsets.size(), reread.size(), settings.requestsTopic());
        if (!reread.isEmpty()) {
            Map<Long, byte[]> found = source.read(settings.requestsTopic(), partition, reread);
            held.putAll(found);
            pipeline.metrics().pendingReread(found.size());
        }
        pipeline.metrics().pendingResubmitted(offsets.size());
        offsets.sort(null);
        for (long offset : offsets) {
            if (held.containsKey(offset)) {
                undecoded.add(offset);
            } else {
                LOG.warn("task {}: the pending request at {}-{}@{} is no longer in the topic; answered with a dead "
                        + "letter", context.taskId(), settings.requestsTopic(), partition, offset);
                answerLater(offset, null, null, null, new Outcome.Failed(FailureReason.INTERNAL_ERROR,
                        "the request at " + settings.requestsTopic() + "-" + partition + "@" + offset + " was read "
                        + "before the worker restarted but is no longer in the topic (retention or deleted records) "
                        + "to be read again; send it again"));
            }
        }
        takeUndecoded();
    }

    @Override
    public void process(Record<byte[], byte[]> record) {
        long arrival = System.nanoTime();
        pipeline.metrics().requestReceived();
        takeUndecoded();
        drainWaiting();
        forwardDone();
        long offset = context.recordMetadata().orElseThrow().offset();
        ImagingRequest request;
        try {
            request = requestCodec.decode(record.value());
        } catch (AvroDecodeException e) {
            if (e.failure() == DecodeFailure.REGISTRY_UNAVAILABLE) {
                // not the record's fault: keep it, pause, read it again when the registry answers
                pending.put(offset, PendingRequest.coordinates(record.timestamp()));
                held.put(offset, record.value());
                undecoded.add(offset);
                outage.unavailable(e.schemaId() == null ? -1 : e.schemaId(), e.getMessage());
                return;
            }
            Outcome.Failed f = Failures.classify(e).orElseThrow();
            forward(answers.deadLetter(null, settings.requestsTopic(), partition, offset, f.reason(), f.detail(),
                    record.value()), null, offset);
            return;
        } catch (RuntimeException e) {
            // a decoder bug: Kafka Streams' processing exception handler answers it (DeadLetterOnProcessingError)
            throw new RequestProcessingException(null, e);
        }
        pending.put(offset, PendingRequest.coordinates(record.timestamp()));
        if (keepsOriginals) {
            held.put(offset, record.value());
        }
        take(offset, request, arrival);
        forwardDone();
    }

    /**
     * A pending request, decoded: its id checked, validated and admitted, or its dead letter queued. Every way out
     * leaves the request either admitted, answered (queued in {@link #done}) or, for a repeated identical request,
     * removed from the pending store: nothing is left without an owner.
     */
    private void take(long offset, ImagingRequest request, long arrivalNanos) {
        String id = request.getRequestId();
        byte[] digest = null;
        Taken taken;
        try {
            digest = RequestDigest.of(request);
            if (id != null && !id.isBlank() && id.length() <= RequestPipeline.MAX_ID_LENGTH) {
                long now = context.currentSystemTimeMs();
                RequestIds.Check check = ids.check(id, digest, partition, offset, now);
                switch (check.verdict()) {
                    case SAME_AGAIN -> {
                        // a producer retry: its first copy is answered (or will be), once
                        pending.delete(offset);
                        held.remove(offset);
                        pipeline.metrics().duplicateIgnored();
                        LOG.debug("request at {}-{}@{} repeats the one at offset {}: not answered again",
                                settings.requestsTopic(), partition, offset, check.firstOffset());
                        return;
                    }
                    case CONFLICT -> {
                        answerLater(offset, id, digest, request.getRequestedAt(), new Outcome.Failed(
                                FailureReason.DUPLICATE_REQUEST_ID, "requestId is already used by another request "
                                + "(read at " + settings.requestsTopic() + "-" + check.firstPartition() + "@"
                                + check.firstOffset() + ") within request.id.window.ms = "
                                + settings.requestIdWindowMs() + " ms; give every request its own id"));
                        return;
                    }
                    case NEW -> ids.remember(id, digest, partition, offset, now);
                    case REREAD -> {
                        // the same record again (a replay): it is still this one request
                    }
                }
            }
            taken = new Taken(offset, request, digest, pipeline.validate(request), arrivalNanos);
        } catch (StreamsException e) {
            throw e; // a store failed: Kafka Streams' own business
        } catch (RuntimeException e) {
            Outcome.Failed f = Failures.classify(e).orElseThrow();
            if (f.reason() == FailureReason.INTERNAL_ERROR) {
                LOG.warn("request at {}-{}@{} failed in the worker", settings.requestsTopic(), partition, offset, e);
            }
            answerLater(offset, id, digest, request.getRequestedAt(), f);
            return;
        }
        // outside the try: a failure while waiting for room (forwarding others' answers) is not this request's
        admit(taken);
    }

    /** Takes a permit (waiting a little) and submits, or queues the request behind the others waiting. */
    private void admit(Taken t) {
        if (waiting.isEmpty() && tryAcquire(0)) {
            submit(t);
            return;
        }
        waiting.add(t);
        if (initializing) {
            return;
        }
        // past the queue's bound the thread waits longer (the backpressure that keeps memory flat), never unbounded
        long wait = waiting.size() > limit.capacity() ? ADMIT_WAIT_FULL_MS : ADMIT_WAIT_MS;
        long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(wait);
        while (!waiting.isEmpty() && System.nanoTime() < until) {
            if (tryAcquire(10)) {
                submit(waiting.poll());
            } else {
                forwardDone();
            }
        }
    }

    private void drainWaiting() {
        while (!waiting.isEmpty() && tryAcquire(0)) {
            submit(waiting.poll());
        }
    }

    private boolean tryAcquire(long millis) {
        try {
            return limit.tryAcquire(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StreamsException("interrupted while waiting for room in max.in.flight", e);
        }
    }

    /** Hands a request holding a permit to the pipeline; the permit comes back here when its future completes. */
    private void submit(Taken t) {
        CompletableFuture<Outcome.Predicted> future;
        try {
            future = pipeline.submit(t.request(), t.validated(), t.arrivalNanos());
        } catch (RuntimeException e) {
            future = CompletableFuture.failedFuture(e);
        }
        String requestId = t.request().getRequestId();
        Instant requestedAt = t.request().getRequestedAt();
        long submittedIn;
        synchronized (lock) {
            submittedIn = generation;
        }
        future.whenComplete((predicted, error) -> {
            limit.release();
            Optional<? extends Outcome> outcome = error == null ? Optional.of(predicted) : Failures.classify(error);
            if (outcome.isEmpty()) {
                return; // the worker is stopping: no answer, the request stays pending for the next owner
            }
            if (outcome.get() instanceof Outcome.Failed f && f.reason() == FailureReason.INTERNAL_ERROR) {
                LOG.warn("request at {}-{}@{} failed in the worker", settings.requestsTopic(), partition,
                        t.offset(), Failures.unwrap(error));
            }
            answerLater(submittedIn, t.offset(), requestId, t.digest(), requestedAt, outcome.get());
        });
    }

    /** Queues an outcome of this generation (on the stream thread). */
    private void answerLater(long offset, String requestId, byte[] digest, Instant requestedAt, Outcome outcome) {
        long current;
        synchronized (lock) {
            current = generation;
        }
        answerLater(current, offset, requestId, digest, requestedAt, outcome);
    }

    /** Queues an outcome unless the processor closed or was initialised again since the request was submitted. */
    private void answerLater(long submittedIn, long offset, String requestId, byte[] digest, Instant requestedAt,
                             Outcome outcome) {
        synchronized (lock) {
            if (closed || submittedIn != generation) {
                return;
            }
            done.add(new Done(offset, requestId, digest, requestedAt, outcome));
            backlog.added();
        }
    }

    /** Pending records not decoded yet: read them again unless the registry is still known to be down. */
    private void takeUndecoded() {
        while (!undecoded.isEmpty() && !outage.isDown()) {
            long offset = undecoded.peek();
            byte[] value = held.get(offset);
            if (value == null || pending.get(offset) == null) {
                undecoded.poll();
                held.remove(offset);
                continue;
            }
            ImagingRequest request;
            try {
                request = requestCodec.decode(value);
            } catch (AvroDecodeException e) {
                if (e.failure() == DecodeFailure.REGISTRY_UNAVAILABLE) {
                    outage.unavailable(e.schemaId() == null ? -1 : e.schemaId(), e.getMessage());
                    return;
                }
                undecoded.poll();
                answerLater(offset, null, null, null, Failures.classify(e).orElseThrow());
                continue;
            } catch (RuntimeException e) {
                undecoded.poll();
                LOG.warn("pending request at {}-{}@{} failed in the worker", settings.requestsTopic(), partition,
                        offset, e);
                answerLater(offset, null, null, null, Failures.classify(e).orElseThrow());
                continue;
            }
            undecoded.poll();
            if (!keepsOriginals) {
                held.remove(offset);
            }
            take(offset, request, System.nanoTime());
        }
    }

    private void tick() {
        takeUndecoded();
        drainWaiting();
        forwardDone();
    }

    /** Forwards every finished outcome of this task and deletes its pending entry; on the stream thread only. */
    private void forwardDone() {
        if (initializing) {
            return;
        }
        Done d;
        while ((d = done.poll()) != null) {
            backlog.forwarded();
            Answers.Serialized answer;
            Prediction predicted = null;
            PatientIdentifier patient = null;
            if (d.outcome() instanceof Outcome.Predicted p) {
                patient = p.patient();
                predicted = prediction(d, p);
                answer = answers.prediction(predicted, settings.requestsTopic(), partition, d.offset());
                if (answer.isPrediction()) {
                    pipeline.metrics().predicted(p.stats().inferenceStartNanos() - p.arrivalNanos(),
                            p.preprocessNanos(), p.stats().inferenceNanos());
                    pipeline.metrics().modelAnswered(p.model().identity(), p.stats().inferenceNanos(),
                            predicted.getReferral());
                    pipeline.metrics().predictionNotes(predicted.getReferral(), p.influence() == null ? Double.NaN
                            : p.influence().getShift());
                }
            } else {
                Outcome.Failed f = (Outcome.Failed) d.outcome();
                byte[] original = held.get(d.offset());
                answer = answers.deadLetter(d.requestId(), settings.requestsTopic(), partition, d.offset(),
                        f.reason(), f.detail(), original);
            }
            forward(answer, d.requestId(), d.offset());
            if (fhir != null && predicted != null && answer.isPrediction()) {
                // in the same transaction as the prediction: both or neither
                context.forward(new Record<>(d.requestId(), fhir.bundle(predicted, patient),
                        System.currentTimeMillis(),
                        Answers.sourceHeaders(settings.requestsTopic(), partition, d.offset())),
                        TopologyFactory.FHIR_SINK);
            }
            pending.delete(d.offset());
            held.remove(d.offset());
        }
    }

    private void forward(Answers.Serialized answer, String requestId, long offset) {
        context.forward(new Record<>(requestId, answer.value(), System.currentTimeMillis(),
                        Answers.sourceHeaders(settings.requestsTopic(), partition, offset)),
                answer.isPrediction() ? TopologyFactory.PREDICTIONS_SINK : TopologyFactory.DEAD_LETTERS_SINK);
        if (!answer.isPrediction()) {
            pipeline.metrics().deadLetter(answer.reason());
            LOG.debug("dead letter {} for the request at {}-{}@{}", answer.reason(), settings.requestsTopic(),
                    partition, offset);
        }
    }

    private Prediction prediction(Done d, Outcome.Predicted p) {
        return prediction(d.requestId(), d.digest(), d.requestedAt(), p);
    }

    /** The Prediction event for a model's outcome (the answering model's, or the shadow's). */
    static Prediction prediction(String requestId, byte[] digest, Instant requestedAt, Outcome.Predicted p) {
        ModelIdentity model = p.model().identity();
        List<String> labels = p.model().labelNames();
        Double referralThreshold = p.model().referralThreshold();
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
                .setPredictionId(predictionId(requestId, digest, model))
                .setRequestId(requestId)
                .setModel(model)
                .setLabel(labels.get(best))
                .setProbability(probs[best])
                .setProbabilities(list)
                .setRequestedAt(requestedAt)
                .setPredictedAt(Instant.ofEpochMilli(System.currentTimeMillis()))
                .setTimings(timings)
                .setFlags(p.flags())
                .setSource(p.source())
                .setClinicalInfluence(p.influence())
                .setReferral(referralThreshold == null ? null : probs[best] < referralThreshold.floatValue())
                .build();
    }

    /**
     * Same request (id and content), same model version: same id, so a replay is recognisable downstream; a reused
     * id with other content gets another id.
     */
    static String predictionId(String requestId, byte[] digest, ModelIdentity model) {
        String name = requestId + "\u0000" + (digest == null ? "" : RequestDigest.hex(digest)) + "\u0000"
                + model.getName() + "\u0000" + model.getVersion();
        return UUID.nameUUIDFromBytes(name.getBytes(java.nio.charset.StandardCharsets.UTF_8)).toString();
    }

    private static double millis(long nanos) {
        return nanos / (double) TimeUnit.MILLISECONDS.toNanos(1);
    }

    @Override
    public void close() {
        synchronized (lock) {
            closed = true;
            int dropped = 0;
            while (done.poll() != null) {
                dropped++;
            }
            backlog.dropped(dropped);
        }
        // requests still waiting for a permit hold none: they stay pending for the next owner
        waiting.clear();
        undecoded.clear();
        held.clear();
    }
}
