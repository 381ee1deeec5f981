package io.medfuse.trainer;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Everything that decides a training run, seed included; written into the model's provenance.
 *
 * @param architecture {@code small} (trained from scratch) or {@code mobilenetv2} (a head on the frozen bundled
 *                     backbone's features; images must be 224) or {@code seed} (the classic 512x512 network,
 *                     from scratch; images at least 232)
 * @param inputs which inputs the network sees
 * @param epochs maximum epochs, ≥ 1
 * @param batchSize images per optimizer step, ≥ 1
 * @param learningRate Adam's initial learning rate, decayed by a cosine schedule to 5 % over the run
 * @param seed seeds the split, weight initialisation, shuffling and augmentation
 * @param validationFraction share of rows (by group) held out for validation, in (0,1)
 * @param patience stop after this many epochs without a better validation balanced accuracy, ≥ 1
 * @param augment random flips, shifts of ±{@link #MAX_SHIFT} px, rotations of ±{@link #MAX_ROTATION_DEGREES}° and
 *                colour jitter ({@link #COLOUR_JITTER}) on training images
 * @param imageSize the square image side the images are resized to
 * @param pooling a frozen backbone's feature map pooled by its mean, or by its mean and its maximum (ignored by the
 *                other architectures)
 * @param views a frozen backbone's features averaged over this many views of each image, in training and in the
 *              exported graph (a backbone pass each): 1 the image alone, 4 with its three flips, 8 with the flips
 *              transposed too (the symmetries of a square)
 * @param multiScale a frozen backbone's features include the means of five earlier block outputs (672 channels
 *                   more: textures the last map has pooled away)
 * @param fusion how a frozen backbone's head joins the inputs: {@code concat} (features ⊕ tabular → fc1) or
 *               {@code metablock} (the tabular row gates the image features, Pacheco &amp; Krohling 2021, then fc1);
 *               only the fused network differs, the ablations read one input either way
 * @param stoppingFraction share of the training rows (by group) held out to choose the epoch (early stopping) and
 *                         fit the calibration, so the validation rows report a score nothing was chosen on; 0: both
 *                         are chosen on the validation rows themselves (optimistic, as before)
 * @param refit after choosing the epoch on the held-out training rows, train again on all training rows (those
 *              included) for that many epochs and keep the last epoch's weights (needs a stopping fraction &gt; 0)
 * @param standardize a frozen backbone's features are standardised with the training rows' mean and standard
 *                    deviation per feature (in training, and as a Mul/Add in the exported graph)
 */
public record HyperParameters(String architecture, InputMode inputs, int epochs, int batchSize, double learningRate,
                              long seed, double validationFraction, int patience, boolean augment, int imageSize,
                              io.medfuse.model.onnx.BackboneGraph.Pooling pooling, int views, boolean multiScale,
                              String fusion, double stoppingFraction, boolean refit, boolean standardize) {

    /** The share of training rows early stopping uses by default. */
    public static final double DEFAULT_STOPPING_FRACTION = 0.15;

    /** The fusions {@code --fusion} accepts. */
    public static final java.util.List<String> FUSIONS = java.util.List.of("concat", "metablock");

    /**
     * Mean pooling, the image alone, concatenation, early stopping on the validation rows (what every model before
     * these options was; {@code medfuse train} and {@code compare} default to {@link #DEFAULT_STOPPING_FRACTION}).
     */
    public HyperParameters(String architecture, InputMode inputs, int epochs, int batchSize, double learningRate,
                           long seed, double validationFraction, int patience, boolean augment, int imageSize) {
        this(architecture, inputs, epochs, batchSize, learningRate, seed, validationFraction, patience, augment,
                imageSize, io.medfuse.model.onnx.BackboneGraph.Pooling.AVG, 1, false, "concat", 0, false, false);
    }

    /** The architectures {@code --architecture} accepts. */
    public static final java.util.List<String> ARCHITECTURES = java.util.List.of("small", "mobilenetv2", "seed");

    /** Whether the architecture trains a head on a frozen pretrained backbone's cached features. */
    public static boolean frozenBackbone(String architecture) {
        return "mobilenetv2".equals(architecture);
    }

    /** The image side an architecture takes when the user does not say: small 64, mobilenetv2 224. */
    public static int defaultImageSize(String architecture) {
        return frozenBackbone(architecture) ? Backbone.IMAGE_SPEC.width() : "seed".equals(architecture) ? 512 : 64;
    }

    /** Smallest image side the seed network takes. */
    public static final int SEED_MIN_SIZE = 232;

    /** Largest augmentation shift in pixels. */
    public static final int MAX_SHIFT = 4;
    /** Largest augmentation rotation, degrees either way. */
    public static final double MAX_ROTATION_DEGREES = 10;
    /** Colour jitter: per-channel contrast factor 1 ± this and brightness shift ± this, in normalised units. */
    public static final float COLOUR_JITTER = 0.1f;

    /**
     * @throws IllegalArgumentException naming the bad value
     */
    public HyperParameters {
        if (!ARCHITECTURES.contains(architecture)) {
            throw new IllegalArgumentException("--architecture must be one of " + ARCHITECTURES + ", got '"
                    + architecture + "'");
        }
        if (inputs == null) {
            throw new IllegalArgumentException("inputs is missing");
        }
        if (pooling == null) {
            throw new IllegalArgumentException("pooling is missing");
        }
        if (views != 1 && views != io.medfuse.model.onnx.BackboneGraph.FLIP_VIEWS
                && views != io.medfuse.model.onnx.BackboneGraph.DIHEDRAL_VIEWS) {
            throw new IllegalArgumentException("--views must be 1, 4 or 8, got " + views);
        }
        if (!(stoppingFraction >= 0 && stoppingFraction < 1)) {
            throw new IllegalArgumentException("--stopping-fraction must be in [0,1), got " + stoppingFraction);
        }
        if (refit && !(stoppingFraction > 0)) {
            throw new IllegalArgumentException("--refit needs --stopping-fraction > 0 (the epoch is chosen on the "
                    + "held-out training rows, then every training row trains)");
        }
        if (!FUSIONS.contains(fusion)) {
            throw new IllegalArgumentException("--fusion must be one of " + FUSIONS + ", got '" + fusion + "'");
        }
        if (!"concat".equals(fusion) && !frozenBackbone(architecture)) {
            throw new IllegalArgumentException("--fusion " + fusion + " is for --architecture mobilenetv2 (a head on "
                    + "a frozen backbone's features), not " + architecture);
        }
        if (epochs < 1 || batchSize < 1 || patience < 1) {
            throw new IllegalArgumentException("epochs, batch size and patience must be >= 1, got " + epochs + ", "
                    + batchSize + ", " + patience);
        }
        if (!(learningRate > 0) || !Double.isFinite(learningRate)) {
            throw new IllegalArgumentException("--lr must be a number > 0, got " + learningRate);
        }
        if (!(validationFraction > 0 && validationFraction < 1)) {
            throw new IllegalArgumentException("validation fraction must be in (0,1), got " + validationFraction);
        }
        if (imageSize < 8 || imageSize > 1024) {
            throw new IllegalArgumentException("--image-size must be in 8..1024, got " + imageSize);
        }
        if ("seed".equals(architecture) && imageSize < SEED_MIN_SIZE) {
            throw new IllegalArgumentException("--architecture seed needs --image-size >= " + SEED_MIN_SIZE
                    + " (four strided convolutions and two poolings without padding; it was designed for 512), got "
                    + imageSize);
        }
        if (frozenBackbone(architecture) && imageSize != Backbone.IMAGE_SPEC.width()) {
            throw new IllegalArgumentException("--architecture " + architecture + " takes "
                    + Backbone.IMAGE_SPEC.width() + "x" + Backbone.IMAGE_SPEC.height() + " images (ImageNet), got "
                    + "--image-size " + imageSize);
        }
    }

    /** The defaults of {@code medfuse train}. */
    public static HyperParameters defaults() {
        return new HyperParameters("small", InputMode.FUSED, 30, 32, 3e-3, 42, 0.2, 6, true, 64);
    }

    public HyperParameters withInputs(InputMode m) {
        return new HyperParameters(architecture, m, epochs, batchSize, learningRate, seed, validationFraction,
                patience, augment, imageSize, pooling, views, multiScale, fusion, stoppingFraction, refit, standardize);
    }

    public HyperParameters withSeed(long s) {
        return new HyperParameters(architecture, inputs, epochs, batchSize, learningRate, s, validationFraction,
                patience, augment, imageSize, pooling, views, multiScale, fusion, stoppingFraction, refit, standardize);
    }

    public HyperParameters withEpochs(int e) {
        return new HyperParameters(architecture, inputs, e, batchSize, learningRate, seed, validationFraction,
                patience, augment, imageSize, pooling, views, multiScale, fusion, stoppingFraction, refit, standardize);
    }

    public HyperParameters withFeatures(io.medfuse.model.onnx.BackboneGraph.Pooling p, int v, boolean multi) {
        return new HyperParameters(architecture, inputs, epochs, batchSize, learningRate, seed, validationFraction,
                patience, augment, imageSize, p, v, multi, fusion, stoppingFraction, refit, standardize);
    }

    public HyperParameters withFusion(String f) {
        return new HyperParameters(architecture, inputs, epochs, batchSize, learningRate, seed, validationFraction,
                patience, augment, imageSize, pooling, views, multiScale, f, stoppingFraction, refit, standardize);
    }

    /** Whether the fused network is a MetaBlock head (the ablations never are). */
    public boolean metaBlock() {
        return "metablock".equals(fusion) && inputs == InputMode.FUSED;
    }

    public HyperParameters withStoppingFraction(double f) {
        return new HyperParameters(architecture, inputs, epochs, batchSize, learningRate, seed, validationFraction,
                patience, augment, imageSize, pooling, views, multiScale, fusion, f, refit, standardize);
    }

    public HyperParameters withRefit(boolean r) {
        return new HyperParameters(architecture, inputs, epochs, batchSize, learningRate, seed, validationFraction,
                patience, augment, imageSize, pooling, views, multiScale, fusion, stoppingFraction, r, standardize);
    }

    public HyperParameters withStandardize(boolean s) {
        return new HyperParameters(architecture, inputs, epochs, batchSize, learningRate, seed, validationFraction,
                patience, augment, imageSize, pooling, views, multiScale, fusion, stoppingFraction, refit, s);
    }

    /** How the exported graph makes the head's features. */
    public io.medfuse.model.onnx.BackboneGraph.Layout layout() {
        return (multiScale ? new io.medfuse.model.onnx.BackboneGraph.Layout(pooling, views, Backbone.EXTRA_MAPS,
                Backbone.EXTRA_WIDTH) : io.medfuse.model.onnx.BackboneGraph.Layout.of(pooling, views))
                .withAffine(standardize);
    }

    /** Width of the pooled backbone features the head reads. */
    public int featureWidth() {
        return layout().width(Backbone.FEATURES);
    }

    /** As provenance: plain JSON values. */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("architecture", architecture);
        m.put("inputs", inputs.cli());
        m.put("epochs", epochs);
        m.put("batchSize", batchSize);
        m.put("learningRate", learningRate);
        m.put("schedule", "cosine to 5%");
        m.put("optimizer", "adam");
        m.put("seed", seed);
        m.put("validationFraction", validationFraction);
        m.put("patience", patience);
        m.put("earlyStopping", stoppingFraction > 0 ? "on " + stoppingFraction + " of the training rows (grouped), "
                + "not on the validation rows" + (refit ? "; then trained again on every training row for the "
                + "chosen number of epochs" : "") : "on the validation rows (their score is optimistic)");
        m.put("augment", augment && !frozenBackbone(architecture) ? "flips, shift +-" + MAX_SHIFT + " px, rotation +-"
                + MAX_ROTATION_DEGREES + " deg, colour jitter " + COLOUR_JITTER : "none");
        if (frozenBackbone(architecture)) {
            Map<String, Object> b = new LinkedHashMap<>();
            b.put("file", Backbone.RESOURCE);
            b.put("sha256", Backbone.SHA256);
            b.put("featureMap", Backbone.FEATURE_MAP);
            b.put("pooling", pooling == io.medfuse.model.onnx.BackboneGraph.Pooling.AVG ? "avg" : "avg+max");
            if (multiScale) {
                b.put("extraMaps", Backbone.EXTRA_MAPS);
            }
            b.put("pooledFeatures", featureWidth());
            b.put("standardized", standardize ? "per feature, training rows' mean and sd" : "no");
            b.put("views", views == 1 ? "image" : views + " (the image and its "
                    + (views == 4 ? "flips" : "flips and transposes") + "), features averaged");
            b.put("frozen", true);
            m.put("backbone", b);
            m.put("fusion", fusion);
            m.put("head", (metaBlock() ? "metablock (tabular gates the features: sigmoid(tanh(f * bn(W1 t)) + "
                    + "bn(W2 t))), " : "") + "dropout " + io.medfuse.trainer.net.HeadNet.DROPOUT + ", fc "
                    + io.medfuse.trainer.net.HeadNet.HIDDEN + " relu, logits");
        }
        m.put("imageSize", imageSize);
        m.put("classWeights", "balanced");
        return m;
    }
}
