package io.medfuse.trainer;

import io.medfuse.model.contract.ClassLabel;
import io.medfuse.model.contract.FeatureSpec;
import io.medfuse.model.contract.ImageSpec;
import io.medfuse.model.contract.ModelContract;
import io.medfuse.model.engine.EngineOptions;
import io.medfuse.model.engine.OnnxClassifier;
import io.medfuse.model.image.ImageLimits;
import io.medfuse.model.image.ImagePreprocessor;
import io.medfuse.model.onnx.BackboneGraph;
import io.medfuse.model.onnx.FusedCnnFactory;
import io.medfuse.model.onnx.OnnxModelFile;
import io.medfuse.model.tabular.TabularEncoder;
import io.medfuse.trainer.data.Dataset;
import io.medfuse.trainer.data.DatasetException;
import io.medfuse.trainer.data.DatasetOptions;
import io.medfuse.trainer.data.DatasetReader;
import io.medfuse.trainer.data.FeatureCache;
import io.medfuse.trainer.data.FeatureFitter;
import io.medfuse.trainer.data.GroupedSplit;
import io.medfuse.trainer.data.Sample;
import io.medfuse.trainer.eval.TemperatureScaling;
import io.medfuse.trainer.net.NetworkTrainer;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * One training run from a dataset to an ONNX file the worker serves unchanged: grouped split → features fitted on
 * the training split → tabular rows encoded by the serving {@link TabularEncoder} (images were preprocessed by the
 * serving {@link ImagePreprocessor} when the dataset was read) → DJL training → export through
 * {@code FusedCnnFactory} with a contract carrying provenance → a parity check: ONNX Runtime on the exported bytes
 * must agree with DJL on every validation row within {@link #PARITY_TOLERANCE}, or the run fails rather than ship a
 * model that is not what was trained.
 */
public final class TrainingRun {

    /** Largest allowed |DJL probability − ONNX Runtime probability| on the validation rows. */
    public static final double PARITY_TOLERANCE = 1e-4;
    /** Fewer validation rows than this give no calibration (a temperature fitted on a handful means nothing). */
    public static final int MIN_CALIBRATION_ROWS = 20;
    /** Per-channel normalisation of every image (the images are read before any split, so it is fixed). */
    public static final List<Double> IMAGE_MEAN = List.of(0.5, 0.5, 0.5);
    public static final List<Double> IMAGE_STD = List.of(0.25, 0.25, 0.25);

    private TrainingRun() {
    }

    /**
     * What a run produced.
     *
     * @param onnx the exported file's bytes (contract included)
     * @param contract the contract in it
     * @param split which rows trained and which validated
     * @param training the DJL side: history, best epoch, DJL's validation probabilities
     * @param validation metrics of the kept weights on the validation rows
     * @param parityMaxDelta max |DJL − ONNX Runtime| probability over the validation rows
     * @param seconds wall time of the whole run
     * @param validationLabels the validation rows' class indices, in the order of DJL's probabilities
     */
    public record Outcome(byte[] onnx, ModelContract contract, GroupedSplit split, NetworkTrainer.Result training,
                          Map<String, Object> validation, double parityMaxDelta, double seconds,
                          int[] validationLabels) {
    }

    /** The image spec for square images of {@code size} pixels, RGB, stretched, NCHW. */
    public static ImageSpec imageSpec(int size) {
        return new ImageSpec(size, size, 3, "NCHW", ImageSpec.ResizeMode.STRETCH, IMAGE_MEAN, IMAGE_STD);
    }

    /** The image spec an architecture trains with: {@link #imageSpec(int)}, or ImageNet's for a frozen backbone. */
    public static ImageSpec imageSpec(HyperParameters hp) {
        return HyperParameters.frozenBackbone(hp.architecture()) ? Backbone.IMAGE_SPEC : imageSpec(hp.imageSize());
    }

    /**
     * Reads a dataset for {@code hp}'s architecture: the serving preprocessing of {@link #imageSpec(HyperParameters)};
     * for a frozen backbone each image's pooled features are extracted (once, in ONNX Runtime) and kept instead of
     * its pixels, so every later run (seeds, ablations) reuses them.
     *
     * @throws DatasetException naming file, line and column
     */
    public static Dataset read(Path images, Path csv, DatasetOptions options, HyperParameters hp) {
        return read(images, csv, options, hp, line -> { });
    }

    /** As {@link #read(Path, Path, DatasetOptions, HyperParameters)}, reporting progress lines to {@code progress}. */
    public static Dataset read(Path images, Path csv, DatasetOptions options, HyperParameters hp,
                               java.util.function.Consumer<String> progress) {
        return read(images, csv, options, hp, progress, null);
    }

    /**
     * As above, keeping a frozen backbone's features in a {@link FeatureCache} under {@code featureCache} (null: no
     * cache), so the next read of the same images skips their decoding and extraction. Every row keeps
     * {@link Backbone#STORED} (the head takes the columns {@code hp} asks for), averaged over {@code hp.views()}
     * views of the image.
     */
    public static Dataset read(Path images, Path csv, DatasetOptions options, HyperParameters hp,
                               java.util.function.Consumer<String> progress, Path featureCache) {
        if (!HyperParameters.frozenBackbone(hp.architecture())) {
            return new DatasetReader(new ImagePreprocessor(imageSpec(hp.imageSize()), ImageLimits.defaults()))
                    .reportingTo(progress).read(images, csv, options);
        }
        int views = hp.views();
        int width = Backbone.STORED.width(Backbone.FEATURES);
        FeatureCache cache = featureCache == null ? null
                : FeatureCache.open(featureCache, featureRecipe(views), width, progress);
        ImageSpec spec = Backbone.IMAGE_SPEC;
        try (LazyExtractor fx = new LazyExtractor()) {
            java.util.function.UnaryOperator<float[]> extract = pixels -> {
                if (views == 1) {
                    return fx.get().extract(pixels, 1)[0];
                }
                float[] batch = new float[views * pixels.length];
                for (int v = 0; v < views; v++) {
                    System.arraycopy(BackboneGraph.flipView(pixels, spec.channels(), spec.height(), spec.width(), v),
                            0, batch, v * pixels.length, pixels.length);
                }
                float[][] each = fx.get().extract(batch, views);
                float[] mean = new float[width];
                for (float[] f : each) {
                    for (int i = 0; i < width; i++) {
                        mean[i] += f[i];
                    }
                }
                for (int i = 0; i < width; i++) {
                    mean[i] /= views;
                }
                return mean;
            };
            Dataset d = new DatasetReader(new ImagePreprocessor(spec, ImageLimits.defaults()), extract)
                    .reportingTo(progress).cachingIn(cache).read(images, csv, options)
                    .withFeatures(featureRecipe(views));
            if (cache != null) {
                progress.accept("feature cache " + cache.folder() + ": " + cache.hits() + " image(s) from the cache, "
                        + cache.misses() + " extracted");
            }
            return d;
        }
    }

    /**
     * Everything but the image that decides a frozen backbone's features: the backbone's bytes, the cut, the
     * pooling, the views, the preprocessing and decoder, and the ONNX Runtime that ran it (its int8 kernels may change
     * between releases). A {@link FeatureCache} keys its folder by this.
     */
    static String featureRecipe(int views) {
        return "backbone sha256 " + Backbone.SHA256 + "; feature map " + Backbone.FEATURE_MAP
                + "; pooled mean, means of " + Backbone.EXTRA_MAPS + ", maximum; views "
                + (views == 1 ? "image" : views + " (BackboneGraph.flipView 0.." + (views - 1) + "), mean") + "; image " + Backbone.IMAGE_SPEC
                + "; decoder " + io.medfuse.model.image.ImageDecoder.configured().contractId() + "; preprocessing "
                + ModelContract.PREPROCESSING_VERSION + "; onnxruntime "
                + io.medfuse.model.engine.FeatureExtractor.runtimeVersion();
    }

    /** The backbone's extractor, loaded on first use (a read served wholly from the cache never loads it). */
    private static final class LazyExtractor implements AutoCloseable {
        private io.medfuse.model.engine.FeatureExtractor fx;

        synchronized io.medfuse.model.engine.FeatureExtractor get() {
            if (fx == null) {
                fx = Backbone.extractor(1, Backbone.STORED);
            }
            return fx;
        }

        @Override
        public synchronized void close() {
            if (fx != null) {
                fx.close();
            }
        }
    }

    /**
     * Reads a dataset with the serving preprocessing for {@code imageSize}.
     *
     * @throws DatasetException naming file, line and column
     */
    public static Dataset read(Path images, Path csv, DatasetOptions options, int imageSize) {
        return new DatasetReader(new ImagePreprocessor(imageSpec(imageSize), ImageLimits.defaults()))
                .read(images, csv, options);
    }

    /**
     * @param name model name for the contract
     * @param version model version for the contract
     * @throws DatasetException when the data cannot train a model
     * @throws TrainerException when training, export or the parity check fails
     */
    public static Outcome train(Dataset dataset, HyperParameters hp, String name, String version,
                                Consumer<EpochStats> progress, StopSignal stop) {
        return train(dataset, hp, null, name, version, progress, stop);
    }

    /**
     * As {@link #train(Dataset, HyperParameters, String, String, Consumer, StopSignal)} on a given split (null: the
     * grouped split of {@code hp}'s validation fraction and seed), so ablations and folds share their rows.
     */
    public static Outcome train(Dataset dataset, HyperParameters hp, GroupedSplit givenSplit, String name,
                                String version, Consumer<EpochStats> progress, StopSignal stop) {
        long t0 = System.nanoTime();
        boolean frozen = HyperParameters.frozenBackbone(hp.architecture());
        if (!dataset.image().equals(imageSpec(hp))) {
            throw new TrainerException("the dataset was read for images " + dataset.image() + " but training wants "
                    + imageSpec(hp));
        }
        if (frozen && !featureRecipe(hp.views()).equals(dataset.features())) {
            throw new TrainerException("the dataset holds " + (dataset.features() == null ? "pixels"
                    : "features made by [" + dataset.features() + "]") + " but training wants features made by ["
                    + featureRecipe(hp.views()) + "]; read it with the same hyper-parameters");
        }
        if (dataset.labels().size() < 2) {
            throw new DatasetException(DatasetException.Reason.UNUSABLE, dataset.csv(), 0,
                    dataset.options().labelColumn(), "only one class (" + dataset.labels() + "); need at least two");
        }
        GroupedSplit split = givenSplit != null ? givenSplit
                : GroupedSplit.of(dataset, hp.validationFraction(), hp.seed());
        List<Sample> trainRows = GroupedSplit.pick(dataset, split.train());
        List<Sample> valRows = GroupedSplit.pick(dataset, split.validation());
        // early stopping (and the calibration) on rows held out of training, never on the rows that report
        List<Sample> stopRows = List.of();
        if (hp.stoppingFraction() > 0) {
            Dataset inner = new Dataset(dataset.csv(), dataset.images(), dataset.options(), dataset.labels(),
                    trainRows, Map.of(), List.of(), dataset.fingerprint(), dataset.image(), dataset.features());
            GroupedSplit stopSplit = GroupedSplit.of(inner, hp.stoppingFraction(), hp.seed() + 7919);
            stopRows = GroupedSplit.pick(inner, stopSplit.validation());
            trainRows = GroupedSplit.pick(inner, stopSplit.train());
        }
        List<FeatureSpec> features = FeatureFitter.fit(dataset, trainRows);
        List<ClassLabel> labels = FeatureFitter.labels(dataset, trainRows);
        TabularEncoder encoder = new TabularEncoder(features);
        // a frozen backbone's rows hold Backbone.STORED; the head reads its columns of them
        int[] columns = frozen ? Backbone.columns(hp.layout()) : null;
        TensorSet train = tensors(dataset, trainRows, encoder, columns);
        TensorSet val = tensors(dataset, valRows, encoder, columns);
        ImageSpec img = dataset.image();
        long[] shape = frozen ? new long[] {train.imageSize()}
                : new long[] {img.channels(), img.height(), img.width()};
        String description = "medfuse " + hp.architecture() + " (" + hp.inputs().cli() + ") trained on "
                + dataset.csv().getFileName();
        // Load ONNX Runtime now, with the untrained architecture: a broken runtime fails before training, not after
        // it; and ONNX Runtime registers a JVM shutdown hook when it first starts, which is refused once Ctrl-C has
        // begun shutting down, so the final parity check could not run after a stop.
        checkServable(new ModelContract(ModelContract.CURRENT_VERSION, name, version, description, "image", "tabular",
                "probabilities", ModelContract.OutputKind.PROBABILITIES, img, features, labels,
                // trained=true only so the loader does not warn about random weights: this file is never written
                ModelContract.PREPROCESSING_VERSION, true, Map.of()), hp);

        TensorSet stopping = stopRows.isEmpty() ? null : tensors(dataset, stopRows, encoder, columns);
        Map<String, float[]> standardization = Map.of();
        if (frozen && hp.standardize()) {
            standardization = standardize(train, stopping, val);
        }
        NetworkTrainer.Result result = stopping == null
                ? NetworkTrainer.train(train, val, shape, labels.size(), hp, progress, stop)
                : NetworkTrainer.train(train, stopping, val, shape, labels.size(), hp, progress, stop);
        float[][] heldOut = result.stoppingProbabilities();
        int chosenEpoch = result.bestEpoch();
        int epochsRun = result.history().size();
        String stoppedBy = result.stoppedBy();
        if (stopping != null && hp.refit() && !stop.isStopped()) {
            // the epoch count was chosen on the held-out rows; now every training row trains, the last epoch is kept
            // (the validation rows' figures per epoch are shown only: nothing is chosen on them)
            TensorSet all = concat(train, stopping);
            NetworkTrainer.Result first = result;
            result = NetworkTrainer.train(all, val, null, shape, labels.size(),
                    hp.withEpochs(Math.max(1, first.bestEpoch())), progress, stop, true);
            heldOut = first.stoppingProbabilities();
        }

        float[][] djl = result.validationProbabilities();
        Map<String, Object> metrics = new LinkedHashMap<>();
        metrics.put("validationAccuracy", round(Metrics.accuracy(djl, val.labels())));
        metrics.put("validationBalancedAccuracy", round(Metrics.balancedAccuracy(djl, val.labels(), labels.size())));
        // the choice of epoch (with a refit: of the first network; the refit then runs exactly that many)
        metrics.put("bestEpoch", chosenEpoch);
        metrics.put("epochsRun", epochsRun);
        metrics.put("stoppedBy", stoppedBy);
        metrics.put("refit", stopping != null && hp.refit());
        metrics.put("earlyStoppingRows", stopping == null ? "the validation rows (their score is optimistic)"
                : stopRows.size() + " training rows held out (grouped); the validation rows chose nothing"
                + (hp.refit() ? "; epoch " + chosenEpoch + " chosen there, then every training row trained for "
                + chosenEpoch + " epochs" : ""));

        Map<String, Object> provenance = new LinkedHashMap<>(hp.toMap());
        provenance.put("trainer", "medfuse-trainer (DJL " + ai.djl.engine.Engine.getDjlVersion() + ", PyTorch)");
        provenance.put("datasetFingerprint", "sha256:" + dataset.fingerprint());
        provenance.put("dataset", Map.of("csv", dataset.csv().getFileName().toString(),
                "rows", dataset.samples().size(), "excludedRows", dataset.excludedCount()));
        provenance.put("split", Map.of("method", "grouped by " + (dataset.options().groupColumn() == null ? "row"
                        : dataset.options().groupColumn()) + ", stratified by label", "seed", split.seed(),
                "trainRows", trainRows.size(), "earlyStoppingRows", stopRows.size(),
                "validationRows", split.validation().size()));
        provenance.put("metrics", metrics);
        // the decoder this process read the images with (every preprocessor here uses the configured one)
        ImageSpec trainedImage = img.withDecoder(io.medfuse.model.image.ImageDecoder.configured().contractId());
        ModelContract contract = new ModelContract(ModelContract.CURRENT_VERSION, name, version, description,
                "image", "tabular", "probabilities", ModelContract.OutputKind.PROBABILITIES, trainedImage, features,
                labels,
                ModelContract.PREPROCESSING_VERSION, true, provenance).validate();

        byte[] onnx;
        double delta;
        if (frozen) {
            Map<String, float[]> weights = new LinkedHashMap<>(result.weights());
            weights.putAll(standardization);
            onnx = OnnxExport.mobilenet(contract, hp, weights);
            delta = parityOnImages(onnx, dataset, valRows, val, djl);
        } else if ("seed".equals(hp.architecture())) {
            onnx = OnnxExport.seed(contract, hp.inputs(), result.weights());
            delta = parity(onnx, val, djl);
        } else {
            onnx = OnnxExport.small(contract, hp.inputs(), result.weights());
            delta = parity(onnx, val, djl);
        }
        if (!(delta <= PARITY_TOLERANCE)) {
            throw new TrainerException("the exported ONNX model disagrees with the trained DJL network: max |delta "
                    + "probability| " + delta + " on the validation rows (tolerance " + PARITY_TOLERANCE + "); this "
                    + "is a bug in the export, please report it");
        }
        // temperature scaling on the validation rows (ONNX Runtime's probabilities are DJL's, within the parity)
        if (val.size() >= MIN_CALIBRATION_ROWS) {
            boolean onHeldOut = stopping != null && stopping.size() >= MIN_CALIBRATION_ROWS;
            metrics.put("calibratedOn", onHeldOut ? stopping.size() + " held-out training rows"
                    : val.size() + " validation rows");
            contract = contract.withCalibration(onHeldOut
                    ? TemperatureScaling.fit(heldOut, stopping.labels(), labels.size(), null)
                    : TemperatureScaling.fit(djl, val.labels(), labels.size(), null))
                    .validate();
            onnx = OnnxModelFile.attachContract(onnx, contract);
        }
        return new Outcome(onnx, contract, split, result, metrics, delta, (System.nanoTime() - t0) / 1e9,
                val.labels());
    }

    private static void checkServable(ModelContract untrained, HyperParameters hp) {
        byte[] model = HyperParameters.frozenBackbone(hp.architecture())
                ? OnnxExport.mobilenet(untrained, hp.withInputs(InputMode.FUSED), Map.of())
                : "seed".equals(hp.architecture()) ? FusedCnnFactory.seed(untrained, hp.seed())
                : FusedCnnFactory.small(untrained, hp.seed());
        try (OnnxClassifier ort = OnnxClassifier.load(model, "untrained check",
                new EngineOptions("cpu", 1, 1, "all", List.of(1)))) {
            ort.predict(new float[untrained.image().tensorSize()], new float[untrained.tabularWidth()], 1);
        }
    }

    /** Two sets' rows one after the other. */
    static TensorSet concat(TensorSet a, TensorSet b) {
        float[] images = java.util.Arrays.copyOf(a.images(), a.images().length + b.images().length);
        System.arraycopy(b.images(), 0, images, a.images().length, b.images().length);
        float[] tabular = java.util.Arrays.copyOf(a.tabular(), a.tabular().length + b.tabular().length);
        System.arraycopy(b.tabular(), 0, tabular, a.tabular().length, b.tabular().length);
        int[] labels = java.util.Arrays.copyOf(a.labels(), a.labels().length + b.labels().length);
        System.arraycopy(b.labels(), 0, labels, a.labels().length, b.labels().length);
        return new TensorSet(images, tabular, labels, a.imageSize(), a.width());
    }

    /**
     * Standardises the feature columns of every set in place with {@code train}'s mean and standard deviation per
     * column (a column without spread is only centred) and returns the same as the exported graph's
     * {@code features.scale} (1/sd) and {@code features.shift} (−mean/sd).
     */
    static Map<String, float[]> standardize(TensorSet train, TensorSet... others) {
        int w = train.imageSize();
        int n = train.size();
        double[] mean = new double[w];
        double[] sq = new double[w];
        float[] x = train.images();
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < w; k++) {
                double v = x[i * w + k];
                mean[k] += v;
                sq[k] += v * v;
            }
        }
        float[] scale = new float[w];
        float[] shift = new float[w];
        for (int k = 0; k < w; k++) {
            double m = mean[k] / Math.max(1, n);
            double var = Math.max(0, sq[k] / Math.max(1, n) - m * m);
            double sd = Math.sqrt(var);
            double inv = sd > 1e-6 ? 1 / sd : 1;
            scale[k] = (float) inv;
            shift[k] = (float) (-m * inv);
        }
        java.util.List<TensorSet> all = new java.util.ArrayList<>(List.of(train));
        for (TensorSet t : others) {
            if (t != null) {
                all.add(t);
            }
        }
        for (TensorSet t : all) {
            float[] y = t.images();
            for (int i = 0; i < t.size(); i++) {
                for (int k = 0; k < w; k++) {
                    // as the graph computes it: x * scale + shift, in float
                    y[i * w + k] = y[i * w + k] * scale[k] + shift[k];
                }
            }
        }
        return Map.of("features.scale", scale, "features.shift", shift);
    }

    /** Max |DJL − ONNX Runtime| over every validation probability. */
    static double parity(byte[] onnx, TensorSet val, float[][] djl) {
        if (val.size() == 0) {
            return 0;
        }
        EngineOptions cpu = new EngineOptions("cpu", 1, 1, "all", List.of(1, 8, 32));
        try (OnnxClassifier ort = OnnxClassifier.load(onnx, "exported model", cpu)) {
            float[][] p = ort.predict(val.images(), val.tabular(), val.size());
            double max = 0;
            for (int i = 0; i < p.length; i++) {
                for (int c = 0; c < p[i].length; c++) {
                    max = Math.max(max, Math.abs(p[i][c] - djl[i][c]));
                }
            }
            return max;
        }
    }

    /** Validation rows compared on the raw images for a frozen backbone (each costs a full backbone pass). */
    static final int PARITY_ROWS = 64;

    /**
     * Parity for a frozen backbone: DJL saw cached features, so ONNX Runtime gets the validation images themselves
     * (read and preprocessed again) through the whole composed graph; the first {@link #PARITY_ROWS} rows.
     */
    static double parityOnImages(byte[] onnx, Dataset dataset, List<Sample> valRows, TensorSet val, float[][] djl) {
        int n = Math.min(PARITY_ROWS, valRows.size());
        if (n == 0) {
            return 0;
        }
        DatasetReader reader = new DatasetReader(new ImagePreprocessor(dataset.image(), ImageLimits.defaults()));
        int size = dataset.image().tensorSize();
        float[] images = new float[n * size];
        for (int i = 0; i < n; i++) {
            System.arraycopy(reader.preprocessed(dataset, valRows.get(i)), 0, images, i * size, size);
        }
        float[] tabular = java.util.Arrays.copyOf(val.tabular(), n * val.width());
        EngineOptions cpu = new EngineOptions("cpu", 1, 1, "all", List.of(1, 8, 32));
        try (OnnxClassifier ort = OnnxClassifier.load(onnx, "exported model", cpu)) {
            float[][] p = ort.predict(images, tabular, n);
            double max = 0;
            for (int i = 0; i < n; i++) {
                for (int c = 0; c < p[i].length; c++) {
                    max = Math.max(max, Math.abs(p[i][c] - djl[i][c]));
                }
            }
            return max;
        }
    }

    /**
     * Rows as tensors: each row's preprocessed image, or the {@code columns} of a frozen backbone's features (null:
     * all of the row), tabular rows from the serving encoder.
     */
    static TensorSet tensors(Dataset dataset, List<Sample> rows, TabularEncoder encoder, int[] columns) {
        int imageSize = columns != null ? columns.length : dataset.samples().get(0).pixels().length;
        int width = encoder.width();
        float[] images = new float[rows.size() * imageSize];
        float[] tabular = new float[rows.size() * width];
        int[] labels = new int[rows.size()];
        for (int i = 0; i < rows.size(); i++) {
            Sample s = rows.get(i);
            if (columns == null) {
                System.arraycopy(s.pixels(), 0, images, i * imageSize, imageSize);
            } else {
                float[] from = s.pixels();
                for (int k = 0; k < imageSize; k++) {
                    images[i * imageSize + k] = from[columns[k]];
                }
            }
            encoder.encodeInto(s.features(), tabular, i * width);
            labels[i] = dataset.labelIndex(s.label());
        }
        return new TensorSet(images, tabular, labels, imageSize, width);
    }

    private static double round(double v) {
        return Math.round(v * 1e4) / 1e4;
    }
}
