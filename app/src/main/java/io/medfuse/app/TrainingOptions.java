package io.medfuse.app;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import io.medfuse.model.contract.FeatureSource;
import io.medfuse.model.onnx.BackboneGraph;
import io.medfuse.trainer.HyperParameters;
import io.medfuse.trainer.InputMode;
import io.medfuse.trainer.TrainingRun;
import io.medfuse.trainer.data.Dataset;
import io.medfuse.trainer.data.DatasetOptions;
import picocli.CommandLine.Option;

/** The options 'train' and 'compare' share: the data, its columns, the architecture and hyper-parameters. */
final class TrainingOptions {

    @Option(names = "--images", required = true, paramLabel = "DIR", description = "Folder with the image files.")
    Path images;

    @Option(names = "--metadata", required = true, paramLabel = "FILE.csv",
            description = "CSV with a header row: one row per image.")
    Path metadata;

    @Option(names = "--label", defaultValue = "label", paramLabel = "COLUMN",
            description = "Column with the class label (default: ${DEFAULT-VALUE}).")
    String label;

    @Option(names = "--labels", split = ",", paramLabel = "L1,L2,...",
            description = "Allowed labels in output order; any other label is an error. Default: the sorted "
                    + "labels found.")
    List<String> labels;

    @Option(names = "--numeric", split = ",", paramLabel = "COL,...",
            description = "Numeric feature columns (empty cell = missing, imputed with the training mean). 'age' "
                    + "must be 0..120.")
    List<String> numeric = new ArrayList<>();

    @Option(names = "--categorical", split = ",", paramLabel = "COL,...",
            description = "Categorical feature columns (one-hot over the values seen in training, plus unknown).")
    List<String> categorical = new ArrayList<>();

    @Option(names = "--source", paramLabel = "COLUMN=SOURCE",
            description = "Which request field a feature column stands for, when its name does not say: SOURCE is "
                    + "patient.ageYears, patient.sex or clinical.<key> (e.g. --source age_years=patient.ageYears "
                    + "--source gender=patient.sex). The contract records it, and the worker reads the feature from "
                    + "there. Unmapped columns: 'age' is patient.ageYears, 'sex' is patient.sex, any other column "
                    + "C is clinical.C. Repeatable.")
    java.util.Map<String, String> sources = new java.util.LinkedHashMap<>();

    @Option(names = "--group", paramLabel = "COLUMN",
            description = "Column grouping rows that must stay on one side of the split (lesion or patient id). "
                    + "Default: every row is its own group.")
    String group;

    @Option(names = "--image-column", defaultValue = "image", paramLabel = "COLUMN",
            description = "Column with the image file name (default: ${DEFAULT-VALUE}); a name without extension "
                    + "is tried with .png, .jpg, .jpeg.")
    String imageColumn;

    @Option(names = "--architecture", defaultValue = "small", paramLabel = "NAME",
            description = "Network: small (a compact CNN trained from scratch; default), mobilenetv2 (the bundled "
                    + "ImageNet MobileNetV2, Apache-2.0, as a frozen feature extractor with a trained fusion head; "
                    + "224x224 ImageNet preprocessing; the file is still one graph) or seed (the classic 512x512 "
                    + "network: 4 convolutions, dense 2048-1024-512; slow on a CPU, and every image is held in memory "
                    + "at full size).")
    String architecture;

    @Option(names = "--epochs", defaultValue = "30", paramLabel = "N", description = "Maximum epochs (default: ${DEFAULT-VALUE}).")
    int epochs;

    @Option(names = "--batch-size", defaultValue = "32", paramLabel = "N", description = "Images per step (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--lr", defaultValue = "0.003", paramLabel = "RATE",
            description = "Adam's learning rate, cosine-decayed to 5%% (default: ${DEFAULT-VALUE}).")
    double learningRate;

    @Option(names = "--seed", defaultValue = "42", paramLabel = "N",
            description = "Seed of the split, initialisation, shuffling, augmentation (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--image-size", paramLabel = "PX",
            description = "Images are resized to PX x PX (default: 64 for small, 512 for seed (>= 232); mobilenetv2 "
                    + "takes 224 only).")
    Integer imageSize;

    @Option(names = "--validation-fraction", defaultValue = "0.2", paramLabel = "F",
            description = "Share of rows (by group) held out for validation (default: ${DEFAULT-VALUE}).")
    double validationFraction;

    @Option(names = "--patience", defaultValue = "6", paramLabel = "N",
            description = "Stop after this many epochs without a better validation balanced accuracy "
                    + "(default: ${DEFAULT-VALUE}).")
    int patience;

    @Option(names = "--stopping-fraction", defaultValue = "0.15", paramLabel = "F",
            description = "Share of the training rows (by group) held out to choose the epoch (early stopping) "
                    + "and to fit the calibration, so the validation score is of rows nothing was chosen on "
                    + "(default: ${DEFAULT-VALUE}; 0: choose on the validation rows, whose score is then "
                    + "optimistic).")
    double stoppingFraction;

    @Option(names = "--no-refit",
            description = "Keep the network whose epoch the held-out training rows chose. By default it is trained "
                    + "again on every training row (the held-out ones too) for that many epochs and the last epoch "
                    + "is kept (+0.8 to +1.5 points of balanced accuracy on HAM10000, docs/model-results.md).")
    boolean noRefit;

    @Option(names = "--no-augment", description = "Train without random flips and shifts.")
    boolean noAugment;

    @Option(names = "--pooling", defaultValue = "avg", paramLabel = "avg|avg-max",
            description = "mobilenetv2: how the backbone's last feature map (1280 x 7 x 7) becomes the head's input: "
                    + "its mean (avg, 1280 features; default) or its mean and its maximum (avg-max, 2560).")
    String pooling;

    @Option(names = "--views", defaultValue = "1", paramLabel = "1|4|8",
            description = "mobilenetv2: average the features of each image over this many views, in training and "
                    + "in the exported model, which runs the backbone once per view (so 4 or 8 times the serving "
                    + "compute): 1 the image (default), 4 with its three flips (left-right, up-down, both), 8 with "
                    + "those transposed too.")
    int views;

    @Option(names = "--multi-scale",
            description = "mobilenetv2: the head also reads the means of five earlier block outputs (320, 160, "
                    + "96, 64 and 32 channels): textures the last map has pooled away.")
    boolean multiScale;

    @Option(names = "--fusion", defaultValue = "concat", paramLabel = "concat|metablock",
            description = "mobilenetv2: how the fused head joins image features and clinical data: concat (one "
                    + "layer reads both; default) or metablock (the clinical row gates each image feature, "
                    + "sigmoid(tanh(f * a(t)) + b(t)), Pacheco & Krohling 2021). The image-only and tabular-only "
                    + "networks are the same either way.")
    String fusion;

    @Option(names = "--standardize-features",
            description = "mobilenetv2: standardise each backbone feature with the training rows' mean and "
                    + "standard deviation before the head (the exported model does the same).")
    boolean standardizeFeatures;

    @Option(names = "--feature-cache", paramLabel = "DIR",
            description = "mobilenetv2: keep each image's backbone features here, keyed by the image's bytes and "
                    + "everything else that decides them, so the next train/compare on the same images skips "
                    + "their extraction (default: $MEDFUSE_CACHE_DIR/features, else "
                    + "$XDG_CACHE_HOME/medfuse/features, else ~/.cache/medfuse/features).")
    Path featureCache;

    @Option(names = "--no-feature-cache", description = "mobilenetv2: extract every image's features again; keep none.")
    boolean noFeatureCache;

    @Option(names = "--allow-exclusions",
            description = "Leave bad rows out (counted by reason) instead of stopping at the first one.")
    boolean allowExclusions;


    /**
     * @param inputs the --inputs value
     * @throws UserInputException naming the bad option
     */
    HyperParameters hyperParameters(String inputs) {
        try {
            String arch = architecture.trim().toLowerCase(Locale.ROOT);
            BackboneGraph.Pooling p = switch (pooling.trim().toLowerCase(Locale.ROOT)) {
                case "avg" -> BackboneGraph.Pooling.AVG;
                case "avg-max" -> BackboneGraph.Pooling.AVG_MAX;
                default -> throw new IllegalArgumentException("--pooling must be avg or avg-max, got '" + pooling
                        + "'");
            };
            if (!HyperParameters.frozenBackbone(arch) && (p != BackboneGraph.Pooling.AVG || views != 1
                    || multiScale)) {
                throw new IllegalArgumentException("--pooling, --views and --multi-scale are for --architecture "
                        + "mobilenetv2 "
                        + "(a frozen backbone's features), not " + arch);
            }
            return new HyperParameters(arch, InputMode.parse(inputs), epochs, batchSize, learningRate, seed,
                    validationFraction, patience, !noAugment,
                    imageSize != null ? imageSize : HyperParameters.defaultImageSize(arch), p, views, multiScale,
                    fusion.trim().toLowerCase(Locale.ROOT), stoppingFraction, !noRefit && stoppingFraction > 0, standardizeFeatures);
        } catch (IllegalArgumentException e) {
            throw new UserInputException(e.getMessage(), e);
        }
    }

    /**
     * {@code --source COLUMN=SOURCE} values, parsed.
     *
     * @throws UserInputException naming the bad value
     */
    static java.util.Map<String, FeatureSource> parseSources(java.util.Map<String, String> given) {
        java.util.Map<String, FeatureSource> out = new java.util.LinkedHashMap<>();
        given.forEach((column, source) -> {
            try {
                out.put(column, FeatureSource.parse(source));
            } catch (IllegalArgumentException e) {
                throw new UserInputException("--source " + column + "=" + source + ": " + e.getMessage(), e);
            }
        });
        return out;
    }

    /** Where the feature cache lives, or null with --no-feature-cache. */
    Path featureCacheRoot() {
        if (noFeatureCache) {
            return null;
        }
        if (featureCache != null) {
            return featureCache;
        }
        String own = System.getenv("MEDFUSE_CACHE_DIR");
        if (own != null && !own.isBlank()) {
            return Path.of(own).resolve("features");
        }
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("medfuse").resolve("features");
    }

    /** Reads the dataset for {@code hp} (a frozen backbone's features are extracted here), saying so on stderr. */
    Dataset read(HyperParameters hp, String command) {
        if (!Files.isRegularFile(metadata)) {
            throw new UserInputException("--metadata " + metadata + ": no such file");
        }
        if (!Files.isDirectory(images)) {
            throw new UserInputException("--images " + images + ": no such folder");
        }
        DatasetOptions options;
        try {
            options = DatasetOptions.forColumns(imageColumn, label, numeric, categorical, parseSources(sources),
                    group, labels, allowExclusions);
        } catch (IllegalArgumentException e) {
            throw new UserInputException(e.getMessage(), e);
        }
        long t0 = System.nanoTime();
        System.err.println("medfuse " + command + ": reading " + metadata + " and images in " + images
                + (HyperParameters.frozenBackbone(hp.architecture()) ? " (extracting " + hp.architecture()
                + " features once per image)" : "") + " ...");
        Dataset dataset = TrainingRun.read(images, metadata, options, hp,
                line -> System.err.println("medfuse " + command + ": " + line), featureCacheRoot());
        System.err.printf(Locale.ROOT, "medfuse %s: %d rows, labels %s%s (%.0f s)%n", command,
                dataset.samples().size(), dataset.labels(),
                dataset.excludedCount() > 0 ? ", excluded " + dataset.excluded() : "", (System.nanoTime() - t0) / 1e9);
        return dataset;
    }
}
