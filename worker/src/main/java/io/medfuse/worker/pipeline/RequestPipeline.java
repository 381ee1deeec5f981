package io.medfuse.worker.pipeline;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import io.medfuse.events.FailureReason;
import io.medfuse.events.ImagePayload;
import io.medfuse.events.ImageReference;
import io.medfuse.events.ImagingRequest;
import io.medfuse.events.ModelIdentity;
import io.medfuse.events.Patient;
import io.medfuse.events.SourceRef;
import io.medfuse.model.contract.FeatureSource;
import io.medfuse.model.contract.FeatureSpec;
import io.medfuse.model.contract.SourceValues;
import io.medfuse.model.tabular.FeatureResolver;
import io.medfuse.model.contract.ModelContract;
import io.medfuse.model.image.ImageDecodeException;
import io.medfuse.model.image.ImageLimits;
import io.medfuse.model.image.ImagePreprocessor;
import io.medfuse.model.image.ImageTensor;
import io.medfuse.model.image.ImageTooLargeException;
import io.medfuse.model.image.DicomDataset;
import io.medfuse.model.image.DicomObject;
import io.medfuse.model.image.DicomParser;
import io.medfuse.model.image.DicomPatientData;
import io.medfuse.model.image.DicomTags;
import io.medfuse.model.image.UnsupportedMediaTypeException;
import io.medfuse.model.image.UnsupportedTransferSyntaxException;
import io.medfuse.model.tabular.EncodedRow;
import io.medfuse.model.tabular.InvalidFeatureException;
import io.medfuse.worker.batch.BatchStats;
import io.medfuse.worker.batch.MicroBatcher;
import io.medfuse.worker.metrics.WorkerMetrics;

/**
 * Everything between a decoded request and its outcome, shared by all stream tasks of an instance: cheap checks
 * and tabular encoding on the calling (stream) thread ({@link #validate}); then, per request, one future
 * ({@link #submit}): the image fetched on the I/O pool (references) or taken inline, decoded, resized and
 * normalised on the preprocessing pool, queued in the {@link MicroBatcher} and run by the model.
 *
 * <p>Every future completes, exactly once: with a prediction, with the exception that says why not
 * ({@link Failures#classify} turns it into a dead-letter reason), at the latest when the request's deadline
 * ({@code request.deadline.ms}) passes ({@link RequestTimedOutException}; the work still running for it is
 * cancelled), or, when the pipeline closes first, with {@link PipelineClosedException} (no answer: the request stays
 * pending upstream). Callers attach what they need to the future; nothing here calls back into them.
 *
 * <p>Owns its pools, its timer and the batcher; the classifier is owned by whoever built it (closed after this
 * pipeline).
 */
public final class RequestPipeline implements AutoCloseable {

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(RequestPipeline.class);

    /** Longest request id, clinical key, string value, sex, media type or source field accepted, in characters. */
    public static final int MAX_ID_LENGTH = 256;
    static final int MAX_CLINICAL_ENTRIES = 64;
    static final int MAX_TEXT_LENGTH = 1024;

    /**
     * Prepared tabular input and its flags, from {@link #validate}.
     *
     * @param model the generation whose contract encoded them (the primary at the time)
     */
    public record Validated(float[] tabular, List<String> flags, ModelGeneration model) {
    }

    /**
     * Which model answers which request: the primary; a canary that answers the share of request ids whose
     * {@link #bucket} is below {@code canaryShare}; a shadow that runs beside whichever answered and whose
     * predictions go elsewhere. Immutable; replaced as a whole.
     */
    private record Routing(ModelGeneration primary, ModelGeneration canary, double canaryShare,
                           ModelGeneration shadow) {

        ModelGeneration answering(String requestId) {
            return canary != null && canaryShare > 0 && bucket(requestId) < canaryShare ? canary : primary;
        }
    }

    /**
     * Pipeline settings.
     *
     * @param preprocessThreads decode/resize threads
     * @param maxBatchSize largest model batch
     * @param maxQueueDelayMs longest wait of a request for its batch to fill
     * @param imageLimits encoded size and pixel limits
     * @param references where image references may be fetched from
     * @param requestDeadline longest time from {@link #submit} to the outcome
     * @param requestedAtMaxSkew a requestedAt further in the future is flagged
     * @param requestedAtMaxAge a requestedAt older than this is flagged
     * @param dicomFrame the 0-based frame read from multi-frame DICOM objects
     * @param readsPatientId whether a DICOM object's PatientID is read (for a FHIR output that names the patient);
     *                       off, it is never looked at
     * @param influence whether each request also runs with its clinical data masked ({@link InfluenceProbe})
     * @param influencePerFeature and with each feature masked alone (only with {@code influence})
     * @param referralThreshold predictions whose top probability is below it are marked for referral; null: the
     *                          contract's (none when it has none); 0: never
     * @param adaptiveBatching each model's batcher learns which batch sizes pay and caps batches there
     *                         ({@code batch.adaptive}; {@code maxBatchSize} stays the bound)
     */
    public record Settings(int preprocessThreads, int maxBatchSize, long maxQueueDelayMs, ImageLimits imageLimits,
                           ReferencePolicy references, Duration requestDeadline, Duration requestedAtMaxSkew,
                           Duration requestedAtMaxAge, int dicomFrame, boolean readsPatientId, boolean influence,
                           boolean influencePerFeature, Double referralThreshold, boolean adaptiveBatching,
                           int concurrentRuns) {

        public Settings(int preprocessThreads, int maxBatchSize, long maxQueueDelayMs, ImageLimits imageLimits,
                        ReferencePolicy references, Duration requestDeadline, Duration requestedAtMaxSkew,
                        Duration requestedAtMaxAge, int dicomFrame, boolean readsPatientId, boolean influence,
                        boolean influencePerFeature, Double referralThreshold, boolean adaptiveBatching) {
            this(preprocessThreads, maxBatchSize, maxQueueDelayMs, imageLimits, references, requestDeadline,
                    requestedAtMaxSkew, requestedAtMaxAge, dicomFrame, readsPatientId, influence, influencePerFeature,
                    referralThreshold, adaptiveBatching, 1);
        }

        public Settings(int preprocessThreads, int maxBatchSize, long maxQueueDelayMs, ImageLimits imageLimits,
                        ReferencePolicy references, Duration requestDeadline, Duration requestedAtMaxSkew,
                        Duration requestedAtMaxAge, int dicomFrame, boolean readsPatientId, boolean influence,
                        boolean influencePerFeature, Double referralThreshold) {
            this(preprocessThreads, maxBatchSize, maxQueueDelayMs, imageLimits, references, requestDeadline,
                    requestedAtMaxSkew, requestedAtMaxAge, dicomFrame, readsPatientId, influence, influencePerFeature,
                    referralThreshold, false);
        }

        public Settings(int preprocessThreads, int maxBatchSize, long maxQueueDelayMs, ImageLimits imageLimits,
                        ReferencePolicy references, Duration requestDeadline, Duration requestedAtMaxSkew,
                        Duration requestedAtMaxAge, int dicomFrame) {
            this(preprocessThreads, maxBatchSize, maxQueueDelayMs, imageLimits, references, requestDeadline,
                    requestedAtMaxSkew, requestedAtMaxAge, dicomFrame, false, false, false, null);
        }

        /** These settings with the clinical-data influence measured (or not). */
        public Settings withInfluence(boolean on, boolean perFeature) {
            return new Settings(preprocessThreads, maxBatchSize, maxQueueDelayMs, imageLimits, references,
                    requestDeadline, requestedAtMaxSkew, requestedAtMaxAge, dicomFrame, readsPatientId, on,
                    on && perFeature, referralThreshold, adaptiveBatching, concurrentRuns);
        }

        /** These settings with a referral threshold (null: the contract's; 0: never refer). */
        public Settings withReferralThreshold(Double threshold) {
            return new Settings(preprocessThreads, maxBatchSize, maxQueueDelayMs, imageLimits, references,
                    requestDeadline, requestedAtMaxSkew, requestedAtMaxAge, dicomFrame, readsPatientId, influence,
                    influencePerFeature, threshold, adaptiveBatching, concurrentRuns);
        }
    }

    /** The media types {@code image.mediaType} may name (parameters and case aside). */
    static final Set<String> SUPPORTED_MEDIA_TYPES = Set.of("image/png", "image/jpeg", "image/jpg",
            "application/dicom");

    /** Flag on a prediction whose requestedAt is implausible; latency figures leave it out. */
    public static final String REQUESTED_AT_IMPLAUSIBLE = "requestedAt:implausible";

    private final Settings settings;
    /** Replaced whole by {@link #install}, under {@link #routingLock}; read without it. */
    private volatile Routing routing;
    private final Object routingLock = new Object();
    private final MicroBatcher.Listener batchListener;
    /** Closes retired generations off the request path. */
    private final ExecutorService retirer;
    /** Every generation not closed yet (serving, or retired and draining); pruned on {@link #install}. */
    private final List<ModelGeneration> generations = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final AtomicLong inferred = new AtomicLong();
    private final RecentSources recent = new RecentSources(256);
    /** Told what the shadow made of each request; null: none listens (a shadow then does not run). */
    private volatile ShadowSink shadowSink;
    private final AtomicInteger shadowOutstanding = new AtomicInteger();
    private volatile int shadowLimit = 256;
    private final ImageFetcher fetcher;
    private final ExecutorService cpu;
    private final ExecutorService io;
    private final ScheduledThreadPoolExecutor timer;
    private final WorkerMetrics metrics;
    private final Set<CompletableFuture<Outcome.Predicted>> outstanding = ConcurrentHashMap.newKeySet();
    private final AtomicLong lastProgressNanos = new AtomicLong(System.nanoTime());
    private final AtomicInteger consecutiveFailedRuns = new AtomicInteger();
    private volatile boolean closed;

    /**
     * The top probability below which the primary's predictions are marked for referral: the configured one, else
     * the contract's calibration's; null when neither sets one (or the configuration says 0).
     */
    public Double referralThreshold() {
        return routing.primary().referralThreshold();
    }

    public RequestPipeline(Classifier classifier, Settings settings) {
        this(classifier, settings, WorkerMetrics.NONE);
    }

    /** @param metrics told about every batch here, and about requests and outcomes by the topology */
    public RequestPipeline(Classifier classifier, Settings settings, WorkerMetrics metrics) {
        this(classifier, false, settings, metrics);
    }

    /**
     * A pipeline that owns its first model: it closes it once another has taken its place and drained, or when the
     * pipeline closes (the worker's way; the other constructors leave the classifier to their caller).
     */
    public static RequestPipeline owning(Classifier classifier, Settings settings, WorkerMetrics metrics) {
        return new RequestPipeline(classifier, true, settings, metrics);
    }

    private RequestPipeline(Classifier classifier, boolean owned, Settings settings, WorkerMetrics metrics) {
        this.settings = settings;
        this.metrics = metrics;
        this.cpu = Executors.newFixedThreadPool(settings.preprocessThreads(), daemonThreads("medfuse-preprocess"));
        // I/O waits (file reads, name lookups, HTTP callbacks) never take a decoding thread
        this.io = Executors.newFixedThreadPool(Math.max(4, 2 * settings.preprocessThreads()),
                daemonThreads("medfuse-fetch"));
        this.timer = new ScheduledThreadPoolExecutor(1, daemonThreads("medfuse-deadlines"));
        this.timer.setRemoveOnCancelPolicy(true);
        // a thread per close: one retired model stuck in a long native run must not keep the next ones open
        this.retirer = Executors.newCachedThreadPool(daemonThreads("medfuse-model-retire"));
        this.fetcher = new ImageFetcher(settings.references(), settings.imageLimits().maxBytes(), io, timer);
        this.batchListener = new MicroBatcher.Listener() {
            @Override
            public void batchCompleted(BatchStats stats) {
                inferred.addAndGet(stats.batchSize());
                consecutiveFailedRuns.set(0);
                lastProgressNanos.set(System.nanoTime());
                metrics.batchCompleted(stats);
            }

            @Override
            public void batchFailed(BatchStats stats, RuntimeException error) {
                if (stats.batchSize() == 1) {
                    inferred.incrementAndGet(); // answered with its MODEL_ERROR
                }
                consecutiveFailedRuns.incrementAndGet();
                lastProgressNanos.set(System.nanoTime());
                metrics.batchFailed(stats);
            }
        };
        this.routing = new Routing(generation(classifier, owned, false, true), null, 0, null);
    }

    /**
     * A generation for a classifier, with this pipeline's settings (starts its batcher). A shadow's runs are its
     * own: they count in the model's metrics but never in the stall signals (a hanging or failing shadow must not
     * make the worker look stuck and get it restarted), nor in the batch figures of the answers.
     */
    private ModelGeneration generation(Classifier classifier, boolean owned, boolean shadow, boolean sweep) {
        ModelIdentity id = classifier.identity();
        MicroBatcher.Listener listener = new MicroBatcher.Listener() {
            @Override
            public void batchCompleted(BatchStats stats) {
                if (shadow) {
                    inferred.addAndGet(stats.batchSize());
                } else {
                    batchListener.batchCompleted(stats);
                }
            }

            @Override
            public void batchFailed(BatchStats stats, RuntimeException error) {
                if (!shadow) {
                    batchListener.batchFailed(stats, error);
                }
                metrics.modelRunFailed(id);
            }
        };
        ModelGeneration g = new ModelGeneration(classifier, owned, shadow, settings, listener, retirer, sweep);
        generations.removeIf(ModelGeneration::isClosed);
        generations.add(g);
        return g;
    }

    /** The roles a model can have in the pipeline. */
    public enum Role {
        /** Answers every request the canary does not. */
        PRIMARY,
        /** Answers the share of requests its share says, chosen by request id. */
        CANARY,
        /** Runs beside the answering model; its predictions never answer a request. */
        SHADOW
    }

    /**
     * Puts a loaded, checked and warmed-up model in a role, between two batches: requests that enter the pipeline
     * from now on are bound to it (a canary's share of them); those already inside finish with the model they were
     * bound to, which then closes. The pipeline owns the classifier from here on.
     *
     * @param share for a canary, the share of request ids it answers (0 to 1); ignored otherwise
     */
    public void install(Role role, Classifier classifier, double share) {
        // not swept: the swap would wait seconds for it on a large model; it learns from its runs
        ModelGeneration g = generation(classifier, true, role == Role.SHADOW, false);
        synchronized (routingLock) {
            if (closed) {
                g.closeNow();
                throw new PipelineClosedException();
            }
            Routing r = routing;
            ModelGeneration replaced;
            switch (role) {
                case PRIMARY -> {
                    replaced = r.primary();
                    routing = new Routing(g, r.canary(), r.canaryShare(), r.shadow());
                }
                case CANARY -> {
                    replaced = r.canary();
                    routing = new Routing(r.primary(), g, clampShare(share), r.shadow());
                }
                default -> {
                    replaced = r.shadow();
                    routing = new Routing(r.primary(), r.canary(), r.canaryShare(), g);
                }
            }
            if (replaced != null) {
                replaced.retire();
            }
            metrics.modelsServing(serving());
        }
    }

    /** The identity of each model serving now, by role (lower case). */
    public Map<String, ModelIdentity> serving() {
        Routing r = routing;
        Map<String, ModelIdentity> m = new java.util.LinkedHashMap<>();
        m.put("primary", r.primary().identity());
        if (r.canary() != null) {
            m.put("canary", r.canary().identity());
        }
        if (r.shadow() != null) {
            m.put("shadow", r.shadow().identity());
        }
        return m;
    }

    /** Changes the canary's share without reloading it (0: it answers nothing, 1: everything). */
    public void canaryShare(double share) {
        synchronized (routingLock) {
            Routing r = routing;
            routing = new Routing(r.primary(), r.canary(), r.canary() == null ? 0 : clampShare(share), r.shadow());
        }
    }

    /** Removes the canary or the shadow (a primary is only ever replaced); false when there was none. */
    public boolean remove(Role role) {
        synchronized (routingLock) {
            Routing r = routing;
            ModelGeneration removed = switch (role) {
                case CANARY -> r.canary();
                case SHADOW -> r.shadow();
                case PRIMARY -> throw new IllegalArgumentException("the primary model is replaced, never removed");
            };
            if (removed == null) {
                return false;
            }
            routing = role == Role.CANARY ? new Routing(r.primary(), null, 0, r.shadow())
                    : new Routing(r.primary(), r.canary(), r.canaryShare(), null);
            removed.retire();
            metrics.modelsServing(serving());
            return true;
        }
    }

    /**
     * Where the shadow's predictions go (its own topic in the worker), and how many requests it may hold at once
     * (beyond that it skips requests).
     */
    public void shadowSink(ShadowSink sink, int limit) {
        this.shadowSink = sink;
        this.shadowLimit = Math.max(1, limit);
    }

    /**
     * What the shadow made of a request. Called on a pipeline thread (the batcher's, or a preprocessing one); must
     * not block. An exception thrown here is logged and goes nowhere else.
     */
    public interface ShadowSink {
        /** The shadow's prediction (its model names the shadow; its patient is never read). */
        void predicted(ImagingRequest request, Outcome.Predicted shadow);

        /** The shadow could not answer the request; the request's own answer is unaffected. */
        void failed(ImagingRequest request, ModelGeneration shadow, Throwable error);
    }

    /** The model in a role now, or null. */
    public ModelGeneration model(Role role) {
        Routing r = routing;
        return switch (role) {
            case PRIMARY -> r.primary();
            case CANARY -> r.canary();
            case SHADOW -> r.shadow();
        };
    }

    /** The canary's share of requests (0 without a canary). */
    public double canaryShare() {
        return routing.canaryShare();
    }

    private static double clampShare(double share) {
        if (!(share >= 0 && share <= 1)) {
            throw new IllegalArgumentException("a canary share is between 0 and 1, got " + share);
        }
        return share;
    }

    /**
     * Where a request id falls in [0, 1): the first 53 bits of its SHA-256. The same on every worker and for every
     * copy of the request, and a share that grows keeps the ids it had.
     */
    public static double bucket(String requestId) {
        byte[] h;
        try {
            h = java.security.MessageDigest.getInstance("SHA-256")
                    .digest(requestId.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
        long bits = 0;
        for (int i = 0; i < 8; i++) {
            bits = bits << 8 | (h[i] & 0xff);
        }
        return (bits >>> 11) / (double) (1L << 53);
    }

    /** The primary model's identity (what the dead letters name). */
    public ModelIdentity identity() {
        return routing.primary().identity();
    }

    /** The primary model's contract. */
    public ModelContract contract() {
        return routing.primary().contract();
    }

    /** Where this instance reports what it does ({@link WorkerMetrics#NONE} when nobody listens). */
    public WorkerMetrics metrics() {
        return metrics;
    }

    /**
     * Cheap checks and tabular encoding, on the stream thread: every field a producer controls is bounded here,
     * before anything is fetched or decoded.
     *
     * @throws RequestRejectedException with the dead-letter reason
     */
    public Validated validate(ImagingRequest request) {
        String id = request.getRequestId();
        if (id == null || id.isBlank()) {
            throw new RequestRejectedException(FailureReason.INVALID_FIELD, "requestId is empty");
        }
        if (id.length() > MAX_ID_LENGTH || id.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
            throw new RequestRejectedException(FailureReason.INVALID_FIELD, "requestId must be 1 to "
                    + MAX_ID_LENGTH + " characters without control characters");
        }
        checkText("image.mediaType", request.getImage().getMediaType(), MAX_ID_LENGTH);
        checkSource(request.getSource());
        Patient patient = request.getPatient();
        if (patient != null) {
            checkText("patient.sex", patient.getSex(), MAX_ID_LENGTH);
        }
        Map<String, Object> clinical = request.getClinical();
        if (clinical != null) {
            if (clinical.size() > MAX_CLINICAL_ENTRIES) {
                throw new RequestRejectedException(FailureReason.INVALID_FIELD, "clinical has " + clinical.size()
                        + " entries; at most " + MAX_CLINICAL_ENTRIES + " are accepted");
            }
            for (Map.Entry<String, Object> e : clinical.entrySet()) {
                if (e.getKey().isEmpty() || e.getKey().length() > MAX_ID_LENGTH) {
                    throw new RequestRejectedException(FailureReason.INVALID_FIELD, "a clinical key must be 1 to "
                            + MAX_ID_LENGTH + " characters");
                }
                if (e.getValue() instanceof CharSequence s && s.length() > MAX_TEXT_LENGTH) {
                    throw new RequestRejectedException(FailureReason.INVALID_FIELD, "clinical value '"
                            + abbreviate(e.getKey()) + "' is longer than " + MAX_TEXT_LENGTH + " characters");
                }
            }
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
        if (hasData && image.getData().remaining() > settings.imageLimits().maxBytes()) {
            throw new RequestRejectedException(FailureReason.IMAGE_TOO_LARGE, "the inline image has "
                    + image.getData().remaining() + " bytes, more than image.max.bytes = "
                    + settings.imageLimits().maxBytes());
        }
        String mediaType = normalisedMediaType(image.getMediaType());
        if (!SUPPORTED_MEDIA_TYPES.contains(mediaType)) {
            throw new RequestRejectedException(FailureReason.UNSUPPORTED_MEDIA_TYPE, "image.mediaType '"
                    + abbreviate(image.getMediaType()) + "' is not supported; send image/png, image/jpeg or "
                    + "application/dicom");
        }
        if (hasRef) {
            fetcher.check(image.getReference());
        }
        Validated v = encodeFor(routing.primary(), request, implausible(request.getRequestedAt()));
        recent.add(request);
        return v;
    }

    /**
     * The features of a contract that none of the last requests supplied (every one of them would have been
     * imputed); empty when too few requests were seen to judge.
     */
    public List<String> unsuppliedFeatures(ModelContract contract) {
        return recent.unsupplied(contract);
    }

    /** How many recent requests {@link #unsuppliedFeatures} judges by. */
    public int recentRequests() {
        return recent.size();
    }

    /** The request's features encoded by one model's contract. */
    private Validated encodeFor(ModelGeneration model, ImagingRequest request, boolean implausibleTime) {
        Encoded row = encode(model, new RequestSources(request, null));
        List<String> flags = row.flags();
        if (implausibleTime) {
            flags = new ArrayList<>(flags);
            flags.add(REQUESTED_AT_IMPLAUSIBLE);
            flags = List.copyOf(flags);
        }
        return new Validated(row.values(), flags, model);
    }

    private record Encoded(float[] values, List<String> flags) {
    }

    /**
     * The request's features through the contract's sources. A value a DICOM tag supplied outside a numeric
     * feature's range is the modality's, not the producer's: it is dropped (imputed or read from the next source)
     * and flagged {@code <feature>:dicom-invalid}, where a request field out of range is INVALID_FIELD.
     */
    private static Encoded encode(ModelGeneration model, RequestSources sources) {
        FeatureResolver.Resolution r = model.featureResolver.resolveWithFlags(sources);
        Map<String, Object> values = r.values();
        List<String> resolutionFlags = r.flags();
        if (sources.dicom != null) {
            values = new java.util.HashMap<>(values);
            List<String> adjusted = new ArrayList<>(resolutionFlags);
            for (FeatureSpec f : model.numericFeatures) {
                FeatureSpec.Numeric n = (FeatureSpec.Numeric) f;
                if (adjusted.contains(n.name() + ":from-dicom") && values.get(n.name()) instanceof Number v
                        && (n.min() != null && v.doubleValue() < n.min()
                        || n.max() != null && v.doubleValue() > n.max())) {
                    values.put(n.name(), null);
                    adjusted.remove(n.name() + ":from-dicom");
                    adjusted.add(n.name() + ":dicom-invalid");
                }
            }
            resolutionFlags = adjusted;
        }
        EncodedRow row;
        try {
            row = model.tabularEncoder.encode(values);
        } catch (InvalidFeatureException e) {
            throw new RequestRejectedException(FailureReason.INVALID_FIELD, e.getMessage(), e);
        }
        if (resolutionFlags.isEmpty()) {
            return new Encoded(row.values(), row.flags());
        }
        List<String> flags = new ArrayList<>(row.flags());
        flags.addAll(resolutionFlags);
        return new Encoded(row.values(), List.copyOf(flags));
    }

    private boolean implausible(Instant requestedAt) {
        if (requestedAt == null) {
            return true;
        }
        long now = System.currentTimeMillis();
        long at = requestedAt.toEpochMilli();
        return at > now + settings.requestedAtMaxSkew().toMillis() || at < now - settings.requestedAtMaxAge().toMillis();
    }

    private static void checkSource(SourceRef source) {
        if (source == null) {
            return;
        }
        checkText("source.system", source.getSystem(), MAX_ID_LENGTH);
        checkText("source.studyInstanceUid", source.getStudyInstanceUid(), MAX_ID_LENGTH);
        checkText("source.seriesInstanceUid", source.getSeriesInstanceUid(), MAX_ID_LENGTH);
        checkText("source.sopInstanceUid", source.getSopInstanceUid(), MAX_ID_LENGTH);
    }

    private static void checkText(String field, String value, int max) {
        if (value != null && value.length() > max) {
            throw new RequestRejectedException(FailureReason.INVALID_FIELD, field + " is longer than " + max
                    + " characters");
        }
    }

    /** The request's values by source, for {@link FeatureResolver}: the contract says which source feeds what. */
    private record RequestSources(ImagingRequest request, DicomDataset dicom) implements SourceValues {
        @Override
        public Object patientAgeYears() {
            Patient p = request.getPatient();
            return p == null ? null : p.getAgeYears();
        }

        @Override
        public Object patientSex() {
            Patient p = request.getPatient();
            return p == null ? null : p.getSex();
        }

        @Override
        public Object clinical(String key) {
            Map<String, Object> clinical = request.getClinical();
            return clinical == null ? null : clinical.get(key);
        }

        @Override
        public Object dicom(FeatureSource.DicomAttribute attribute) {
            return dicom == null ? null : DicomPatientData.value(dicom, attribute);
        }
    }

    /** The pixels, features, flags, source and (when read) PatientID of a request whose image has been read. */
    private record Prepared(ImageTensor pixels, float[] tabular, List<String> flags, SourceRef source,
                            PatientIdentifier patient, DicomDataset dicom) {

        Prepared(ImageTensor pixels, float[] tabular, List<String> flags, SourceRef source) {
            this(pixels, tabular, flags, source, null, null);
        }
    }

    /** A shadow's input for one request: the pixels (shared when its image spec matches), its features, flags. */
    private record ShadowInput(ImageTensor pixels, float[] tabular, List<String> flags) {
    }

    /**
     * A DICOM image is parsed once: its pixels, and, when the contract reads DICOM tags, the features again with
     * the tags beside the request's fields; its Study, Series and SOP Instance UIDs fill what the request's
     * {@code source} leaves empty.
     */
    private Prepared prepare(ImagingRequest request, Validated validated, byte[] bytes, ImageReference ref) {
        ModelGeneration model = validated.model();
        ImagePreprocessor preprocessor = model.preprocessor;
        String mediaType = request.getImage().getMediaType();
        if (!"application/dicom".equals(normalisedMediaType(mediaType)) || !DicomParser.isPart10(bytes)) {
            // not DICOM, or bytes that are not: the preprocessor's checks name what they are
            return new Prepared(decode(model, bytes, mediaType, ref), validated.tabular(), validated.flags(),
                    request.getSource());
        }
        DicomObject dicom;
        ImageTensor pixels;
        try {
            if (bytes.length > settings.imageLimits().maxBytes()) {
                return new Prepared(decode(model, bytes, mediaType, ref), validated.tabular(),
                        validated.flags(), request.getSource());
            }
            dicom = DicomParser.parse(bytes, settings.imageLimits());
            pixels = preprocessor.decode(dicom);
        } catch (ImageTooLargeException | UnsupportedTransferSyntaxException e) {
            throw e;
        } catch (ImageDecodeException e) {
            if (ref == null) {
                throw e;
            }
            throw new ImageDecodeException("the image at " + ImageFetcher.describe(java.net.URI.create(ref.getUri()))
                    + " is not a decodable DICOM object: " + e.getMessage());
        } catch (RuntimeException e) {
            throw new ImageDecodeException("the DICOM object could not be decoded (" + e.getClass().getSimpleName()
                    + ")");
        }
        float[] tabular = validated.tabular();
        List<String> flags = validated.flags();
        if (model.readsDicomTags) {
            Encoded row = encode(model, new RequestSources(request, dicom.dataset()));
            tabular = row.values();
            List<String> merged = new ArrayList<>(row.flags());
            if (validated.flags().contains(REQUESTED_AT_IMPLAUSIBLE)) {
                merged.add(REQUESTED_AT_IMPLAUSIBLE);
            }
            flags = List.copyOf(merged);
        }
        PatientIdentifier patient = null;
        if (settings.readsPatientId()) {
            patient = PatientIdentifier.of(dicom.dataset()).orElse(null);
            if (patient != null && !patient.isValid()) {
                patient = null;
                List<String> withInvalid = new ArrayList<>(flags);
                withInvalid.add(PatientIdentifier.INVALID_FLAG);
                flags = List.copyOf(withInvalid);
            }
        }
        return new Prepared(pixels, tabular, flags, withDicomUids(request.getSource(), dicom.dataset()), patient,
                dicom.dataset());
    }

    /** The request's source, with the object's UIDs where the request gave none (only well-formed UIDs). */
    static SourceRef withDicomUids(SourceRef source, DicomDataset d) {
        SourceRef.Builder b = source == null ? SourceRef.newBuilder() : SourceRef.newBuilder(source);
        if (b.getStudyInstanceUid() == null) {
            b.setStudyInstanceUid(uid(d, DicomTags.STUDY_INSTANCE_UID));
        }
        if (b.getSeriesInstanceUid() == null) {
            b.setSeriesInstanceUid(uid(d, DicomTags.SERIES_INSTANCE_UID));
        }
        if (b.getSopInstanceUid() == null) {
            b.setSopInstanceUid(uid(d, DicomTags.SOP_INSTANCE_UID));
        }
        return b.build();
    }

    private static String uid(DicomDataset d, int tag) {
        return d.uid(tag).orElse(null);
    }

    /**
     * Fetches (or takes inline) and preprocesses the image, then queues the request for a batch. Never blocks and
     * never throws; the future says what became of the request (see the class comment).
     *
     * @param arrivalNanos when the stream thread took the request ({@link System#nanoTime()})
     */
    public CompletableFuture<Outcome.Predicted> submit(ImagingRequest request, Validated validated,
                                                       long arrivalNanos) {
        CompletableFuture<Outcome.Predicted> answer = new CompletableFuture<>();
        if (closed) {
            answer.completeExceptionally(new PipelineClosedException());
            return answer;
        }
        Validated bound;
        try {
            bound = bind(request, validated);
        } catch (RuntimeException e) {
            answer.completeExceptionally(e);
            return answer;
        }
        ModelGeneration model = bound.model();
        Validated input = bound;
        outstanding.add(answer);
        if (outstanding.size() == 1) {
            // work starts after an idle spell: the stall clock starts now, not at the last progress long ago
            lastProgressNanos.set(System.nanoTime());
        }
        AtomicReference<String> stage = new AtomicReference<>("waiting to be fetched");
        long deadlineMs = settings.requestDeadline().toMillis();
        ScheduledFuture<?> deadline = timer.schedule(
                () -> answer.completeExceptionally(new RequestTimedOutException(deadlineMs, stage.get())),
                deadlineMs, TimeUnit.MILLISECONDS);

        ImagePayload payload = request.getImage();
        ImageReference ref = payload.getReference();
        CompletableFuture<byte[]> bytes;
        if (ref != null) {
            stage.set("fetching its image");
            bytes = fetcher.fetch(ref);
        } else {
            bytes = CompletableFuture.completedFuture(inlineBytes(payload.getData()));
        }
        long[] preprocessNanos = new long[1];
        // whether this request's decoded image may be reused when it is answered: not when a shadow reads it too
        java.util.concurrent.atomic.AtomicBoolean recyclable = new java.util.concurrent.atomic.AtomicBoolean(true);
        CompletableFuture<Prepared> image = bytes.thenApplyAsync(b -> {
            if (answer.isDone()) {
                throw new java.util.concurrent.CancellationException("answered already (deadline)");
            }
            stage.set("decoding its image");
            long start = System.nanoTime();
            Prepared prepared = prepare(request, input, b, ref);
            preprocessNanos[0] = System.nanoTime() - start;
            if (routing.shadow() != null) {
                recyclable.set(false);
                // its own task: the shadow's preparation never delays this request's batch
                try {
                    cpu.execute(() -> shadow(request, model, prepared, b, arrivalNanos));
                } catch (java.util.concurrent.RejectedExecutionException e) {
                    // the pipeline is closing: no shadow
                }
            }
            return prepared;
        }, cpu);
        AtomicReference<Prepared> prepared = new AtomicReference<>();
        AtomicReference<CompletableFuture<MicroBatcher.Result>> queued = new AtomicReference<>();
        InfluenceProbe influence = model.influence;
        // set before the answer is checked, read after it completes: either the answer's completion sees it, or
        // this request is never queued, so a released image is never written
        java.util.concurrent.atomic.AtomicBoolean submitted = new java.util.concurrent.atomic.AtomicBoolean();
        image.thenCompose(p -> {
            prepared.set(p);
            submitted.set(true);
            if (answer.isDone()) {
                return CompletableFuture.<MicroBatcher.Result>failedFuture(
                        new java.util.concurrent.CancellationException("answered already (deadline)"));
            }
            stage.set("waiting for its batch or in the model");
            CompletableFuture<MicroBatcher.Result> f = influence == null
                    ? model.batcher.submit(p.pixels(), p.tabular())
                    : model.batcher.submit(p.pixels(), p.tabular(), influence.variants(p.tabular()));
            queued.set(f);
            if (answer.isDone()) {
                f.cancel(false); // the deadline passed meanwhile: the batcher leaves it out
            }
            return f;
        }).whenComplete((result, error) -> {
            if (error != null) {
                answer.completeExceptionally(Failures.unwrap(error));
            } else {
                Prepared p = prepared.get();
                answer.complete(new Outcome.Predicted(result.probabilities(), p.flags(), result.stats(),
                        arrivalNanos, preprocessNanos[0], p.source(), p.patient(),
                        influence == null ? null : influence.influence(result.probabilities(), result.variants()),
                        model));
            }
        });
        answer.whenComplete((p, error) -> {
            outstanding.remove(answer);
            deadline.cancel(false);
            Prepared done = prepared.get();
            if (done != null && recyclable.get() && (error == null || !submitted.get())) {
                // answered by its batch (or it never reached the batcher): nothing writes its tensor any more, so its
                // decoded samples can serve the next image; a request that failed while queued is left to the
                // collector, as its batch may still write it
                done.pixels().release();
            }
            model.release();
            if (error != null) {
                // whatever still runs for this request stops: the fetch closes its connection or file, a queued
                // request leaves the batcher's queue when its batch forms
                bytes.cancel(true);
                image.cancel(false);
                CompletableFuture<MicroBatcher.Result> q = queued.get();
                if (q != null) {
                    q.cancel(false);
                }
                if (!(error instanceof RequestTimedOutException) && !(error instanceof PipelineClosedException)) {
                    lastProgressNanos.set(System.nanoTime());
                }
            }
        });
        return answer;
    }

    /**
     * Runs the shadow, if any, on what was prepared for the answering model: the same pixels where its image spec
     * is the same (decoded once), else the same bytes decoded its way; its own features. Whatever happens to it
     * goes to the {@link ShadowSink} only: it never touches the request's answer. Skipped (and counted) while the
     * shadow already has {@code max.in.flight}-many requests, so a slow shadow never holds memory for more.
     */
    private void shadow(ImagingRequest request, ModelGeneration answering, Prepared prepared, byte[] bytes,
                        long arrivalNanos) {
        ModelGeneration shadow = routing.shadow();
        ShadowSink sink = shadowSink;
        if (shadow == null || shadow == answering || sink == null) {
            return;
        }
        if (shadowOutstanding.get() >= shadowLimit || !shadow.acquire()) {
            metrics.shadowSkipped();
            return;
        }
        shadowOutstanding.incrementAndGet();
        CompletableFuture<MicroBatcher.Result> run;
        ShadowInput in;
        long start = System.nanoTime();
        try {
            in = shadowInput(request, answering, shadow, prepared, bytes);
            run = shadow.influence == null ? shadow.batcher.submit(in.pixels(), in.tabular())
                    : shadow.batcher.submit(in.pixels(), in.tabular(), shadow.influence.variants(in.tabular()));
        } catch (Throwable e) {
            // an Error too (a decode that runs out of memory): the shadow is released below whatever happened
            run = CompletableFuture.failedFuture(e);
            in = null;
        }
        long prepareNanos = System.nanoTime() - start;
        ShadowInput input = in;
        run.whenComplete((result, error) -> {
            shadowOutstanding.decrementAndGet();
            shadow.release();
            try {
                if (error != null) {
                    sink.failed(request, shadow, Failures.unwrap(error));
                } else {
                    sink.predicted(request, new Outcome.Predicted(result.probabilities(), input.flags(),
                            result.stats(), arrivalNanos, prepareNanos, prepared.source(), null,
                            shadow.influence == null ? null
                                    : shadow.influence.influence(result.probabilities(), result.variants()),
                            shadow));
                }
            } catch (RuntimeException e) {
                LOG.warn("the shadow's outcome for a request could not be handed on: {}", e.toString());
            }
        });
    }

    private ShadowInput shadowInput(ImagingRequest request, ModelGeneration answering, ModelGeneration shadow,
                                    Prepared prepared, byte[] bytes) {
        ImageTensor pixels;
        // the decoder recorded aside: both give the same samples (ADR 0015)
        if (shadow.contract().image().withDecoder(null).equals(answering.contract().image().withDecoder(null))) {
            pixels = prepared.pixels();
        } else if (prepared.dicom() != null) {
            Prepared again = prepare(request, encodeFor(shadow, request, false), bytes, request.getImage()
                    .getReference());
            pixels = again.pixels();
        } else {
            pixels = decode(shadow, bytes, request.getImage().getMediaType(),
                    request.getImage().getReference());
        }
        Encoded row = encode(shadow, new RequestSources(request, shadow.readsDicomTags ? prepared.dicom() : null));
        return new ShadowInput(pixels, row.values(), row.flags());
    }

    /**
     * Binds a request to the model that answers it (the primary, or the canary for its share of ids), acquired
     * until its outcome: its features again under that model's contract when another encoded them. A request
     * validated before a swap that the new model rejects (its contract reads the fields otherwise) is answered by
     * the model that accepted it while that one still runs; once it has closed, the rejection is the answer.
     *
     * @throws RequestRejectedException the answering model's rejection, when no other can take the request
     */
    private Validated bind(ImagingRequest request, Validated validated) {
        while (true) {
            ModelGeneration chosen = routing.answering(request.getRequestId());
            Validated bound = validated;
            if (chosen != validated.model()) {
                try {
                    bound = encodeFor(chosen, request, validated.flags().contains(REQUESTED_AT_IMPLAUSIBLE));
                } catch (RequestRejectedException rejected) {
                    if (validated.model() != null && validated.model().acquire()) {
                        return validated;
                    }
                    throw rejected;
                }
            }
            if (chosen.acquire()) {
                return bound;
            }
            // it closed between reading the routing and binding: another model serves now
            if (closed) {
                throw new PipelineClosedException();
            }
        }
    }

    /**
     * Decodes on the preprocessing pool; a decoder bug on odd input is the image's failure, not the worker's. For a
     * fetched image the detail names the reference only: what the decoder saw (its first bytes) is content the
     * worker read on the producer's behalf and is never echoed.
     */
    private static ImageTensor decode(ModelGeneration model, byte[] bytes, String mediaType, ImageReference ref) {
        try {
            // decoded and checked here; its tensor is written when its batch runs, into the model's input buffer
            return model.preprocessor.decode(bytes, mediaType);
        } catch (ImageTooLargeException | UnsupportedMediaTypeException | UnsupportedTransferSyntaxException e) {
            throw e;
        } catch (ImageDecodeException e) {
            if (ref == null) {
                throw e;
            }
            throw new ImageDecodeException("the image at " + ImageFetcher.describe(java.net.URI.create(ref.getUri()))
                    + " is not a decodable " + normalisedMediaType(mediaType));
        } catch (RuntimeException e) {
            throw new ImageDecodeException("the image could not be decoded (" + e.getClass().getSimpleName() + ")");
        }
    }

    /** The image bytes without a copy when Avro's buffer is exactly them (the usual case after decoding). */
    private static byte[] inlineBytes(ByteBuffer data) {
        if (data.hasArray() && data.arrayOffset() == 0 && data.position() == 0
                && data.remaining() == data.array().length) {
            return data.array();
        }
        ByteBuffer copy = data.duplicate();
        byte[] bytes = new byte[copy.remaining()];
        copy.get(bytes);
        return bytes;
    }

    /** The largest batch the batchers form. */
    public int maxBatchSize() {
        return settings.maxBatchSize();
    }

    /** The primary model's batch cap now, in rows: learned when batching is adaptive, else the maximum. */
    public int batchCap() {
        return routing.primary().batcher.batchCap();
    }

    /** Requests submitted and not yet complete. */
    public int outstanding() {
        return outstanding.size();
    }

    /** Nanoseconds since the pipeline last made progress: a model run, or a request failing for its own reason. */
    public long nanosSinceProgress() {
        return System.nanoTime() - lastProgressNanos.get();
    }

    /** How long the model run in progress has taken so far, in ns; 0 when none runs. */
    public long modelRunningForNanos() {
        long longest = 0;
        for (ModelGeneration g : generations) {
            if (!g.isShadow()) {
                longest = Math.max(longest, g.batcher.runningForNanos());
            }
        }
        return longest;
    }

    /** Model runs that failed in a row (0 after any success). */
    public int consecutiveFailedRuns() {
        return consecutiveFailedRuns.get();
    }

    /** Requests this instance has run through a model so far (the shadow's runs included). */
    public long inferred() {
        return inferred.get();
    }

    /** Requests waiting for a batch. */
    public int queuedForBatch() {
        int n = 0;
        for (ModelGeneration g : generations) {
            n += g.batcher.queued();
        }
        return n;
    }

    /** The fetcher's policy (what references are allowed). */
    public ReferencePolicy references() {
        return fetcher.policy();
    }

    /**
     * Stops the pools, then the batcher (returning only when a running batch has finished), then completes every
     * request still inside with {@link PipelineClosedException}: no answer, they stay pending upstream.
     */
    @Override
    public void close() {
        closed = true;
        io.shutdownNow(); // interrupts file reads; HTTP fetches are cancelled with their requests below
        cpu.shutdownNow();
        try {
            cpu.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        synchronized (routingLock) {
            for (ModelGeneration g : generations) {
                g.closeNow();
            }
        }
        for (CompletableFuture<Outcome.Predicted> f : List.copyOf(outstanding)) {
            f.completeExceptionally(new PipelineClosedException());
        }
        timer.shutdownNow();
        retirer.shutdown();
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
