package io.medfuse.worker.pipeline;

import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicInteger;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.medfuse.events.ModelIdentity;
import io.medfuse.model.contract.FeatureSource;
import io.medfuse.model.contract.FeatureSpec;
import io.medfuse.model.contract.ModelContract;
import io.medfuse.model.image.ImagePreprocessor;
import io.medfuse.model.tabular.FeatureResolver;
import io.medfuse.model.tabular.TabularEncoder;
import io.medfuse.worker.batch.MicroBatcher;

/**
 * One loaded model and everything made from its contract: its preprocessor, its feature resolver and encoder, its
 * influence probe, its referral threshold and its own {@link MicroBatcher}. A request is bound to one generation
 * when it enters the pipeline and is answered by it, so a model swapped in while requests are in flight never sees
 * them half prepared by another contract, and every prediction names the model that produced it.
 *
 * <p>Lifecycle: serving, then {@linkplain #retire() retired} when another model takes its place, then closed (its
 * batcher stopped, its session freed when it is {@linkplain #owned owned}) once the last request bound to it has
 * its outcome. {@link #acquire} fails after that, and the caller binds the request to the model serving now.
 */
public final class ModelGeneration {

    private static final Logger LOG = LoggerFactory.getLogger(ModelGeneration.class);

    private final Classifier classifier;
    private final boolean owned;
    private final boolean shadow;
    final ImagePreprocessor preprocessor;
    final TabularEncoder tabularEncoder;
    final FeatureResolver featureResolver;
    /** Masks the clinical data in a second row per request; null when the influence is off or undefined. */
    final InfluenceProbe influence;
    final List<FeatureSpec> numericFeatures;
    /** Whether any feature reads a DICOM tag (else a DICOM image's tags are not read at all). */
    final boolean readsDicomTags;
    final MicroBatcher batcher;
    private final Double referralThreshold;
    private final Executor closer;
    /** Requests bound to this generation and not complete; -1 once closed. */
    private final AtomicInteger users = new AtomicInteger();
    private volatile boolean retired;

    /** @param sweep with adaptive batching, sweep the batch sizes now (the first model; not one swapped in) */
    ModelGeneration(Classifier classifier, boolean owned, boolean shadow, RequestPipeline.Settings settings,
                    MicroBatcher.Listener listener, Executor closer, boolean sweep) {
        this.classifier = classifier;
        this.owned = owned;
        this.shadow = shadow;
        this.closer = closer;
        ModelContract contract = classifier.contract();
        this.preprocessor = new ImagePreprocessor(contract.image(), settings.imageLimits(), settings.dicomFrame());
        String trainedWith = contract.image().decoder() == null ? "imageio" : contract.image().decoder();
        // describe() loads the native decoder now, not on the first request
        LOG.info("model {} {}: images decoded by {} (trained with {}; both give the same samples, ADR 0015)",
                contract.name(), contract.version(), preprocessor.decoder().describe(), trainedWith);
        this.tabularEncoder = new TabularEncoder(contract.tabular());
        this.featureResolver = FeatureResolver.of(contract.tabular());
        this.influence = settings.influence() ? InfluenceProbe.of(contract, settings.influencePerFeature()) : null;
        this.numericFeatures = contract.tabular().stream()
                .filter(f -> f.kind() == FeatureSpec.Kind.NUMERIC).toList();
        this.readsDicomTags = contract.tabular().stream()
                .anyMatch(f -> f.sources().stream().anyMatch(src -> src instanceof FeatureSource.Dicom));
        Double t = settings.referralThreshold();
        if (t == null) {
            var c = contract.calibration();
            t = c == null ? null : c.referralThreshold();
        }
        this.referralThreshold = t == null || t <= 0 ? null : t;
        this.batcher = new MicroBatcher(classifier, settings.maxBatchSize(), settings.maxQueueDelayMs(), listener,
                settings.adaptiveBatching(), sweep, settings.concurrentRuns());
        logInputBuffers(classifier, settings);
    }

    /**
     * Says how much direct memory the model's input buffers may take, and warns where that is more than the JVM
     * allows: then a batch that finds no buffer fails (its requests get dead letters) under load, not at start.
     */
    private void logInputBuffers(Classifier classifier, RequestPipeline.Settings settings) {
        int rowsPerRequest = 1 + (influence == null ? 0 : influence.variantCount());
        long bound = MicroBatcher.inputBufferBound(classifier, settings.maxBatchSize(), rowsPerRequest,
                settings.adaptiveBatching(), settings.concurrentRuns());
        if (bound <= 0) {
            return;
        }
        long limit = DirectMemory.limitBytes();
        ModelContract c = classifier.contract();
        if (limit > 0 && bound > limit) {
            LOG.warn("model {} {}: its input buffers may take {} MiB of direct memory ({} rows per request, "
                    + "batch.max.size {}, batch.concurrent.runs {}), more than the JVM allows ({} MiB): batches that "
                    + "find no memory fail. Lower batch.max.size, batch.padded.sizes or batch.concurrent.runs, or "
                    + "raise -XX:MaxDirectMemorySize", c.name(), c.version(), mib(bound), rowsPerRequest,
                    settings.maxBatchSize(), settings.concurrentRuns(), mib(limit));
        } else {
            LOG.info("model {} {}: input buffers up to {} MiB of direct memory (the JVM allows {})", c.name(),
                    c.version(), mib(bound), limit > 0 ? mib(limit) + " MiB" : "an unknown amount");
        }
    }

    private static long mib(long bytes) {
        return (bytes + (1 << 20) - 1) >> 20;
    }

    /** Name, version, sha256 and execution provider, as every prediction it answers names them. */
    public ModelIdentity identity() {
        return classifier.identity();
    }

    public ModelContract contract() {
        return classifier.contract();
    }

    /** The labels in the order of its probabilities. */
    public List<String> labelNames() {
        return classifier.contract().labelNames();
    }

    /**
     * The top probability below which its predictions are marked for referral: the configured one, else its
     * contract's calibration's; null when neither sets one (or the configuration says 0).
     */
    public Double referralThreshold() {
        return referralThreshold;
    }

    /** Binds one more request to this generation; false when it is closed (bind the request elsewhere). */
    boolean acquire() {
        while (true) {
            int n = users.get();
            if (n < 0) {
                return false;
            }
            if (users.compareAndSet(n, n + 1)) {
                return true;
            }
        }
    }

    /** A request bound here has its outcome; the last one of a retired generation closes it. */
    void release() {
        if (users.decrementAndGet() == 0 && retired) {
            closeWhenIdle();
        }
    }

    /** Another model serves in its place: it closes as soon as the requests bound to it have their outcomes. */
    void retire() {
        retired = true;
        if (users.get() == 0) {
            closeWhenIdle();
        }
    }

    /** Whether it was installed as a shadow (its runs never answer a request). */
    boolean isShadow() {
        return shadow;
    }

    boolean isRetired() {
        return retired;
    }

    /** Whether it is closed (no request can be bound to it any more). */
    public boolean isClosed() {
        return users.get() < 0;
    }

    private void closeWhenIdle() {
        if (users.compareAndSet(0, -1)) {
            // not on the thread that completed the last request: that may be the batcher's own
            closer.execute(this::closeNow);
        }
    }

    /** Stops the batcher (after the batch it runs, if any) and frees an owned session. */
    void closeNow() {
        users.set(-1);
        batcher.close();
        if (owned) {
            try {
                classifier.close();
            } catch (RuntimeException e) {
                LOG.warn("closing model {} {} failed: {}", identity().getName(), identity().getVersion(),
                        e.toString());
            }
        }
        LOG.info("model {} {} (sha256 {}) is closed", identity().getName(), identity().getVersion(),
                identity().getSha256());
    }

    @Override
    public String toString() {
        return identity().getName() + " " + identity().getVersion();
    }
}
