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
import io.medfuse.model.tabular.TabularEncoder;
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

    /** Longest request id, clinical key, string value, sex, media type or source field accepted, in characters. */
    public static final int MAX_ID_LENGTH = 256;
    static final int MAX_CLINICAL_ENTRIES = 64;
    static final int MAX_TEXT_LENGTH = 1024;

    /** Prepared tabular input and its flags, from {@link #validate}. */
    public record Validated(float[] tabular, List<String> flags) {
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
     */
    public record Settings(int preprocessThreads, int maxBatchSize, long maxQueueDelayMs, ImageLimits imageLimits,
                           ReferencePolicy references, Duration requestDeadline, Duration requestedAtMaxSkew,
                           Duration requestedAtMaxAge, int dicomFrame, boolean readsPatientId, boolean influence,
                           boolean influencePerFeature, Double referralThreshold) {

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
                    on && perFeature, referralThreshold);
        }

        /** These settings with a referral threshold (null: the contract's; 0: never refer). */
        public Settings withReferralThreshold(Double threshold) {
            return new Settings(preprocessThreads, maxBatchSize, maxQueueDelayMs, imageLimits, references,
                    requestDeadline, requestedAtMaxSkew, requestedAtMaxAge, dicomFrame, readsPatientId, influence,
                    influencePerFeature, threshold);
        }
    }

    /** The media types {@code image.mediaType} may name (parameters and case aside). */
    static final Set<String> SUPPORTED_MEDIA_TYPES = Set.of("image/png", "image/jpeg", "image/jpg",
            "application/dicom");

    /** Flag on a prediction whose requestedAt is implausible; latency figures leave it out. */
    public static final String REQUESTED_AT_IMPLAUSIBLE = "requestedAt:implausible";

    private final Classifier classifier;
    private final Settings settings;
    private final ImagePreprocessor preprocessor;
    private final TabularEncoder tabularEncoder;
    private final FeatureResolver featureResolver;
    /** Masks the clinical data in a second row per request; null when the influence is off or undefined. */
    private final InfluenceProbe influence;
    private final List<FeatureSpec> numericFeatures;
    /** Whether any feature reads a DICOM tag (else a DICOM image's tags are not read at all). */
    private final boolean readsDicomTags;
    private final ImageFetcher fetcher;
    private final ExecutorService cpu;
    private final ExecutorService io;
    private final ScheduledThreadPoolExecutor timer;
    private final MicroBatcher batcher;
    private final WorkerMetrics metrics;
    private final Set<CompletableFuture<Outcome.Predicted>> outstanding = ConcurrentHashMap.newKeySet();
    private final AtomicLong lastProgressNanos = new AtomicLong(System.nanoTime());
    private final AtomicInteger consecutiveFailedRuns = new AtomicInteger();
    private volatile boolean closed;

    /**
     * The top probability below which a prediction is marked for referral: the configured one, else the contract's
     * calibration's; null when neither sets one (or the configuration says 0): predictions then carry no referral.
     */
    public Double referralThreshold() {
        Double t = settings.referralThreshold();
        if (t == null) {
            var c = classifier.contract().calibration();
            t = c == null ? null : c.referralThreshold();
        }
        return t == null || t <= 0 ? null : t;
    }

    public RequestPipeline(Classifier classifier, Settings settings) {
        this(classifier, settings, WorkerMetrics.NONE);
    }

    /** @param metrics told about every batch here, and about requests and outcomes by the topology */
    public RequestPipeline(Classifier classifier, Settings settings, WorkerMetrics metrics) {
        this.classifier = classifier;
        this.settings = settings;
        this.metrics = metrics;
        ModelContract contract = classifier.contract();
        this.preprocessor = new ImagePreprocessor(contract.image(), settings.imageLimits(), settings.dicomFrame());
        this.tabularEncoder = new TabularEncoder(contract.tabular());
        this.featureResolver = FeatureResolver.of(contract.tabular());
        this.influence = settings.influence() ? InfluenceProbe.of(contract, settings.influencePerFeature()) : null;
        this.numericFeatures = contract.tabular().stream()
                .filter(f -> f.kind() == FeatureSpec.Kind.NUMERIC).toList();
        this.readsDicomTags = contract.tabular().stream()
                .anyMatch(f -> f.sources().stream().anyMatch(src -> src instanceof FeatureSource.Dicom));
        this.cpu = Executors.newFixedThreadPool(settings.preprocessThreads(), daemonThreads("medfuse-preprocess"));
        // I/O waits (file reads, name lookups, HTTP callbacks) never take a decoding thread
        this.io = Executors.newFixedThreadPool(Math.max(4, 2 * settings.preprocessThreads()),
                daemonThreads("medfuse-fetch"));
        this.timer = new ScheduledThreadPoolExecutor(1, daemonThreads("medfuse-deadlines"));
        this.timer.setRemoveOnCancelPolicy(true);
        this.fetcher = new ImageFetcher(settings.references(), settings.imageLimits().maxBytes(), io, timer);
        this.batcher = new MicroBatcher(classifier, settings.maxBatchSize(), settings.maxQueueDelayMs(),
                new MicroBatcher.Listener() {
                    @Override
                    public void batchCompleted(BatchStats stats) {
                        consecutiveFailedRuns.set(0);
                        lastProgressNanos.set(System.nanoTime());
                        metrics.batchCompleted(stats);
                    }

                    @Override
                    public void batchFailed(BatchStats stats, RuntimeException error) {
                        consecutiveFailedRuns.incrementAndGet();
                        lastProgressNanos.set(System.nanoTime());
                        metrics.batchFailed(stats);
                    }
                });
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
        Encoded row = encode(new RequestSources(request, null));
        List<String> flags = row.flags();
        if (implausible(request.getRequestedAt())) {
            flags = new ArrayList<>(flags);
            flags.add(REQUESTED_AT_IMPLAUSIBLE);
            flags = List.copyOf(flags);
        }
        return new Validated(row.values(), flags);
    }

    private record Encoded(float[] values, List<String> flags) {
    }

    /**
     * The request's features through the contract's sources. A value a DICOM tag supplied outside a numeric
     * feature's range is the modality's, not the producer's: it is dropped (imputed or read from the next source)
     * and flagged {@code <feature>:dicom-invalid}, where a request field out of range is INVALID_FIELD.
     */
    private Encoded encode(RequestSources sources) {
        FeatureResolver.Resolution r = featureResolver.resolveWithFlags(sources);
        Map<String, Object> values = r.values();
        List<String> resolutionFlags = r.flags();
        if (sources.dicom != null) {
            values = new java.util.HashMap<>(values);
            List<String> adjusted = new ArrayList<>(resolutionFlags);
            for (FeatureSpec f : numericFeatures) {
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
            row = tabularEncoder.encode(values);
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
    private record Prepared(float[] pixels, float[] tabular, List<String> flags, SourceRef source,
                            PatientIdentifier patient) {

        Prepared(float[] pixels, float[] tabular, List<String> flags, SourceRef source) {
            this(pixels, tabular, flags, source, null);
        }
    }

    /**
     * A DICOM image is parsed once: its pixels, and, when the contract reads DICOM tags, the features again with
     * the tags beside the request's fields; its Study, Series and SOP Instance UIDs fill what the request's
     * {@code source} leaves empty.
     */
    private Prepared prepare(ImagingRequest request, Validated validated, byte[] bytes, ImageReference ref) {
        String mediaType = request.getImage().getMediaType();
        if (!"application/dicom".equals(normalisedMediaType(mediaType)) || !DicomParser.isPart10(bytes)) {
            // not DICOM, or bytes that are not: the preprocessor's checks name what they are
            return new Prepared(decode(bytes, mediaType, ref), validated.tabular(), validated.flags(),
                    request.getSource());
        }
        DicomObject dicom;
        float[] pixels = new float[preprocessor.spec().tensorSize()];
        try {
            if (bytes.length > settings.imageLimits().maxBytes()) {
                return new Prepared(decode(bytes, mediaType, ref), validated.tabular(), validated.flags(),
                        request.getSource());
            }
            dicom = DicomParser.parse(bytes, settings.imageLimits());
            preprocessor.preprocessInto(dicom, pixels, 0);
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
        if (readsDicomTags) {
            Encoded row = encode(new RequestSources(request, dicom.dataset()));
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
        return new Prepared(pixels, tabular, flags, withDicomUids(request.getSource(), dicom.dataset()), patient);
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
        CompletableFuture<Prepared> image = bytes.thenApplyAsync(b -> {
            if (answer.isDone()) {
                throw new java.util.concurrent.CancellationException("answered already (deadline)");
            }
            stage.set("decoding its image");
            long start = System.nanoTime();
            Prepared prepared = prepare(request, validated, b, ref);
            preprocessNanos[0] = System.nanoTime() - start;
            return prepared;
        }, cpu);
        AtomicReference<Prepared> prepared = new AtomicReference<>();
        AtomicReference<CompletableFuture<MicroBatcher.Result>> queued = new AtomicReference<>();
        image.thenCompose(p -> {
            prepared.set(p);
            if (answer.isDone()) {
                return CompletableFuture.<MicroBatcher.Result>failedFuture(
                        new java.util.concurrent.CancellationException("answered already (deadline)"));
            }
            stage.set("waiting for its batch or in the model");
            CompletableFuture<MicroBatcher.Result> f = influence == null ? batcher.submit(p.pixels(), p.tabular())
                    : batcher.submit(p.pixels(), p.tabular(), influence.variants(p.tabular()));
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
                        influence == null ? null : influence.influence(result.probabilities(), result.variants())));
            }
        });
        answer.whenComplete((p, error) -> {
            outstanding.remove(answer);
            deadline.cancel(false);
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
     * Decodes on the preprocessing pool; a decoder bug on odd input is the image's failure, not the worker's. For a
     * fetched image the detail names the reference only: what the decoder saw (its first bytes) is content the
     * worker read on the producer's behalf and is never echoed.
     */
    private float[] decode(byte[] bytes, String mediaType, ImageReference ref) {
        try {
            return preprocessor.preprocess(bytes, mediaType);
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
        return batcher.runningForNanos();
    }

    /** Model runs that failed in a row (0 after any success). */
    public int consecutiveFailedRuns() {
        return consecutiveFailedRuns.get();
    }

    /** Requests this instance has run through the model so far. */
    public long inferred() {
        return batcher.requestCount();
    }

    /** Requests waiting for a batch. */
    public int queuedForBatch() {
        return batcher.queued();
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
        batcher.close();
        for (CompletableFuture<Outcome.Predicted> f : List.copyOf(outstanding)) {
            f.completeExceptionally(new PipelineClosedException());
        }
        timer.shutdownNow();
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
