package io.medfuse.worker.pipeline;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

import io.medfuse.events.FailureReason;
import io.medfuse.events.ImagePayload;
import io.medfuse.events.ImagingRequest;
import io.medfuse.events.ModelIdentity;
import io.medfuse.events.Patient;
import io.medfuse.model.contract.FeatureSpec;
import io.medfuse.model.contract.ModelContract;
import io.medfuse.model.image.ImageDecodeException;
import io.medfuse.model.image.ImageLimits;
import io.medfuse.model.image.ImagePreprocessor;
import io.medfuse.model.image.ImageTooLargeException;
import io.medfuse.model.image.UnsupportedMediaTypeException;
import io.medfuse.model.tabular.EncodedRow;
import io.medfuse.model.tabular.InvalidFeatureException;
import io.medfuse.model.tabular.TabularEncoder;
import io.medfuse.worker.batch.BatchCallback;
import io.medfuse.worker.batch.BatchStats;
import io.medfuse.worker.batch.BatcherClosedException;
import io.medfuse.worker.batch.MicroBatcher;
import io.medfuse.worker.metrics.WorkerMetrics;

/**
 * Everything between a decoded request and its outcome, shared by all stream tasks of an instance: cheap checks
 * and tabular encoding on the calling (stream) thread; image fetch, decode, resize and normalise on a pool sized to
 * the cores; then the {@link MicroBatcher} and the model. In-flight requests are bounded by a semaphore the caller
 * acquires before {@link #submit}; the permit is released when the outcome is known.
 *
 * <p>Owns the pool and the batcher; the classifier is owned by whoever built it (closed after this pipeline).
 */
public final class RequestPipeline implements AutoCloseable {

    /** Prepared tabular input and its flags, from {@link #validate}. */
    public record Validated(float[] tabular, List<String> flags) {
    }

    /** Pipeline limits. */
    public record Settings(int preprocessThreads, int maxInFlight, int maxBatchSize, long maxQueueDelayMs,
                           ImageLimits imageLimits, List<String> referenceSchemes, Duration referenceTimeout) {
    }

    private final Classifier classifier;
    private final ImagePreprocessor preprocessor;
    private final TabularEncoder tabularEncoder;
    private final ImageFetcher fetcher;
    private final ExecutorService pool;
    private final MicroBatcher batcher;
    private final Semaphore inFlight;
    private final int maxInFlight;
    private final WorkerMetrics metrics;

    public RequestPipeline(Classifier classifier, Settings settings) {
        this(classifier, settings, WorkerMetrics.NONE);
    }

    /** @param metrics told about every batch here, and about requests and outcomes by the topology */
    public RequestPipeline(Classifier classifier, Settings settings, WorkerMetrics metrics) {
        this.classifier = classifier;
        this.metrics = metrics;
        ModelContract contract = classifier.contract();
        this.preprocessor = new ImagePreprocessor(contract.image(), settings.imageLimits());
        this.tabularEncoder = new TabularEncoder(contract.tabular());
        this.fetcher = new ImageFetcher(settings.referenceSchemes(), settings.imageLimits().maxBytes(),
                settings.referenceTimeout());
        this.pool = Executors.newFixedThreadPool(settings.preprocessThreads(), daemonThreads("medfuse-preprocess"));
        this.batcher = new MicroBatcher(classifier, settings.maxBatchSize(), settings.maxQueueDelayMs());
        this.maxInFlight = settings.maxInFlight();
        this.inFlight = new Semaphore(maxInFlight);
    }

    public ModelIdentity identity() {
        return classifier.identity();
    }

    public ModelContract contract() {
        return classifier.contract();
    }

    /** Where this instance reports what it does ({@link WorkerMetrics#NONE} when nobody listens). */
    public WorkerMetrics metrics() {
        return metrics;
    }

    /**
     * Cheap checks and tabular encoding, on the stream thread.
     *
     * @throws RequestRejectedException with the dead-letter reason
     */
    public Validated validate(ImagingRequest request) {
        if (request.getRequestId() == null || request.getRequestId().isBlank()) {
            throw new RequestRejectedException(FailureReason.INVALID_FIELD, "requestId is empty");
        }
        ImagePayload image = request.getImage();
        boolean hasData = image.getData() != null && image.getData().hasRemaining();
        boolean hasRef = image.getReference() != null;
        if (hasData && hasRef) {
            throw new RequestRejectedException(FailureReason.INVALID_FIELD,
                    "image has both inline data and a reference; send exactly one");
        }
        if (!hasData && !hasRef) {
            throw new RequestRejectedException(FailureReason.IMAGE_MISSING,
                    "image has neither inline data nor a reference");
        }
        String mediaType = normalisedMediaType(image.getMediaType());
        if (!mediaType.equals("image/png") && !mediaType.equals("image/jpeg") && !mediaType.equals("image/jpg")) {
            throw new RequestRejectedException(FailureReason.UNSUPPORTED_MEDIA_TYPE, "image.mediaType '"
                    + abbreviate(image.getMediaType()) + "' is not supported; send image/png or image/jpeg");
        }
        if (hasRef) {
            fetcher.check(image.getReference());
        }
        try {
            EncodedRow row = tabularEncoder.encode(features(request));
            return new Validated(row.values(), row.flags());
        } catch (InvalidFeatureException e) {
            throw new RequestRejectedException(FailureReason.INVALID_FIELD, e.getMessage(), e);
        }
    }

    /** The request's values by feature name: age and sex from the patient, everything else from clinical. */
    private Map<String, Object> features(ImagingRequest request) {
        Map<String, Object> values = new HashMap<>();
        Patient patient = request.getPatient();
        Map<String, Object> clinical = request.getClinical();
        for (FeatureSpec f : classifier.contract().tabular()) {
            Object v = switch (f.name()) {
                case "age" -> patient == null ? null : patient.getAgeYears();
                case "sex" -> patient == null ? null : patient.getSex();
                default -> clinical == null ? null : clinical.get(f.name());
            };
            values.put(f.name(), v);
        }
        return values;
    }

    /**
     * Waits for room in the in-flight bound.
     *
     * @return false when none came within the timeout
     */
    public boolean tryAcquire(long timeoutMillis) throws InterruptedException {
        return inFlight.tryAcquire(timeoutMillis, TimeUnit.MILLISECONDS);
    }

    /** Requests between {@link #tryAcquire} and their outcome. */
    public int inFlight() {
        return maxInFlight - inFlight.availablePermits();
    }

    /**
     * Preprocesses the image on the pool and queues the request for a batch. The caller holds one permit from
     * {@link #tryAcquire}; it is released before {@code done} is called. {@code done} runs on a pool or batcher
     * thread and must not block. When the pipeline closes first, {@code done} is never called.
     */
    public void submit(ImagingRequest request, Validated validated, long arrivalNanos, Consumer<Outcome> done) {
        try {
            pool.execute(() -> preprocess(request, validated, arrivalNanos, done));
        } catch (RejectedExecutionException e) {
            inFlight.release();
        }
    }

    private void preprocess(ImagingRequest request, Validated validated, long arrivalNanos,
                            Consumer<Outcome> done) {
        long start = System.nanoTime();
        float[] image;
        try {
            ImagePayload payload = request.getImage();
            byte[] bytes;
            if (payload.getReference() != null) {
                bytes = fetcher.fetch(payload.getReference());
            } else {
                bytes = inlineBytes(payload.getData());
            }
            image = preprocessor.preprocess(bytes, payload.getMediaType());
        } catch (RequestRejectedException e) {
            finish(done, new Outcome.Failed(e.reason(), e.getMessage()));
            return;
        } catch (ImageTooLargeException e) {
            finish(done, new Outcome.Failed(FailureReason.IMAGE_TOO_LARGE, e.getMessage()));
            return;
        } catch (UnsupportedMediaTypeException e) {
            finish(done, new Outcome.Failed(FailureReason.UNSUPPORTED_MEDIA_TYPE, e.getMessage()));
            return;
        } catch (ImageDecodeException e) {
            finish(done, new Outcome.Failed(FailureReason.IMAGE_UNDECODABLE, e.getMessage()));
            return;
        } catch (RuntimeException e) {
            // a decoder bug on odd input must not cost the request its answer
            finish(done, new Outcome.Failed(FailureReason.IMAGE_UNDECODABLE,
                    "the image could not be decoded: " + e));
            return;
        }
        long preprocessNanos = System.nanoTime() - start;
        try {
            batcher.submit(image, validated.tabular(), new BatchCallback() {
                @Override
                public void completed(float[] probabilities, BatchStats stats) {
                    metrics.batchCompleted(stats);
                    finish(done, new Outcome.Predicted(probabilities, validated.flags(), stats, arrivalNanos,
                            preprocessNanos));
                }

                @Override
                public void failed(RuntimeException error, BatchStats stats) {
                    if (error instanceof BatcherClosedException) {
                        inFlight.release();
                        return;
                    }
                    finish(done, new Outcome.Failed(FailureReason.MODEL_ERROR, "the model failed on this request: "
                            + error.getMessage()));
                }
            });
        } catch (BatcherClosedException e) {
            inFlight.release();
        }
    }

    /** The image bytes without a copy when Avro's buffer is exactly them (the usual case after decoding). */
    private static byte[] inlineBytes(java.nio.ByteBuffer data) {
        if (data.hasArray() && data.arrayOffset() == 0 && data.position() == 0
                && data.remaining() == data.array().length) {
            return data.array();
        }
        java.nio.ByteBuffer copy = data.duplicate();
        byte[] bytes = new byte[copy.remaining()];
        copy.get(bytes);
        return bytes;
    }

    private void finish(Consumer<Outcome> done, Outcome outcome) {
        inFlight.release();
        done.accept(outcome);
    }

    /** Requests this instance has run through the model so far. */
    public long inferred() {
        return batcher.requestCount();
    }

    /** Requests waiting for a batch. */
    public int queuedForBatch() {
        return batcher.queued();
    }

    /** Stops the pool and the batcher; requests still inside get no outcome (they stay pending upstream). */
    @Override
    public void close() {
        pool.shutdownNow();
        try {
            pool.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        batcher.close();
    }

    static String normalisedMediaType(String mediaType) {
        if (mediaType == null) {
            return "";
        }
        int semi = mediaType.indexOf(';');
        return (semi >= 0 ? mediaType.substring(0, semi) : mediaType).trim().toLowerCase(Locale.ROOT);
    }

    private static String abbreviate(String s) {
        return s == null ? "null" : s.length() <= 60 ? s : s.substring(0, 60) + "…";
    }

    static ThreadFactory daemonThreads(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}
