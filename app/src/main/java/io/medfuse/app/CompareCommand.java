package io.medfuse.app;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import io.medfuse.trainer.Comparison;
import io.medfuse.trainer.HyperParameters;
import io.medfuse.trainer.StopSignal;
import io.medfuse.trainer.TrainerException;
import io.medfuse.trainer.data.Dataset;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code medfuse compare}: fused vs image-only vs tabular-only on the same splits — does the clinical data help? */
@Command(name = "compare", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
            "Trains the fused network and its two ablations (image only, tabular only) on the same grouped split, "
                    + "repeated over --seeds (a new split and initialisation per seed) or --folds (grouped, "
                    + "stratified K-fold), and prints balanced accuracy, macro one-vs-rest ROC AUC and expected "
                    + "calibration error side by side as mean ± sd, with the paired difference fused - image and "
                    + "fused - tabular. Writes DIR/compare.json. Images and features are read once for all runs.",
            "With --models A.onnx,B.onnx[,...] nothing is trained: the saved models are scored on --images and "
                    + "--metadata (an external test set) as 'evaluate' scores them, each into DIR/<model file "
                    + "name>/ (metrics.json, predictions.csv, report.html), and each model after the first is "
                    + "compared with the first on the same images: balanced accuracy and macro AUC differences with "
                    + "95 %% paired bootstrap intervals (--resamples, over images), and McNemar's exact test.",
            "",
            "Example:",
            "  medfuse compare --images imgs --metadata meta.csv --label dx --numeric age \\",
            "      --categorical sex,localization --group lesion_id --seeds 3 --out cmp/",
            ""
        })
final class CompareCommand implements Callable<Integer> {

    @Mixin
    TrainingOptions training;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Folder for compare.json.")
    Path out;

    @Option(names = "--seeds", defaultValue = "3", paramLabel = "N",
            description = "Repeats with seeds --seed, --seed+1, ... (default: ${DEFAULT-VALUE}).")
    int seeds;

    @Option(names = "--folds", defaultValue = "0", paramLabel = "K",
            description = "Grouped K-fold cross-validation instead of seeds (K >= 2; every row validates once).")
    int folds;

    @Option(names = "--quiet-epochs", description = "Do not print a line per epoch.")
    boolean quietEpochs;

    @Option(names = "--models", split = ",", paramLabel = "A.onnx,B.onnx",
            description = "Score these saved models on the test set instead of training (see above).")
    java.util.List<Path> models;

    @Option(names = "--resamples", defaultValue = "1000", paramLabel = "N",
            description = "Bootstrap resamples for the paired intervals with --models (default: ${DEFAULT-VALUE}).")
    int resamples;

    @Override
    public Integer call() {
        if (models != null) {
            return scoreSaved();
        }
        if (folds == 1 || folds < 0 || (folds == 0 && seeds < 1)) {
            throw new UserInputException("--folds must be >= 2 (or 0 for seeds) and --seeds >= 1, got --folds "
                    + folds + " --seeds " + seeds);
        }
        HyperParameters hp = training.hyperParameters("fused");
        long t0 = System.nanoTime();
        Dataset dataset = training.read(hp, "compare");
        StopSignal stop = new StopSignal();
        TrainCommand.stopOnSignals(stop);
        Comparison.Result result = Comparison.run(dataset, hp, seeds, folds, System.err::println,
                s -> {
                    if (!quietEpochs) {
                        System.err.println("  " + s.line());
                    }
                }, stop);
        double seconds = (System.nanoTime() - t0) / 1e9;
        result.json().put("wallSeconds", Math.round(seconds));
        try {
            Files.createDirectories(out);
            new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                    .writeValue(out.resolve("compare.json").toFile(), result.json());
        } catch (IOException e) {
            throw new TrainerException("cannot write " + out.resolve("compare.json") + ": " + e.getMessage(), e);
        }
        System.out.print(result.table());
        System.out.printf(Locale.ROOT, "wrote %s (%d networks, %.0f s)%n", out.resolve("compare.json"),
                result.runs().size(), seconds);
        return 0;
    }

    /** --models: each saved model scored on the test set, then paired against the first. */
    private int scoreSaved() {
        if (models.size() < 2) {
            throw new UserInputException("--models needs at least two models to compare, got " + models.size());
        }
        if (resamples < 100) {
            throw new UserInputException("--resamples must be >= 100, got " + resamples);
        }
        if (!training.numeric.isEmpty() || !training.categorical.isEmpty()) {
            throw new UserInputException("--numeric and --categorical train a model; with --models each model's "
                    + "contract names its features (map a column to a source with --source COLUMN=SOURCE)");
        }
        java.util.Set<String> names = new java.util.HashSet<>();
        for (Path m : models) {
            if (!Files.isRegularFile(m)) {
                throw new UserInputException("--models " + m + ": no such file");
            }
            if (!names.add(stem(m))) {
                throw new UserInputException("--models: two files named " + m.getFileName() + "; their reports "
                        + "would share DIR/" + stem(m));
            }
        }
        java.util.Map<io.medfuse.model.contract.FeatureSource, String> columns = new java.util.LinkedHashMap<>();
        TrainingOptions.parseSources(training.sources).forEach((column, source) -> columns.put(source, column));
        io.medfuse.model.engine.EngineOptions cpu = io.medfuse.model.engine.EngineOptions.defaults()
                .withDevice("cpu");
        java.util.List<io.medfuse.trainer.eval.Evaluation.Result> results = new java.util.ArrayList<>();
        for (Path m : models) {
            System.err.println("scoring " + m + " on " + training.metadata + " ...");
            io.medfuse.trainer.eval.Evaluation.Result r = io.medfuse.trainer.eval.Evaluation.run(m,
                    new io.medfuse.trainer.eval.Evaluation.Options(training.images, training.metadata,
                            training.label, training.imageColumn, "sex", "age", training.allowExclusions, columns),
                    cpu, line -> System.err.println("medfuse compare: " + line));
            io.medfuse.trainer.eval.EvaluationReport.write(out.resolve(stem(m)), r, null);
            results.add(r);
        }
        io.medfuse.trainer.eval.Evaluation.Result first = results.get(0);
        java.util.Map<String, Object> json = new java.util.LinkedHashMap<>();
        json.put("testSet", training.metadata.toString());
        java.util.List<Object> scored = new java.util.ArrayList<>();
        java.util.List<Object> paired = new java.util.ArrayList<>();
        System.out.printf(Locale.ROOT, "%-28s %6s  %8s  %8s  %6s%n", "model", "n", "bal.acc", "macroAUC", "ECE");
        for (int i = 0; i < results.size(); i++) {
            io.medfuse.trainer.eval.Evaluation.Result r = results.get(i);
            System.out.printf(Locale.ROOT, "%-28s %6d  %8.3f  %8.3f  %6.3f%n", stem(models.get(i)), r.overall().n(),
                    r.overall().balancedAccuracy(), r.overall().macroAuc(), r.overall().ece());
            scored.add(java.util.Map.of("model", models.get(i).toString(), "sha256", r.sha256(),
                    "overall", r.json().get("overall")));
        }
        for (int i = 1; i < results.size(); i++) {
            io.medfuse.trainer.eval.PairedComparison c = pair(first, results.get(i));
            java.util.Map<String, Object> row = new java.util.LinkedHashMap<>();
            row.put("a", models.get(0).toString());
            row.put("b", models.get(i).toString());
            row.putAll(c.toMap());
            paired.add(row);
            System.out.printf(Locale.ROOT, "%s - %s on the same %d images: balanced accuracy %+.3f [%+.3f, %+.3f], "
                    + "macro AUC %+.3f [%+.3f, %+.3f] (95 %% paired bootstrap, %d resamples); right only by %s: %d, "
                    + "only by %s: %d, McNemar p = %.3g%n", stem(models.get(i)), stem(models.get(0)), c.n(),
                    c.baDiff(), c.baDiffLow(), c.baDiffHigh(), c.aucDiff(), c.aucDiffLow(), c.aucDiffHigh(),
                    c.resamples(), stem(models.get(i)), c.onlyB(), stem(models.get(0)), c.onlyA(), c.mcNemarP());
        }
        json.put("models", scored);
        json.put("paired", paired);
        try {
            Files.createDirectories(out);
            new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                    .writeValue(out.resolve("compare.json").toFile(), json);
        } catch (IOException e) {
            throw new TrainerException("cannot write " + out.resolve("compare.json") + ": " + e.getMessage(), e);
        }
        System.out.println("wrote " + out.resolve("compare.json"));
        return 0;
    }

    /** A and B on the rows both scored (by CSV line), with the same labels in the same order. */
    private io.medfuse.trainer.eval.PairedComparison pair(io.medfuse.trainer.eval.Evaluation.Result a,
                                                         io.medfuse.trainer.eval.Evaluation.Result b) {
        if (!a.labels().equals(b.labels())) {
            throw new UserInputException("the models' labels differ (" + a.labels() + " vs " + b.labels()
                    + "): their probabilities cannot be compared class by class");
        }
        java.util.Map<Integer, Integer> rowOfLine = new java.util.HashMap<>();
        for (int i = 0; i < b.lines().size(); i++) {
            rowOfLine.put(b.lines().get(i), i);
        }
        java.util.List<float[]> pa = new java.util.ArrayList<>();
        java.util.List<float[]> pb = new java.util.ArrayList<>();
        java.util.List<Integer> truth = new java.util.ArrayList<>();
        for (int i = 0; i < a.lines().size(); i++) {
            Integer j = rowOfLine.get(a.lines().get(i));
            if (j != null) {
                pa.add(a.probabilities()[i]);
                pb.add(b.probabilities()[j]);
                truth.add(a.truth()[i]);
            }
        }
        if (truth.isEmpty()) {
            throw new UserInputException("the two models scored no row in common");
        }
        return io.medfuse.trainer.eval.PairedComparison.of(pa.toArray(float[][]::new), pb.toArray(float[][]::new),
                truth.stream().mapToInt(Integer::intValue).toArray(), a.labels().size(), resamples, 42);
    }

    private static String stem(Path model) {
        String name = model.getFileName().toString();
        return name.endsWith(".onnx") ? name.substring(0, name.length() - 5) : name;
    }
}
